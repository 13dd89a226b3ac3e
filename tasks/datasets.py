"""Dataset import tasks: thin adapters over webapp.datasets.services."""

from __future__ import annotations

from celery import shared_task

from webapp.datasets.services import dataset_import


@shared_task(name="tasks.datasets.dataset_import", ignore_result=True)
def dataset_import_task(dataset_id: int) -> str:
    """Import dataset ``dataset_id`` (a no-op when it is not pending: safe to run twice)."""
    return str(dataset_import(dataset_id=dataset_id).status)
