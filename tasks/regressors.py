"""Regressor registry tasks (``gpu`` queue: torch is there): thin adapters over
webapp.regressors.services."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.regressors.services import regressor_check


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
