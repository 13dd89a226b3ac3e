"""A fit job's chunks run by a real worker (gpu queue on Redis), Fits written to PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from fitting.synth.generate import SynthConfig, generate
from tests.support.worker import wait_for
from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_create, dataset_delete, dataset_import
from webapp.fits.models import Fit, FitJob
from webapp.fits.services import fit_job_start

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


@pytest.fixture
def dataset() -> Iterator[Dataset]:
    folder = Path(settings.DATASET_IMPORT_ROOTS[0]) / f"fit-{uuid.uuid4().hex[:8]}"
    generate(
        SynthConfig(people=4, seed=45, width=160, height=160, max_people_per_image=2), folder, progress=False
    )
    created = dataset_create(
        name=folder.name, source_format="coco", source_kind="server", source_location=str(folder),
        annotation_path="annotations.json", images_path="images", enqueue=False,
    )  # fmt: skip
    done = dataset_import(dataset_id=created.pk)
    assert done.status == Dataset.Status.READY, done.error
    yield done
    dataset_delete(dataset=done)
    shutil.rmtree(folder, ignore_errors=True)


def test_worker_fits_a_job(real_worker: str, dataset: Dataset) -> None:
    job = fit_job_start(dataset=dataset, filter_name="all", config={"max_iterations": 3}, chunk_size=2)
    wait_for(lambda: FitJob.objects.get(pk=job.pk).status == FitJob.Status.DONE, timeout=180)
    job.refresh_from_db()
    assert job.people_done == job.people_total > 0
    assert Fit.objects.filter(job=job).count() == job.people_total
    assert set(job.chunks.values_list("worker", flat=True)) == {real_worker}
