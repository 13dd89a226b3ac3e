"""Reads of the datasets app."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db.models import Q, QuerySet

from fitting.datasets.common import SourcePerson
from fitting.datasets.filters import FILTERS
from fitting.geometry.camera import CropBox
from webapp.core import taskstate
from webapp.datasets.models import Dataset, Image, Person

#: The stored form of each filter of the registry (fitting.datasets.filters.FILTERS): the
#: columns the import sets from ``Filter.keep``; a test checks the two agree person by person.
FILTER_QUERIES: dict[str, Q] = {
    "all": Q(labelled__gt=0),
    "coco-all": Q(coco_all=True),
    "coco-part": Q(coco_part=True),
}
assert set(FILTER_QUERIES) == set(FILTERS), "every filter of the registry needs its query"


def people_passing(dataset: Dataset, filter_name: str) -> QuerySet[Person]:
    """The dataset's people a filter keeps; ValueError naming the choices for an unknown one."""
    if filter_name not in FILTER_QUERIES:
        raise ValueError(f"unknown filter {filter_name!r}; choose from {sorted(FILTERS)}")
    return Person.objects.filter(FILTER_QUERIES[filter_name], dataset=dataset)


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.all()


def dataset_importing() -> bool:
    return Dataset.objects.filter(status__in=taskstate.OPEN).exists()


def dataset_filter_table(dataset: Dataset) -> list[dict[str, Any]]:
    """Rows of (filter, people kept, share of the imported people)."""
    total = dataset.people_count or 0
    rows = []
    for key, preset in FILTERS.items():
        kept = int(dataset.filter_counts.get(key, 0)) if dataset.filter_counts else 0
        rows.append(
            {"key": key, "label": f"{preset.label}: {preset.description}", "kept": kept,
             "share": 100.0 * kept / total if total else 0.0}
        )  # fmt: skip
    return rows


def dataset_sample_people(dataset: Dataset, count: int = 12) -> QuerySet[Person]:
    """An even spread of people across the dataset (deterministic), for the sample grid."""
    ids = list(Person.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True))
    if not ids:
        return Person.objects.none()
    step = max(len(ids) // count, 1)
    chosen = ids[::step][:count]
    return Person.objects.filter(id__in=chosen).select_related("image").order_by("id")


def image_pixels(image: Image) -> Any:
    """The stored image as RGB ``(H, W, 3)`` uint8; ImageError naming the file if it cannot be decoded."""
    import cv2
    import numpy as np

    from fitting.datasets.common import ImageError

    with image.file.open("rb") as handle:
        decoded = cv2.imdecode(np.frombuffer(handle.read(), dtype=np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ImageError(f"stored image {image.file.name} cannot be decoded")
    return np.asarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def source_person(person: Person) -> SourcePerson:
    """A stored person as the dataset gave it (``fitting``'s own type): the dataset's annotation
    id, never the row's primary key."""
    return SourcePerson(
        annotation_id=person.source_annotation_id,
        image_name=person.image.name,
        layout=person.layout,
        keypoints=np.asarray(person.keypoints_raw, dtype=np.float64),
        labels_gt24=np.asarray(person.keypoints_gt24, dtype=np.float64),
        bbox=(float(person.bbox[0]), float(person.bbox[1]), float(person.bbox[2]), float(person.bbox[3]))
        if person.bbox
        else None,
        subject_id=person.subject_id,
        image_size=(person.image.width, person.image.height),
    )


def person_box(person: Person) -> CropBox:
    """EFT's crop box of a person: from the annotated box, else around the labelled keypoints."""
    if person.bbox:
        return CropBox.from_bbox(*person.bbox)
    return CropBox.from_keypoints(np.asarray(person.keypoints_gt24, dtype=np.float64))


def person_picture_png(person: Person, size: int = 320) -> bytes:
    """A PNG of the person's crop (EFT's box) with the GT-24 labels and skeleton drawn."""
    import cv2

    from fitting.render.draw import labelled_crop

    drawn = labelled_crop(
        image_pixels(person.image), person_box(person), np.asarray(person.keypoints_gt24), size
    )
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"PNG encoding of person {person.pk} failed")
    return bytes(encoded.tobytes())
