"""A worker killed in the middle of a chunk: the job still completes, every person fitted once."""

from __future__ import annotations

import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from fitting.config import EftConfig
from tasks.sweep import SWEPT
from tests.support.worker import celery_worker_process, wait_for
from webapp.core.taskstate import sweep_stale_work
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitChunk, FitJob
from webapp.fits.services import fit_job_start

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def test_job_survives_a_killed_worker(
    integration_services: None,
    synthetic_dataset: Dataset,
    tmp_path: Path,
) -> None:
    from tasks.fits import fit_chunk_task

    # Slow enough to be killed mid-way: every person runs 40 updates (no early stop).
    dataset = synthetic_dataset
    slow = EftConfig(max_iterations=40, threshold_px=0.0)
    job = fit_job_start(
        dataset=dataset, filter_name="all", chunk_size=100, config=slow, render=False, enqueue=False
    )
    chunk = FitChunk.objects.get(job=job)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    queue = f"killtest-{uuid.uuid4().hex[:8]}"  # no message of an earlier run can reach these workers
    with celery_worker_process(tmp_path / "a.log", queues=queue, processes=processes) as first:
        fit_chunk_task.apply_async(args=[chunk.pk], queue=queue)
        wait_for(lambda: FitChunk.objects.get(pk=chunk.pk).status == FitChunk.Status.RUNNING, timeout=120)
        # Inside the chunk: model loaded, a first person fitted (its heartbeat), the rest to do.
        wait_for(
            lambda: Fit.objects.filter(job=job).count() == 0 and _beat_after_claim(chunk.pk), timeout=120
        )
        processes[first].send_signal(signal.SIGKILL)
        processes[first].wait(timeout=30)
    chunk.refresh_from_db()
    assert chunk.status == FitChunk.Status.RUNNING  # claimed by a worker that no longer exists
    assert chunk.worker == first
    assert Fit.objects.filter(job=job).count() == 0  # its fits were never committed

    with celery_worker_process(tmp_path / "b.log", queues=f"gpu,{queue}") as second:
        # The sweeper (every minute on beat) finds the chunk stale and queues it again.
        later = timezone.now() + timezone.timedelta(seconds=3600)
        assert sweep_stale_work(SWEPT, now=later)["fit chunks"] == {"requeued": 1, "failed": 0}
        wait_for(lambda: FitJob.objects.get(pk=job.pk).status == FitJob.Status.DONE, timeout=180)
    chunk.refresh_from_db()
    assert chunk.status == FitChunk.Status.DONE
    assert chunk.attempts == 2
    assert chunk.worker != first
    job.refresh_from_db()
    assert job.people_done == job.people_total == Fit.objects.filter(job=job).count()
    assert Fit.objects.filter(job=job).values("person").distinct().count() == job.people_total
    assert second


def _beat_after_claim(chunk_id: int) -> bool:
    chunk = FitChunk.objects.get(pk=chunk_id)
    return bool(chunk.claimed_at and chunk.heartbeat_at and chunk.heartbeat_at > chunk.claimed_at)
