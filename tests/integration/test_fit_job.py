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
    assert job.people_done == job.people_total > 0
    assert Fit.objects.filter(job=job).count() == job.people_total
    assert set(job.chunks.values_list("worker", flat=True)) == {real_worker}
    # The render queue (same worker here) draws the camera and side views of every fit.
    wait_for(lambda: FitJob.objects.get(pk=job.pk).renders_done == 2 * job.people_total, timeout=120)
    assert Render.objects.filter(fit__job=job).count() == 2 * job.people_total
