"""A dataset import enqueued on commit, run by a real worker on Redis, written to PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.coco import make_coco
from tests.support.worker import wait_for
from webapp.datasets.models import Dataset, Image, Person
from webapp.datasets.services import dataset_create, dataset_delete

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


@pytest.fixture
def folder() -> Iterator[Path]:
    """A COCO folder inside the import roots the worker process also reads from the environment."""
    path = Path(settings.DATASET_IMPORT_ROOTS[0]) / f"it-{uuid.uuid4().hex[:8]}"
    make_coco(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _finished(dataset_id: int) -> bool:
    return Dataset.objects.get(pk=dataset_id).status in (Dataset.Status.DONE, Dataset.Status.FAILED)


def test_worker_imports_a_dataset(real_worker: str, folder: Path) -> None:
    dataset = dataset_create(name=f"it-{folder.name}", source_format="coco", source_kind="server",
                             source_location=str(folder), annotation_path="annotations.json",
                             images_path="images")  # fmt: skip
    wait_for(lambda: _finished(dataset.pk), timeout=90)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.DONE, dataset.error
    assert (dataset.people_count, dataset.images_count, dataset.progress_percent) == (4, 3, 100.0)
    assert Person.objects.filter(dataset=dataset, coco_part=True).count() == 2
    stored = [
        Path(settings.MEDIA_ROOT) / name
        for name in Image.objects.filter(dataset=dataset).values_list("file", flat=True)
    ]
    assert all(path.is_file() for path in stored)
    dataset_delete(dataset=dataset)
    assert not any(path.exists() for path in stored)


def test_worker_reports_a_corrupt_image_and_keeps_nothing(real_worker: str, folder: Path) -> None:
    (folder / "images" / "001.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    dataset = dataset_create(name=f"it-bad-{folder.name}", source_format="coco", source_kind="server",
                             source_location=str(folder), annotation_path="annotations.json",
                             images_path="images")  # fmt: skip
    wait_for(lambda: _finished(dataset.pk), timeout=90)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.FAILED
    assert "001.jpg" in dataset.error
    assert Image.objects.filter(dataset=dataset).count() == 0
    assert not (Path(settings.MEDIA_ROOT) / "datasets" / str(dataset.pk)).exists() or not any(
        (Path(settings.MEDIA_ROOT) / "datasets" / str(dataset.pk)).rglob("*.jpg")
    )
