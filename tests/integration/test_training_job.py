"""A training job on real worker processes (PostgreSQL, Redis): SIGKILLed mid-way, it goes on
from its last saved step on a second worker, never from the start and never twice; a running job
is cancelled by staff. The first worker is known to be mid-way from the job's own progress (its
saved step in media storage), never from a sleep."""

from __future__ import annotations

import signal
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from fitting.config import EftConfig
from tasks.sweep import SWEPT
from tests.support.worker import celery_worker_process, wait_for
from webapp.core.taskstate import sweep_stale_work
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitChunk, FitJob
from webapp.fits.services import fit_chunk_run, fit_job_start
from webapp.regressors.models import Regressor, TrainingJob
from webapp.regressors.services import regressor_shipped
from webapp.regressors.training import (
    TrainingOptions,
    saved_steps,
    training_job_cancel,
    training_job_start,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def _fitted(dataset: Dataset) -> FitJob:
    """EFT fits of the dataset, made here (this test is about training)."""
    job = fit_job_start(dataset=dataset, filter_name="all", config=EftConfig(max_iterations=1), render=False,
                        enqueue=False)  # fmt: skip
    for chunk in FitChunk.objects.filter(job=job):
        fit_chunk_run(chunk_id=chunk.pk)
    Fit.objects.filter(job=job).update(sanity_ok=True)
    return job


def _saved_step(job: TrainingJob) -> int:
    return max(saved_steps(job), default=0)


def test_a_training_job_survives_a_killed_worker(
    integration_services: None, synthetic_dataset: Dataset, tmp_path: Path
) -> None:
    from tasks.regressors import training_job_task

    fitted = _fitted(synthetic_dataset)
    options = TrainingOptions(max_steps=60, batch_size=2, val_fraction=0.3, val_every=20, checkpoint_every=10)
    job = training_job_start(name=f"survivor-{uuid.uuid4().hex[:6]}", parent=regressor_shipped(),
                             fit_jobs=[fitted], options=options, enqueue=False)  # fmt: skip
    queue = f"killtest-{uuid.uuid4().hex[:8]}"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with celery_worker_process(tmp_path / "a.log", queues=queue, processes=processes) as first:
        training_job_task.apply_async(args=[job.pk], queue=queue)
        wait_for(lambda: _saved_step(job) >= 20, timeout=240)
        processes[first].send_signal(signal.SIGKILL)
        processes[first].wait(timeout=30)
    saved = _saved_step(job)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.RUNNING
    assert job.worker == first
    assert 20 <= saved < 60
    assert job.result is None

    later = timezone.now() + timedelta(hours=1)
    assert sweep_stale_work(SWEPT, now=later)["training jobs"]["requeued"] == 1
    with celery_worker_process(tmp_path / "b.log", queues=queue):
        training_job_task.apply_async(args=[job.pk], queue=queue)
        wait_for(lambda: TrainingJob.objects.get(pk=job.pk).status in ("done", "failed"), timeout=300)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.DONE, job.error
    assert job.worker != first
    assert (job.attempts, job.resumed, job.step) == (2, 1, 60)
    steps = [point["step"] for point in job.history]
    assert steps == sorted(set(steps))
    assert steps[-1] == 60
    log = (tmp_path / "b.log").read_text()
    assert "tasks.regressors.training_job" in log
    made = Regressor.objects.get(pk=job.result_id)
    assert made.training_data["training_job"]["steps"] == 60
    assert saved_steps(job) == []


def test_a_running_training_job_is_cancelled(
    integration_services: None, synthetic_dataset: Dataset, tmp_path: Path
) -> None:
    from tasks.regressors import training_job_task

    fitted = _fitted(synthetic_dataset)
    options = TrainingOptions(
        max_steps=100_000, batch_size=2, val_fraction=0.3, val_every=50, checkpoint_every=10
    )
    name = f"cancelled-{uuid.uuid4().hex[:6]}"
    job = training_job_start(name=name, parent=regressor_shipped(), fit_jobs=[fitted], options=options,
                             enqueue=False)  # fmt: skip
    queue = f"killtest-{uuid.uuid4().hex[:8]}"
    with celery_worker_process(tmp_path / "c.log", queues=queue):
        training_job_task.apply_async(args=[job.pk], queue=queue)
        wait_for(lambda: TrainingJob.objects.get(pk=job.pk).step >= 10, timeout=240)
        assert training_job_cancel(TrainingJob.objects.get(pk=job.pk))
        wait_for(lambda: TrainingJob.objects.get(pk=job.pk).status == "cancelled", timeout=120)
    job.refresh_from_db()
    assert 10 <= job.step < 100_000
    assert job.error == "cancelled by staff"
    assert not Regressor.objects.filter(name=name).exists()
    assert saved_steps(job) == []
