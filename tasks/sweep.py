"""Periodic housekeeping (beat schedule): work whose worker was lost is queued again or failed."""

from __future__ import annotations

from celery import shared_task

from webapp.benchmarks.services import VERSION_WORK
from webapp.core.taskstate import sweep_stale_work
from webapp.datasets.services import DATASET_IMPORT_WORK
from webapp.fits.renders import RENDER_WORK
from webapp.fits.services import FIT_CHUNK_WORK
from webapp.regressors.services import REGRESSOR_CHECK_WORK
from webapp.regressors.training import TRAINING_WORK

#: Every kind of claimed work, in the order the sweeper visits them.
SWEPT = (DATASET_IMPORT_WORK, FIT_CHUNK_WORK, RENDER_WORK, VERSION_WORK, REGRESSOR_CHECK_WORK, TRAINING_WORK)


@shared_task(name="tasks.sweep.sweep_stale_work", ignore_result=True)
def sweep_stale_work_task() -> dict[str, dict[str, int]]:
    return sweep_stale_work(SWEPT)
