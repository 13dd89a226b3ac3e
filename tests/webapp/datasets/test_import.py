"""Importing datasets: every pass, every bad input, nothing half imported."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from tests.support.coco import HEIGHT, WIDTH, coco_person, coco_zip, make_coco, write_jpeg
from webapp.datasets.models import Dataset, Image, Person
from webapp.datasets.services import dataset_create, dataset_delete, dataset_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def roots(tmp_path: Path, settings: Any) -> Path:
    settings.DATASET_IMPORT_ROOTS = [tmp_path / "imports"]
    settings.DATASET_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "imports").mkdir()
    return tmp_path / "imports"


def _create(folder: Path, **kwargs: Any) -> Dataset:
    options: dict[str, Any] = {"name": "coco-mini", "source_format": "coco", "source_kind": "server",
                               "source_location": str(folder), "annotation_path": "annotations.json",
                               "images_path": "images", "enqueue": False}  # fmt: skip
    options.update(kwargs)
    return dataset_create(**options)


def _stored(dataset: Dataset, media: Path) -> list[Path]:
    return sorted((media / "datasets" / str(dataset.pk)).rglob("*.jpg"))


def test_server_folder_import(roots: Path, tmp_path: Path) -> None:
    folder = make_coco(roots / "coco")
    ticks: list[tuple[str, int, int]] = []
    dataset = dataset_import(dataset_id=_create(folder).pk, progress=lambda *a: ticks.append(a))
    assert dataset.status == Dataset.Status.DONE, dataset.error
    assert (dataset.annotations_count, dataset.people_count, dataset.images_count) == (5, 4, 3)
    assert dataset.skipped == {"crowd region": 1}
    assert dataset.filter_counts == {"all": 4, "coco-all": 3, "coco-part": 2}
    assert dataset.progress_percent == 100.0
    assert ("checking and storing images", 3, 3) in ticks
    image = Image.objects.get(dataset=dataset, name="000.jpg")
    assert (image.width, image.height, len(image.sha256)) == (WIDTH, HEIGHT, 64)
    assert default_storage.exists(image.file.name)
    person = Person.objects.get(dataset=dataset, source_annotation_id="101")
    assert person.labelled == 5
    assert (person.coco_all, person.coco_part) == (False, False)
    assert person.keypoints_gt24[19] == [10.0, 5.0, 1.0]  # COCO nose -> GT-24 nose (index 19)
    assert len(_stored(dataset, tmp_path / "media")) == 3
    # a second run (a retried task) changes nothing
    again = dataset_import(dataset_id=dataset.pk)
    assert again.status == Dataset.Status.DONE
    assert Person.objects.filter(dataset=dataset).count() == 4
    dataset_delete(dataset=dataset)
    assert not _stored(dataset, tmp_path / "media")
    assert Image.objects.count() == 0


def _fails(dataset: Dataset, media: Path, message: str) -> None:
    done = dataset_import(dataset_id=dataset.pk)
    assert done.status == Dataset.Status.FAILED
    assert message in done.error, done.error
    assert Image.objects.filter(dataset=done).count() == 0
    assert Person.objects.filter(dataset=done).count() == 0
    assert not _stored(done, media)


def _truncate(f: Path) -> None:
    image = f / "images" / "001.jpg"
    image.write_bytes(image.read_bytes()[:300])


def _gif(f: Path) -> None:
    PILImage.new("RGB", (WIDTH, HEIGHT)).save(f / "images" / "001.jpg", format="GIF")


DAMAGES: list[tuple[Callable[[Path], Any], str]] = [
    (_truncate, "001.jpg is corrupt"),
    (lambda f: (f / "images" / "002.jpg").unlink(), "002.jpg is missing"),
    (lambda f: (f / "images" / "001.jpg").write_text("hello"), "001.jpg is not an image file"),
    (_gif, "is GIF, not JPEG or PNG"),
    (
        lambda f: write_jpeg(f / "images" / "001.jpg", size=(50, 50)),
        "the annotation says 96 x 128 pixels, the file is 50 x 50",
    ),
    (lambda f: (f / "annotations.json").write_text('{"images": ['), "not valid JSON"),
]


@pytest.mark.parametrize(("damage", "message"), DAMAGES)
def test_bad_inputs_fail_whole(
    roots: Path, tmp_path: Path, damage: Callable[[Path], Any], message: str
) -> None:
    folder = make_coco(roots / "coco")
    damage(folder)
    _fails(_create(folder), tmp_path / "media", message)


def test_keypoints_outside_the_image_follow_the_policy(roots: Path, tmp_path: Path) -> None:
    people = [coco_person(1, 0, x0=70.0), coco_person(2, 1)]  # person 1 runs off the right edge (96 px)
    folder = make_coco(roots / "coco", people, images=2)
    kept = dataset_import(dataset_id=_create(folder, name="keep").pk)
    outside = Person.objects.get(dataset=kept, source_annotation_id="1").keypoints_outside
    assert kept.keypoints_outside == outside > 0
    unlabel = dataset_import(dataset_id=_create(folder, name="unlabel", outside_policy="unlabel").pk)
    person = Person.objects.get(dataset=unlabel, source_annotation_id="1")
    assert person.labelled == 17 - outside
    assert all(x < WIDTH for x, _, v in person.keypoints_gt24 if v > 0)
    _fails(
        _create(folder, name="reject", outside_policy="reject"),
        tmp_path / "media",
        "outside the 96 x 128 image",
    )


def test_server_folder_must_be_inside_the_roots(roots: Path, tmp_path: Path) -> None:
    outside = make_coco(tmp_path / "elsewhere")
    with pytest.raises(ValidationError, match="outside the import roots"):
        _create(outside)
    with pytest.raises(ValidationError, match="relative, no"):
        _create(make_coco(roots / "coco"), annotation_path="../x.json")


def _zip(path: Path, folder: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                handle.write(file, file.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            handle.writestr(name, data)
    return path


def _upload(path: Path, name: str) -> Dataset:
    with path.open("rb") as handle:
        stored = default_storage.save(f"uploads/{path.name}", handle)
    return dataset_create(name=name, source_format="coco", source_kind="upload", source_location=stored,
                          annotation_path="annotations.json", images_path="images",
                          enqueue=False)  # fmt: skip


def test_zip_upload_imports_and_bad_zips_are_refused(roots: Path, tmp_path: Path, settings: Any) -> None:
    folder = make_coco(tmp_path / "src")
    good = dataset_import(dataset_id=_upload(_zip(tmp_path / "good.zip", folder), "zip-good").pk)
    assert good.status == Dataset.Status.DONE, good.error
    assert not default_storage.exists(good.source_location)  # the uploaded zip is not kept
    assert good.people_count == 4
    media = tmp_path / "media"
    _fails(_upload(_zip(tmp_path / "dots.zip", folder, {"../evil.txt": b"x"}), "zip-dots"), media,
           "points outside the archive")  # fmt: skip
    _fails(
        _upload(_zip(tmp_path / "abs.zip", folder, {"/etc/evil": b"x"}), "zip-abs"), media, "absolute path"
    )
    zeros = {"zeros.bin": bytes(20 * 1024**2)}
    _fails(_upload(_zip(tmp_path / "bomb.zip", folder, zeros), "zip-bomb"), media,
           "possible zip bomb")  # fmt: skip
    (tmp_path / "not.zip").write_bytes(b"PK but not really")
    _fails(_upload(tmp_path / "not.zip", "zip-not"), media, "not a zip archive")
    settings.DATASET_ZIP_MAX_ENTRIES = 2
    _fails(
        _upload(_zip(tmp_path / "many.zip", folder), "zip-many"), media, "entries, more than the limit of 2"
    )


def test_other_formats_from_server_folders(roots: Path) -> None:
    mpii = roots / "mpii"
    write_jpeg(mpii / "images" / "a.jpg")
    item = {"image": "a.jpg", "joints": [[5.0 + 4 * k, 6.0 + 7 * k] for k in range(16)],
            "joints_vis": [1] * 16,
            "center": [48.0, 64.0], "scale": 0.5}  # fmt: skip
    (mpii / "train.json").write_text(json.dumps([item, item]))
    done = dataset_import(
        dataset_id=_create(mpii, name="mpii", source_format="mpii", annotation_path="train.json").pk
    )
    assert done.status == Dataset.Status.DONE, done.error
    assert list(Person.objects.filter(dataset=done).values_list("subject_id", flat=True)) == [
        "a.jpg#0",
        "a.jpg#1",
    ]

    lsp = roots / "lsp"
    for i in range(2):
        write_jpeg(lsp / "images" / f"im{i + 1:04d}.jpg", seed=i)
    joints = np.zeros((2, 14, 3))
    joints[:, :, 0], joints[:, :, 1] = np.linspace(5, 90, 14), np.linspace(5, 120, 14)
    scipy.io.savemat(lsp / "joints.mat", {"joints": joints.transpose(2, 1, 0)})
    done = dataset_import(
        dataset_id=_create(lsp, name="lsp", source_format="lsp", annotation_path="joints.mat").pk
    )
    assert done.status == Dataset.Status.DONE, done.error
    assert done.filter_counts["coco-part"] == 2


def test_create_enqueues_the_import_after_commit(
    roots: Path, django_capture_on_commit_callbacks: Any
) -> None:
    folder = make_coco(roots / "coco")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        dataset = _create(folder, enqueue=True)
    assert len(callbacks) == 1
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.DONE  # eager Celery in the unit lane ran the task


def test_management_command(roots: Path, tmp_path: Path) -> None:
    folder = make_coco(roots / "coco")
    out = io.StringIO()
    call_command("import_dataset", "--name", "cmd", "--format", "coco", "--folder", str(folder),
                 "--annotations", "annotations.json", "--images", "images", stdout=out)  # fmt: skip
    assert "imported cmd: 4 people in 3 images" in out.getvalue()
    (folder / "images" / "000.jpg").unlink()
    with pytest.raises(CommandError, match=r"000\.jpg is missing"):
        call_command("import_dataset", "--name", "cmd2", "--format", "coco", "--folder", str(folder),
                     "--annotations", "annotations.json", "--images", "images",
                     stdout=io.StringIO())  # fmt: skip


def test_split_presets(roots: Path) -> None:
    people = [coco_person(i, i) for i in range(10)]
    folder = make_coco(roots / "coco", people, images=10)
    first = dataset_import(dataset_id=_create(folder, name="r1", split_preset="random", split_seed=3,
                                              split_test_fraction=0.3).pk)  # fmt: skip
    second = dataset_import(dataset_id=_create(folder, name="r2", split_preset="random", split_seed=3,
                                               split_test_fraction=0.3).pk)  # fmt: skip
    assert first.split_counts == {"train": 7, "test": 3}

    def tests(d: Dataset) -> list[str]:
        return sorted(
            Person.objects.filter(dataset=d, split="test").values_list("source_annotation_id", flat=True)
        )

    assert tests(first) == tests(second)  # reproducible from the seed
    other = dataset_import(dataset_id=_create(folder, name="r3", split_preset="random", split_seed=4,
                                              split_test_fraction=0.3).pk)  # fmt: skip
    assert tests(other) != tests(first)
    ochuman_val = dataset_import(
        dataset_id=_create(folder, name="oc", split="val", split_preset="ochuman").pk
    )
    assert ochuman_val.split_counts == {"train": 10}
    plain = dataset_import(dataset_id=_create(folder, name="plain", split="val").pk)
    assert plain.split_counts == {"val": 10}
    with pytest.raises(ValidationError, match="needs split 'val'"):
        _create(folder, name="oc2", split="train", split_preset="ochuman")
    with pytest.raises(ValidationError, match="between 0 and 1"):
        _create(folder, name="r4", split_preset="random", split_test_fraction=1.0)


def test_s3_prefix_import(roots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 is outside this machine's reach: botocore's Stubber answers for it."""
    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    import webapp.datasets.sources as sources

    folder = make_coco(tmp_path / "bucket-content")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    keys = [f"coco/mini/{p.relative_to(folder).as_posix()}" for p in files]
    stub.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": k, "Size": p.stat().st_size} for k, p in zip(keys, files, strict=True)],
         "IsTruncated": False, "KeyCount": len(keys)},
        {"Bucket": "lab-data", "Prefix": "coco/mini/"},
    )  # fmt: skip
    for key, path in zip(keys, files, strict=True):
        data = path.read_bytes()
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentLength": len(data)},
            {"Bucket": "lab-data", "Key": key},
        )
    stub.activate()
    monkeypatch.setattr(sources, "s3_client", lambda: client)
    dataset = dataset_create(name="s3", source_format="coco", source_kind="s3",
                             source_location="s3://lab-data/coco/mini", annotation_path="annotations.json",
                             images_path="images", enqueue=False)  # fmt: skip
    done = dataset_import(dataset_id=dataset.pk)
    assert done.status == Dataset.Status.DONE, done.error
    assert done.people_count == 4
    stub.assert_no_pending_responses()

    stub.add_response("list_objects_v2", {"IsTruncated": False, "KeyCount": 0},
                       {"Bucket": "lab-data", "Prefix": "nothing/"})  # fmt: skip
    dataset = dataset_create(name="s3-empty", source_format="coco", source_kind="s3",
                             source_location="s3://lab-data/nothing", annotation_path="annotations.json",
                             enqueue=False)  # fmt: skip
    _fails(dataset, tmp_path / "media", "no objects under this prefix")
    with pytest.raises(ValidationError, match="names no bucket"):
        dataset_create(name="s3-bad", source_format="coco", source_kind="s3", source_location="s3:///x",
                       annotation_path="a.json", enqueue=False)  # fmt: skip


def test_an_import_whose_worker_died_is_swept_and_run_again(
    roots: Path, tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A worker killed mid-import leaves the dataset running with stored images and no rows; the
    sweeper queues it again and the next attempt starts clean. One lost too often is failed."""
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from tasks.sweep import SWEPT
    from webapp.core import taskstate
    from webapp.core.taskstate import sweep_stale_work

    settings.TASK_STALE_SECONDS = 60
    settings.TASK_MAX_ATTEMPTS = 2
    lost = _create(make_coco(roots / "coco"))
    assert taskstate.claim(Dataset, lost.pk, "celery@dead")
    leftover = default_storage.save(f"datasets/{lost.pk}/images/000.jpg", ContentFile(b"half a picture"))
    Dataset.objects.filter(pk=lost.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: the import runs again
        report = sweep_stale_work(SWEPT)
    assert report["dataset imports"] == {"requeued": 1, "failed": 0, "resent": 0}
    lost.refresh_from_db()
    assert (lost.status, lost.attempts, lost.people_count) == ("done", 2, 4)
    assert len(_stored(lost, tmp_path / "media")) == 3  # each image once: the leftover was removed
    stored = Image.objects.get(dataset=lost, name="000.jpg")
    assert stored.file.name == leftover
    with stored.file.open("rb") as handle:
        assert handle.read() == (roots / "coco" / "images" / "000.jpg").read_bytes()

    archive = default_storage.save("uploads/hopeless.zip", ContentFile(b"PK"))
    hopeless = _create(roots, name="hopeless", source_kind="upload", source_location=archive)
    Dataset.objects.filter(pk=hopeless.pk).update(
        status="running", attempts=2, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert sweep_stale_work(SWEPT)["dataset imports"] == {"requeued": 0, "failed": 1, "resent": 0}
    hopeless.refresh_from_db()
    assert hopeless.status == "failed"
    assert hopeless.error == "lost 2 times (its worker died or hung: no heartbeat)"
    assert not default_storage.exists(archive)  # a failed import keeps no upload


def test_the_filter_registry_drives_the_stored_queries(roots: Path) -> None:
    """Each filter of fitting's registry has a query, and it keeps exactly the people the
    filter's own rule keeps (the rule read from the stored person, as fitting sees it)."""
    from fitting.datasets.filters import FILTERS
    from webapp.datasets.selectors import FILTER_QUERIES, people_passing, source_person

    dataset = dataset_import(dataset_id=_create(make_coco(roots / "coco")).pk)
    assert set(FILTER_QUERIES) == set(FILTERS)
    people = list(Person.objects.filter(dataset=dataset).select_related("image"))
    for name, preset in FILTERS.items():
        kept = set(people_passing(dataset, name).values_list("source_annotation_id", flat=True))
        assert kept == {p.source_annotation_id for p in people if preset.keep(source_person(p))}, name
        assert len(kept) == dataset.filter_counts[name]
    # The fixture's people: 100 (17 labelled), 101 (5), 102 (17), 103 (8); 104 is a crowd region.
    assert set(people_passing(dataset, "coco-all").values_list("source_annotation_id", flat=True)) == {
        "100", "102", "103"
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"unknown filter 'coco-most'; choose from \['all', 'coco-all'"):
        people_passing(dataset, "coco-most")


def test_a_refused_request_keeps_nothing(roots: Path, tmp_path: Path) -> None:
    """Page, API and command share dataset_import_request: a refused request stores nothing."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.datasets.services import dataset_import_request
    from webapp.datasets.sources import SourceRequest

    good_zip = SimpleUploadedFile("coco.zip", coco_zip(make_coco(tmp_path / "src")))
    with pytest.raises(ValidationError, match="must be a path inside the source"):
        dataset_import_request(
            source=SourceRequest(archive=good_zip), name="x", source_format="coco",
            annotation_path="../annotations.json", enqueue=False,
        )  # fmt: skip
    not_zip = SimpleUploadedFile("notes.zip", b"these are not the files you are looking for")
    with pytest.raises(ValidationError, match=r"notes\.zip is not a zip file"):
        dataset_import_request(
            source=SourceRequest(archive=not_zip), name="y", source_format="coco",
            annotation_path="annotations.json", enqueue=False,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="give exactly one source"):
        dataset_import_request(source=SourceRequest(), name="z", source_format="coco", annotation_path="a")
    assert Dataset.objects.count() == 0
    uploads = tmp_path / "media" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_the_command_keeps_no_upload_when_it_refuses(roots: Path, tmp_path: Path) -> None:
    archive = tmp_path / "coco.zip"
    archive.write_bytes(coco_zip(make_coco(tmp_path / "src")))
    with pytest.raises(CommandError, match="must be a path inside the source"):
        call_command(
            "import_dataset", "--name", "c", "--format", "coco", "--zip", str(archive),
            "--annotations", "/etc/passwd",
        )  # fmt: skip
    uploads = tmp_path / "media" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    assert Dataset.objects.count() == 0


def test_uploads_are_checked_before_any_queue(roots: Path, tmp_path: Path) -> None:
    """An empty zip, or one without the named annotation file or image folder, is refused at
    upload with what it holds; nothing is stored or queued."""
    import io as _io

    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.datasets.services import dataset_import_request
    from webapp.datasets.sources import SourceRequest

    def request(data: bytes, annotation_path: str = "annotations.json", images_path: str = "images") -> None:
        dataset_import_request(
            source=SourceRequest(archive=SimpleUploadedFile("mine.zip", data)), name="x",
            source_format="coco", annotation_path=annotation_path, images_path=images_path, enqueue=False,
        )  # fmt: skip

    empty = _io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ValidationError, match=r"mine\.zip is an empty zip \(it holds no file\)"):
        request(empty.getvalue())
    with pytest.raises(ValidationError, match=r"mine\.zip is empty \(0 bytes\)"):
        request(b"")
    good = coco_zip(make_coco(tmp_path / "src"))
    with pytest.raises(ValidationError) as missing:
        request(good, annotation_path="person_keypoints_val2017.json")
    assert missing.value.message_dict == {
        "archive": [
            "mine.zip has no 'person_keypoints_val2017.json' (the annotation path); it holds: "
            "annotations.json, images/000.jpg, images/001.jpg, images/002.jpg"
        ]
    }
    with pytest.raises(ValidationError, match=r"mine\.zip has no folder 'val2017' \(the images path\)"):
        request(good, images_path="val2017")
    assert Dataset.objects.count() == 0
    uploads = tmp_path / "media" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_a_server_folder_without_the_annotation_file_lists_what_it_holds(roots: Path) -> None:
    from webapp.datasets.services import dataset_import_request
    from webapp.datasets.sources import SourceRequest

    folder = make_coco(roots / "coco")
    source = SourceRequest(server_folder=str(folder))
    with pytest.raises(ValidationError) as refused:
        dataset_import_request(
            source=source, name="y", source_format="coco", annotation_path="coco.json", enqueue=False
        )
    assert refused.value.message_dict == {
        "server_folder": [
            f"{folder} has no 'coco.json' (the annotation path); it holds: annotations.json, images/"
        ]
    }


def test_a_coco_format_file_under_another_format_gets_a_hint(roots: Path) -> None:
    folder = make_coco(roots / "coco")
    dataset = dataset_import(dataset_id=_create(folder, source_format="ochuman").pk)
    assert dataset.status == "failed"
    assert dataset.error == (
        "annotations.json is a COCO-format keypoint file (top-level 'annotations' and 'categories'), "
        "not the ochuman layout: choose the COCO format for it (OCHuman, MPII and PoseTrack are often "
        "shared in COCO format)"
    )


def test_errors_name_files_as_the_user_gave_them_never_server_paths(
    roots: Path, tmp_path: Path, settings: Any
) -> None:
    source = make_coco(tmp_path / "src")
    (source / "images" / "001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    upload = default_storage.save("uploads/broken.zip", io.BytesIO(coco_zip(source)))
    dataset = dataset_import(
        dataset_id=_create(roots, name="broken", source_kind="upload", source_location=upload).pk
    )
    assert dataset.status == "failed"
    assert dataset.error.startswith("image images/001.jpg is corrupt"), dataset.error
    for server_path in (str(tmp_path), str(settings.DATASET_WORK_DIR), "/tmp/"):
        assert server_path not in dataset.error
