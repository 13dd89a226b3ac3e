"""Periodic housekeeping (beat schedule): chunks whose worker was lost are queued again."""

from __future__ import annotations

from celery import shared_task

from webapp.fits.services import fit_chunks_sweep


@shared_task(name="tasks.sweep.fit_chunks_sweep", ignore_result=True)
def fit_chunks_sweep_task() -> dict[str, int]:
    return fit_chunks_sweep()
