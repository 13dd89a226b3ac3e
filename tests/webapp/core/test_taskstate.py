"""The task-state owner: one vocabulary, compare-and-set transitions, one sweeper, beat entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from webapp.core import taskstate
from webapp.core.taskstate import TaskStatus
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db


def _dataset(name: str = "d", **fields: Any) -> Dataset:
    return Dataset.objects.create(
        name=name, source_format="coco", source_kind="server", source_location="/nowhere",
        annotation_path="annotations.json", **fields,
    )  # fmt: skip


def _status(row: Dataset) -> str:
    row.refresh_from_db()
    return row.status


def test_only_one_claim_wins_and_final_states_are_final() -> None:
    row = _dataset(status=TaskStatus.QUEUED)
    assert taskstate.claim(Dataset, row.pk, "worker-a")
    assert not taskstate.claim(Dataset, row.pk, "worker-b")
    row.refresh_from_db()
    assert (row.status, row.worker, row.attempts) == ("running", "worker-a", 1)
    assert row.heartbeat_at == row.claimed_at
    assert taskstate.heartbeat(Dataset, row.pk, stage="half way")
    assert taskstate.finish(Dataset, row.pk, stage="done")
    assert not taskstate.finish(Dataset, row.pk)
    assert not taskstate.fail(Dataset, row.pk, "too late")
    assert not taskstate.heartbeat(Dataset, row.pk)
    row.refresh_from_db()
    assert (row.status, row.stage, row.error) == ("done", "done", "")
    assert row.finished_at is not None


def test_fail_keeps_the_reason_and_cancel_leaves_running_work_alone() -> None:
    failing, waiting, running = _dataset("a"), _dataset("b"), _dataset("c")
    taskstate.claim(Dataset, failing.pk)
    assert taskstate.fail(Dataset, failing.pk, "annotations.json: not valid JSON")
    failing.refresh_from_db()
    assert (failing.status, failing.error) == ("failed", "annotations.json: not valid JSON")
    taskstate.claim(Dataset, running.pk)
    assert taskstate.cancel(Dataset.objects.filter(pk__in=[waiting.pk, running.pk]), "stopped by staff") == 1
    assert (_status(waiting), _status(running)) == ("cancelled", "running")
    assert not taskstate.claim(Dataset, waiting.pk)  # a cancelled row is never claimed
    assert taskstate.requeue(Dataset.objects.all()) == [failing.pk]  # failed ones only
    failing.refresh_from_db()
    assert (failing.status, failing.attempts, failing.error) == ("queued", 0, "")


def test_sweeper_requeues_then_fails_silent_work(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASK_STALE_SECONDS = 60
    settings.TASK_MAX_ATTEMPTS = 2
    sent: list[list[int]] = []
    failed: list[int] = []
    kind = taskstate.WorkKind("datasets", Dataset, sent.append, lambda row: failed.append(row.pk))
    silent, hopeless, alive = _dataset("silent"), _dataset("hopeless"), _dataset("alive")
    old = timezone.now() - timedelta(minutes=5)
    Dataset.objects.filter(pk=silent.pk).update(status="running", attempts=1, heartbeat_at=old)
    Dataset.objects.filter(pk=hopeless.pk).update(status="running", attempts=2, heartbeat_at=old)
    Dataset.objects.filter(pk=alive.pk).update(status="running", attempts=1, heartbeat_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        report = taskstate.sweep_stale_work([kind])
    assert report == {"datasets": {"requeued": 1, "failed": 1, "resent": 0}}
    assert sent == [[silent.pk]]
    assert failed == [hopeless.pk]
    assert (_status(silent), _status(hopeless), _status(alive)) == ("queued", "failed", "running")


def test_every_beat_entry_names_a_registered_task() -> None:
    from django.conf import settings

    from webapp.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule, "the beat schedule is empty"
    unknown = {name: entry["task"] for name, entry in schedule.items() if entry["task"] not in app.tasks}
    assert unknown == {}
    assert schedule["stale-work-sweeper"]["task"] == "tasks.sweep.sweep_stale_work"


def test_waiting_work_is_sent_again_once_per_interval(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A message lost in a dead worker's prefetch: the row stays queued; the sweeper sends it
    again (for kinds that ask), then not again until another interval has passed."""
    settings.TASK_STALE_SECONDS = 60
    sent: list[list[int]] = []
    kind = taskstate.WorkKind("datasets", Dataset, sent.append, resend_waiting=True)
    lost, fresh = _dataset("lost", status="queued"), _dataset("fresh", status="queued")
    Dataset.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert taskstate.sweep_stale_work([kind]) == {"datasets": {"requeued": 0, "failed": 0, "resent": 1}}
    assert sent == [[lost.pk]]
    with django_capture_on_commit_callbacks(execute=True):
        assert taskstate.sweep_stale_work([kind])["datasets"]["resent"] == 0  # sent a moment ago
    later = timezone.now() + timedelta(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert taskstate.sweep_stale_work([kind], now=later)["datasets"]["resent"] == 2
    assert sorted(sent[-1]) == sorted([lost.pk, fresh.pk])
    assert (_status(lost), _status(fresh)) == ("queued", "queued")
    # A kind that does not ask (fit chunks may rightly wait for hours) is never sent again.
    quiet = taskstate.WorkKind("datasets", Dataset, sent.append)
    assert taskstate.sweep_stale_work([quiet], now=later + timedelta(hours=1))["datasets"]["resent"] == 0
