"""Publishing tasks: thin adapters over webapp.benchmarks.services."""

from __future__ import annotations

from celery import Task, shared_task

from webapp.benchmarks.services import version_build


@shared_task(
    name="tasks.benchmarks.publish_version",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def publish_version_task(self: Task, version_id: int) -> str:  # type: ignore[type-arg]
    """Build a benchmark version (one already claimed or built is left alone: safe twice)."""
    return str(version_build(version_id=version_id, worker=self.request.hostname or "").status)
