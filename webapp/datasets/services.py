"""Writes of the datasets app: create a dataset row, import it, delete it.

An import runs in three passes so that a 100K-annotation file is never held whole in memory and
nothing is half imported:

1. stream the annotations once (validating every record) and collect the image names they use;
2. check every image (exists, decodes as JPEG/PNG, size agrees with the annotation) and copy it
   into media storage, reporting progress on the dataset row;
3. in one transaction, stream the annotations again and write Image and Person rows in batches.

Any failure marks the dataset failed with the message (what and where), removes the files it
stored and leaves no rows behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from webapp.core import taskstate
from webapp.core.media import dataset_folder, delete_folder
from webapp.core.taskstate import TaskStatus
from webapp.datasets.models import Dataset, Image, Person
from webapp.datasets.sources import (
    DatasetImportError,
    ImageFacts,
    SourceRequest,
    check_source,
    inspect_image,
    source_root,
    store_source,
)

BATCH = 2000

Progress = Callable[[str, int, int], None]


@transaction.atomic
def dataset_create(
    *,
    name: str,
    source_format: str,
    source_kind: str,
    source_location: str,
    annotation_path: str,
    images_path: str = "",
    split: str = "",
    licence: str = "",
    outside_policy: str = Dataset.OutsidePolicy.KEEP,
    split_preset: str = Dataset.SplitPreset.FILE,
    split_seed: int = 0,
    split_test_fraction: float = 0.2,
    enqueue: bool = True,
) -> Dataset:
    """A new dataset row for a stored source; its import task is enqueued once this transaction
    commits. Pages, the API and the command go through ``dataset_import_request``."""
    if source_kind in (Dataset.Source.S3, Dataset.Source.SERVER):
        request = (
            SourceRequest(s3_prefix=source_location)
            if source_kind == Dataset.Source.S3
            else SourceRequest(server_folder=source_location)
        )
        try:
            check_source(request)
        except DatasetImportError as exc:
            raise ValidationError({"source_location": str(exc)}) from exc
    _check_inside_source(annotation_path=annotation_path, images_path=images_path)
    dataset = Dataset(
        name=name,
        source_format=source_format,
        source_kind=source_kind,
        source_location=source_location,
        annotation_path=annotation_path,
        images_path=images_path,
        split=split,
        licence=licence,
        outside_policy=outside_policy,
        split_preset=split_preset,
        split_seed=split_seed,
        split_test_fraction=split_test_fraction,
    )
    if split_preset == Dataset.SplitPreset.RANDOM and not 0.0 < split_test_fraction < 1.0:
        raise ValidationError({"split_test_fraction": "must be between 0 and 1 (exclusive)"})
    if split_preset == Dataset.SplitPreset.OCHUMAN and split not in ("val", "test"):
        raise ValidationError({"split": "the OCHuman preset needs split 'val' (becomes train) or 'test'"})
    if enqueue:
        dataset.status = TaskStatus.QUEUED
    dataset.full_clean()
    dataset.save()
    if enqueue:
        dataset_imports_enqueue([dataset.pk])
    return dataset


def _check_inside_source(**paths: str) -> None:
    for field, value in paths.items():
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValidationError({field: "must be a path inside the source (relative, no '..')"})


#: The request field that names each kind of source (errors are reported on it).
SOURCE_FIELD: dict[str, str] = {
    Dataset.Source.UPLOAD: "archive",
    Dataset.Source.SERVER: "server_folder",
    Dataset.Source.S3: "s3_prefix",
}


def dataset_import_request(*, source: SourceRequest, enqueue: bool = True, **fields: Any) -> Dataset:
    """Take an import request (the one path for the page, the API and the command): the source is
    checked, an upload stored, the dataset row made and its import enqueued on commit. A refused
    request keeps nothing: a stored upload is removed. ``fields`` are dataset_create's."""
    annotation_path, images_path = str(fields.get("annotation_path", "")), str(fields.get("images_path", ""))
    _check_inside_source(annotation_path=annotation_path, images_path=images_path)
    try:
        check_source(source, annotation_path, images_path)
    except DatasetImportError as exc:
        raise ValidationError({SOURCE_FIELD.get(source.kind, "source"): str(exc)}) from exc
    location = store_source(source)
    try:
        return dataset_create(source_kind=source.kind, source_location=location, enqueue=enqueue, **fields)
    except BaseException:
        if source.archive:
            default_storage.delete(location)
        raise


def dataset_imports_enqueue(ids: list[int]) -> None:
    """Send the import tasks of these datasets once the current transaction commits."""
    from tasks.datasets import dataset_import_task

    transaction.on_commit(lambda: [dataset_import_task.delay(pk) for pk in ids])


def _discard_stored(dataset: Dataset) -> None:
    """Remove what an earlier, lost attempt of this import stored (its rows were never written)."""
    delete_folder(dataset_folder(dataset.pk))


def _people(dataset: Dataset, root: Path, stats: Any, check_format: bool = True) -> Iterator[Any]:
    from fitting.datasets import read_people

    annotation = root / dataset.annotation_path
    return read_people(dataset.source_format, annotation, stats, check_format)


def _outside(labels: list[list[float]], width: int, height: int) -> list[int]:
    return [j for j, (x, y, v) in enumerate(labels) if v > 0 and not (0 <= x < width and 0 <= y < height)]


def dataset_import(*, dataset_id: int, progress: Progress | None = None, worker: str = "") -> Dataset:
    """Import a pending or queued dataset (claimed by compare-and-set: running it twice imports
    once). Progress is a heartbeat: the sweeper queues again an import whose worker went silent."""
    claimed = taskstate.claim(Dataset, dataset_id, worker, stage="reading annotations")
    dataset = Dataset.objects.get(pk=dataset_id)
    if not claimed:
        return dataset
    _discard_stored(dataset)
    stored: list[str] = []
    settings.DATASET_WORK_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"dataset-{dataset.pk}-", dir=settings.DATASET_WORK_DIR))

    def report(stage: str, done: int, total: int) -> None:
        taskstate.heartbeat(Dataset, dataset.pk, stage=stage, progress_done=done, progress_total=total)
        if progress:
            progress(stage, done, total)

    finished = False
    try:
        _import(dataset, work, stored, report)
        finished = True
    except Exception as exc:
        for name in stored:
            default_storage.delete(name)
        from fitting.datasets import DatasetError

        known = isinstance(exc, DatasetError | DatasetImportError | ValidationError)
        finished = True
        message = str(exc) if known else f"{type(exc).__name__}: {exc}"
        taskstate.fail(Dataset, dataset.pk, in_user_terms(message, dataset, work))
        if not known:
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if finished and dataset.source_kind == Dataset.Source.UPLOAD:
            # The images are in media storage now (with checksums); the zip is not kept twice.
            default_storage.delete(dataset.source_location)
    dataset.refresh_from_db()
    return dataset


def in_user_terms(message: str, dataset: Dataset, work: Path) -> str:
    """An error with the server's own paths taken out: files are named as they are inside the
    zip, the S3 prefix or the server folder the user gave."""
    roots = [work / "source", work]
    if dataset.source_kind == Dataset.Source.SERVER:
        roots.insert(0, Path(dataset.source_location))
    roots += [Path(settings.DATASET_WORK_DIR), Path(settings.MEDIA_ROOT)]
    for root in roots:
        for form in {str(root), str(root.resolve())}:
            message = message.replace(form + "/", "").replace(form, ".")
    return message


def dataset_import_lost(dataset: Dataset) -> None:
    """An import the sweeper failed (its workers were lost): its upload is not kept."""
    if dataset.source_kind == Dataset.Source.UPLOAD:
        default_storage.delete(dataset.source_location)
    _discard_stored(dataset)


def _import(dataset: Dataset, work: Path, stored: list[str], report: Progress) -> None:
    from fitting.datasets import ReadStats
    from fitting.datasets.filters import FILTERS

    root = source_root(dataset, work)
    images_root = root / dataset.images_path

    # Pass 1: validate the annotations, collect the images they use.
    stats = ReadStats()
    stated: dict[str, tuple[int, int] | None] = {}
    for person in _people(dataset, root, stats):
        stated.setdefault(person.image_name, person.image_size)
        if stats.people % 5000 == 0:
            report("reading annotations", stats.people, 0)
    if not stated:
        raise DatasetImportError(f"{dataset.annotation_path}: no annotated people to import")

    # Pass 2: check and store the images.
    facts: dict[str, tuple[ImageFacts, str]] = {}
    total = len(stated)
    for done, (name, size) in enumerate(sorted(stated.items()), start=1):
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise DatasetImportError(f"image name {name!r} points outside the image folder")
        path = images_root / name
        found = inspect_image(path)
        if size is not None and size != (found.width, found.height):
            raise DatasetImportError(
                f"image {name}: the annotation says {size[0]} x {size[1]} pixels, the file is "
                f"{found.width} x {found.height}"
            )
        with path.open("rb") as handle:
            saved = default_storage.save(
                f"{dataset_folder(dataset.pk)}/images/{name}", File(handle, name=Path(name).name)
            )
        stored.append(saved)
        facts[name] = (found, saved)
        if done % 200 == 0 or done == total:
            report("checking and storing images", done, total)

    split_of = _split_assignment(dataset, sorted(facts))

    # Pass 3: one transaction for every row.
    report("writing rows", 0, stats.people)
    policy = dataset.outside_policy
    counts = dict.fromkeys(FILTERS, 0)
    split_counts: dict[str, int] = {}
    outside_total = 0
    with transaction.atomic():
        image_rows = Image.objects.bulk_create(
            [
                Image(dataset=dataset, name=name, file=saved, width=f.width, height=f.height,
                      sha256=f.sha256, bytes=f.bytes)
                for name, (f, saved) in sorted(facts.items())
            ],
            batch_size=BATCH,
        )  # fmt: skip
        ids = {row.name: row for row in image_rows}
        if any(row.pk is None for row in image_rows):  # backends without RETURNING
            ids = {row.name: row for row in Image.objects.filter(dataset=dataset)}
        batch: list[Person] = []
        written = 0
        for person in _people(dataset, root, ReadStats(), check_format=False):  # pass 1 checked it
            image = ids[person.image_name]
            labels = person.labels_gt24.tolist()
            outside = _outside(labels, image.width, image.height)
            if outside and policy == Dataset.OutsidePolicy.REJECT:
                raise DatasetImportError(
                    f"annotation {person.annotation_id} ({person.image_name}): {len(outside)} labelled "
                    f"keypoints outside the {image.width} x {image.height} image (policy: reject)"
                )
            if outside and policy == Dataset.OutsidePolicy.UNLABEL:
                for j in outside:
                    labels[j] = [0.0, 0.0, 0.0]
                person = _with_labels(person, labels)
            outside_total += len(outside)
            for key, preset in FILTERS.items():
                counts[key] += int(preset.keep(person))
            split = split_of(person.image_name)
            split_counts[split] = split_counts.get(split, 0) + 1
            batch.append(
                Person(
                    dataset=dataset,
                    image=image,
                    source_annotation_id=person.annotation_id,
                    subject_id=person.subject_id,
                    layout=person.layout,
                    bbox=list(person.bbox) if person.bbox else None,
                    keypoints_raw=person.keypoints.tolist(),
                    keypoints_gt24=labels,
                    labelled=person.labelled,
                    keypoints_outside=len(outside),
                    coco_all=FILTERS["coco-all"].keep(person),
                    coco_part=FILTERS["coco-part"].keep(person),
                    split=split,
                )
            )
            if len(batch) >= BATCH:
                Person.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        Person.objects.bulk_create(batch)
        written += len(batch)
        taskstate.finish(
            Dataset,
            dataset.pk,
            stage="done",
            progress_done=written,
            progress_total=written,
            annotations_count=stats.annotations,
            people_count=written,
            images_count=len(image_rows),
            skipped=stats.skipped,
            keypoints_outside=outside_total,
            filter_counts=counts,
            split_counts=split_counts,
        )


def _split_assignment(dataset: Dataset, image_names: list[str]) -> Callable[[str], str]:
    """image name -> split, by the dataset's preset. The random preset splits by image (people
    of one image stay together), reproducibly from the seed."""
    import numpy as np

    if dataset.split_preset == Dataset.SplitPreset.RANDOM:
        order = np.random.default_rng(dataset.split_seed).permutation(len(image_names))
        test_count = round(len(image_names) * dataset.split_test_fraction)
        test = {image_names[i] for i in order[:test_count]}
        return lambda name: "test" if name in test else "train"
    if dataset.split_preset == Dataset.SplitPreset.OCHUMAN:
        fixed = "train" if dataset.split == "val" else "test"
        return lambda name: fixed
    fixed = dataset.split
    return lambda name: fixed


def _with_labels(person: Any, labels: list[list[float]]) -> Any:
    import dataclasses

    import numpy as np

    return dataclasses.replace(person, labels_gt24=np.asarray(labels, dtype=np.float64))


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset, its rows (people, images, fit jobs, fits, renders) and every file derived
    from it: its folder in media storage holds its images and its renders; an upload not yet
    imported goes too."""
    folder = dataset_folder(dataset.pk)
    upload = dataset.source_location if dataset.source_kind == Dataset.Source.UPLOAD else ""
    with transaction.atomic():
        dataset.delete()
    delete_folder(folder)
    if upload:
        default_storage.delete(upload)


#: How the stale-work sweeper (webapp.core.taskstate) treats dataset imports.
DATASET_IMPORT_WORK = taskstate.WorkKind(
    "dataset imports", Dataset, dataset_imports_enqueue, dataset_import_lost, resend_waiting=True
)
