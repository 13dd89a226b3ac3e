"""Dataset import tasks: thin adapters over webapp.datasets.services."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.datasets.services import dataset_import


@shared_task(
    name="tasks.datasets.dataset_import",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def dataset_import_task(self: Task, dataset_id: int) -> str:  # type: ignore[type-arg]
    """Import dataset ``dataset_id`` (a no-op unless it is pending or queued: safe to run twice)."""
    return str(dataset_import(dataset_id=dataset_id, worker=self.request.hostname or "").status)
