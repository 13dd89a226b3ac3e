"""One owner for the state of long work: dataset imports, fit chunks and renders today; HIT
syncs, training and publishing later.

Vocabulary (DESIGN.md)::

    pending -> queued -> running -> done | failed | cancelled

- ``pending``: the row exists, no message was sent for it (``enqueue=False``, or not yet);
- ``queued``: a task message was sent once the creating transaction committed;
- ``running``: a worker claimed it by compare-and-set (``claim``): only one can win; it proves it
  is alive with ``heartbeat`` (per item of progress: a person fitted, a batch of images stored);
- ``done`` / ``failed`` (with a reason) / ``cancelled``: final, set by ``finish``, ``fail`` and
  ``cancel``, each a compare-and-set from the states it may leave.

A worker that dies leaves its row ``running`` with an old heartbeat; ``sweep_stale_work`` (one
periodic task for every kind of work) queues it again, or fails it once it has been lost
``max_attempts`` times. Each kind says how to re-enqueue its rows and what else to update when one
fails (``WorkKind``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone


class TaskStatus(models.TextChoices):
    PENDING = "pending", "pending"
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    DONE = "done", "done"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


WAITING = (TaskStatus.PENDING, TaskStatus.QUEUED)
OPEN = (TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RUNNING)


class TrackedWork(models.Model):
    """The fields every claimed, retried unit of work carries."""

    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="times a worker claimed it")
    worker = models.CharField(max_length=255, blank=True, help_text="the worker that claimed it last")
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of its worker")
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="why it failed (what and where)")

    class Meta:
        abstract = True


def _rows(model: type[TrackedWork], pk: int) -> QuerySet[Any]:
    return model._default_manager.filter(pk=pk)


def claim(model: type[TrackedWork], pk: int, worker: str = "", **changes: Any) -> bool:
    """pending/queued -> running for one worker; False when another holds it or it is final."""
    now = timezone.now()
    return bool(
        _rows(model, pk)
        .filter(status__in=WAITING)
        .update(
            status=TaskStatus.RUNNING,
            attempts=F("attempts") + 1,
            worker=worker[:255],
            claimed_at=now,
            heartbeat_at=now,
            error="",
            **changes,
        )
    )


def heartbeat(model: type[TrackedWork], pk: int, **changes: Any) -> bool:
    """The worker running ``pk`` is alive (and may record progress in ``changes``)."""
    return bool(
        _rows(model, pk).filter(status=TaskStatus.RUNNING).update(heartbeat_at=timezone.now(), **changes)
    )


def finish(model: type[TrackedWork], pk: int, **changes: Any) -> bool:
    """running -> done."""
    return bool(
        _rows(model, pk)
        .filter(status=TaskStatus.RUNNING)
        .update(status=TaskStatus.DONE, finished_at=timezone.now(), **changes)
    )


def fail(
    model: type[TrackedWork], pk: int, reason: str, *, states: Sequence[str] = OPEN, **changes: Any
) -> bool:
    """pending/queued/running -> failed, with the reason (what and where)."""
    return bool(
        _rows(model, pk)
        .filter(status__in=states)
        .update(status=TaskStatus.FAILED, error=reason[:10_000], finished_at=timezone.now(), **changes)
    )


def cancel(rows: QuerySet[Any], reason: str = "cancelled") -> int:
    """Waiting rows -> cancelled (running ones are left to finish)."""
    return rows.filter(status__in=WAITING).update(
        status=TaskStatus.CANCELLED, error=reason, finished_at=timezone.now()
    )


def requeue(rows: QuerySet[Any]) -> list[int]:
    """Failed rows -> queued again, their attempts reset; returns their ids (to enqueue)."""
    ids = list(rows.filter(status=TaskStatus.FAILED).values_list("pk", flat=True))
    rows.filter(pk__in=ids).update(status=TaskStatus.QUEUED, attempts=0, error="", finished_at=None)
    return ids


@dataclass(frozen=True)
class WorkKind:
    """How the sweeper treats one kind of work."""

    name: str
    model: type[TrackedWork]
    enqueue: Callable[[list[int]], None]  # send the task messages for these ids (after commit)
    on_failed: Callable[[Any], None] | None = None  # also called for each row the sweeper fails
    #: Also send again rows queued for longer than TASK_STALE_SECONDS: for quick work, whose
    #: message may sit unacknowledged in a dead worker's prefetch until the broker's visibility
    #: timeout. Not for work that may rightly wait long in its queue (fit chunks).
    resend_waiting: bool = False


def stale_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.TASK_STALE_SECONDS)


def sweep_stale_work(kinds: Sequence[WorkKind], now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Queue again the running work whose worker has not been heard of for
    TASK_STALE_SECONDS (taken as lost); fail what was lost TASK_MAX_ATTEMPTS times. Returns
    ``{kind: {"requeued": n, "failed": m, "resent": k}}`` (``resent``: waiting rows whose
    message was sent again, for kinds that ask for it)."""
    moment = now or timezone.now()
    cutoff = stale_cutoff(moment)
    report: dict[str, dict[str, int]] = {}
    for kind in kinds:
        requeued: list[int] = []
        failed = 0
        manager = kind.model._default_manager
        with transaction.atomic():
            stale = manager.select_for_update(skip_locked=True).filter(
                status=TaskStatus.RUNNING, heartbeat_at__lt=cutoff
            )
            for row in stale:
                if row.attempts >= settings.TASK_MAX_ATTEMPTS:
                    reason = f"lost {row.attempts} times (its worker died or hung: no heartbeat)"
                    if fail(kind.model, row.pk, reason, states=(TaskStatus.RUNNING,)):
                        failed += 1
                        if kind.on_failed is not None:
                            kind.on_failed(row)
                elif manager.filter(pk=row.pk, status=TaskStatus.RUNNING).update(
                    status=TaskStatus.QUEUED,
                    heartbeat_at=moment,  # sent now: not resent below
                ):
                    requeued.append(row.pk)
            if requeued:
                ids = list(requeued)
                transaction.on_commit(lambda ids=ids, kind=kind: kind.enqueue(ids))  # type: ignore[misc]
        resent = _resend_waiting(kind, cutoff, moment) if kind.resend_waiting else 0
        report[kind.name] = {"requeued": len(requeued), "failed": failed, "resent": resent}
    return report


def _resend_waiting(kind: WorkKind, cutoff: datetime, moment: datetime) -> int:
    """Send again the messages of rows queued before ``cutoff`` (their last send is recorded in
    ``heartbeat_at``, so a row is sent again at most once per TASK_STALE_SECONDS); a duplicate
    message is harmless: only one claim wins."""
    manager = kind.model._default_manager
    with transaction.atomic():
        waiting = manager.select_for_update(skip_locked=True).filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff),
            status=TaskStatus.QUEUED,
        )
        ids = list(waiting.values_list("pk", flat=True))
        if ids:
            manager.filter(pk__in=ids, status=TaskStatus.QUEUED).update(heartbeat_at=moment)
            transaction.on_commit(lambda: kind.enqueue(ids))
    return len(ids)
