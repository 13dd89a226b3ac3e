"""Render tasks (``render`` queue): thin adapters over webapp.fits.renders."""

from __future__ import annotations

from celery import shared_task

from webapp.fits.renders import fit_renders_make


@shared_task(name="tasks.renders.render_fits", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def render_fits_task(fit_ids: list[int]) -> int:
    """Camera and side views of these fits (what exists already is skipped)."""
    return fit_renders_make(fit_ids=fit_ids)
