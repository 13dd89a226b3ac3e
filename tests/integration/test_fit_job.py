"""A fit job's chunks run by a real worker (gpu queue on Redis), Fits written to PostgreSQL."""

from __future__ import annotations

import pytest

from fitting.config import EftConfig
from tests.support.worker import wait_for
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitJob, Render
from webapp.fits.services import fit_job_start

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def test_worker_fits_a_job(real_worker: str, synthetic_dataset: Dataset) -> None:
    dataset = synthetic_dataset
    job = fit_job_start(dataset=dataset, filter_name="all", config=EftConfig(max_iterations=3), chunk_size=2)
    wait_for(lambda: FitJob.objects.get(pk=job.pk).status == FitJob.Status.DONE, timeout=180)
    job.refresh_from_db()
    # The synthetic dataset's 4 people (conftest.py), each with labelled keypoints: "all" keeps 4.
    assert (job.people_total, job.people_done, job.people_failed) == (4, 4, 0)
    assert Fit.objects.filter(job=job).count() == 4
    assert job.chunks.count() == 2  # 4 people, 2 a chunk
    assert set(job.chunks.values_list("worker", flat=True)) == {real_worker}
    # The render queue (same worker here) draws the crop, camera and side views of every fit.
    wait_for(lambda: FitJob.objects.get(pk=job.pk).renders_done == 12, timeout=120)
    assert Render.objects.filter(fit__job=job, status="done").count() == 12
