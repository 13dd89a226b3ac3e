"""Regressor registry tasks (``gpu`` queue: torch is there): thin adapters over
webapp.regressors.services."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.regressors.services import regressor_check
from webapp.regressors.training import training_job_run


@shared_task(
    name="tasks.regressors.regressor_check",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def regressor_check_task(self: Task, regressor_id: int) -> str:  # type: ignore[type-arg]
    """Check an uploaded checkpoint (a no-op unless it is pending or queued: safe to run twice)."""
    return str(regressor_check(regressor_id=regressor_id, worker=self.request.hostname or "").status)


@shared_task(
    name="tasks.regressors.training_job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def training_job_task(self: Task, job_id: int) -> str:  # type: ignore[type-arg]
    """Run a training job (claimed once: a second message, or one redelivered after its worker
    died while the job is running, does nothing; the sweeper queues a lost job again)."""
    return str(training_job_run(job_id=job_id, worker=self.request.hostname or "").status)
