"""Reads of the datasets app."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from webapp.datasets.models import Dataset, Person

FILTER_LABELS = {
    "all": "every annotated person",
    "coco-all": "COCO-All: 6 or more labelled keypoints",
    "coco-part": "COCO-Part: all 12 limb keypoints labelled",
}


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.all()


def dataset_importing() -> bool:
    return Dataset.objects.filter(status__in=(Dataset.Status.PENDING, Dataset.Status.IMPORTING)).exists()


def dataset_filter_table(dataset: Dataset) -> list[dict[str, Any]]:
    """Rows of (filter, people kept, share of the imported people)."""
    total = dataset.people_count or 0
    rows = []
    for key, label in FILTER_LABELS.items():
        kept = int(dataset.filter_counts.get(key, 0)) if dataset.filter_counts else 0
        rows.append(
            {"key": key, "label": label, "kept": kept, "share": 100.0 * kept / total if total else 0.0}
        )
    return rows


def dataset_sample_people(dataset: Dataset, count: int = 12) -> QuerySet[Person]:
    """An even spread of people across the dataset (deterministic), for the sample grid."""
    ids = list(Person.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True))
    if not ids:
        return Person.objects.none()
    step = max(len(ids) // count, 1)
    chosen = ids[::step][:count]
    return Person.objects.filter(id__in=chosen).select_related("image").order_by("id")
