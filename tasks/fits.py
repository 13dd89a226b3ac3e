"""Fit tasks (``gpu`` queue): thin adapters over webapp.fits.services."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.fits.services import fit_chunk_run


@shared_task(
    name="tasks.fits.fit_chunk", bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def fit_chunk_task(self: Task, chunk_id: int) -> str:  # type: ignore[type-arg]
    """Fit one chunk of a job (a no-op unless the chunk is pending: safe to deliver twice)."""
    return str(fit_chunk_run(chunk_id=chunk_id, worker=self.request.hostname or "").status)
