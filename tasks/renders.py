"""Render tasks (``render`` queue): thin adapters over webapp.fits.renders."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.fits.renders import fit_renders_make


@shared_task(
    name="tasks.renders.render_fits",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def render_fits_task(self: Task, render_ids: list[int]) -> int:  # type: ignore[type-arg]
    """Make these renders (those already claimed or made are skipped: safe to deliver twice)."""
    return fit_renders_make(render_ids=render_ids, worker=self.request.hostname or "")
