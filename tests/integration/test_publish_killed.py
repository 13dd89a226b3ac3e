"""Publishing survives a SIGKILLed worker: the sweeper queues the version again and a second
worker builds it, on PostgreSQL and Redis with real worker processes. The first worker is known
to be mid-way from the version's progress, never from a sleep."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from tasks.sweep import SWEPT
from tests.factories import DatasetFactory, FitFactory, FitJobFactory, PersonFactory
from tests.support.worker import celery_worker_process, wait_for
from webapp.benchmarks.models import BenchmarkVersion
from webapp.benchmarks.services import benchmark_create, version_publish_request
from webapp.core.taskstate import sweep_stale_work
from webapp.crowd.models import Assignment, Campaign, Hit, Item, Vote, Worker
from webapp.datasets.models import Dataset

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]
PEOPLE = 120


def _campaign(dataset: Dataset) -> Campaign:
    """A campaign over PEOPLE factory fits, every item accepted by three workers (bulk rows)."""
    job = FitJobFactory(dataset=dataset, people_total=PEOPLE, people_done=PEOPLE, status="done")
    fits = [FitFactory(job=job, person=p) for p in PersonFactory.create_batch(PEOPLE, dataset=dataset)]
    campaign = Campaign.objects.create(name="killed", kind="validation", job=job, state="open", gold_rate=0)
    items = Item.objects.bulk_create([Item(campaign=campaign, fit=f) for f in fits])
    hit = Hit.objects.create(campaign=campaign, index=0)
    for n in range(3):
        worker = Worker.objects.create(provider="inhouse", provider_id=f"w{n}")
        assignment = Assignment.objects.create(
            hit=hit, worker=worker, state="submitted", expires_at=timezone.now(),
            plan=[{"item": i.pk, "a_on_left": None} for i in items],
        )  # fmt: skip
        Vote.objects.bulk_create(
            [Vote(assignment=assignment, item=i, worker=worker, answer="accept", seconds=1.0) for i in items]
        )
    return campaign


def _half_way(version: BenchmarkVersion) -> bool:
    row = BenchmarkVersion.objects.get(pk=version.pk)
    return 0 < row.people_done < row.people_total


def test_a_version_survives_a_killed_worker(integration_services: None, tmp_path: Path) -> None:
    from tasks.benchmarks import publish_version_task

    dataset = DatasetFactory()
    campaign = _campaign(dataset)
    version = version_publish_request(
        benchmark=benchmark_create(name="survivor"), campaigns=[campaign], enqueue=False
    )
    queue = f"killtest-{uuid.uuid4().hex[:8]}"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    # Two people between heartbeats: the first worker is seen mid-way, then killed.
    slow = {"PUBLISH_CHUNK": "2"}
    with celery_worker_process(
        tmp_path / "a.log", queues=queue, processes=processes, extra_env=slow
    ) as first:
        publish_version_task.apply_async(args=[version.pk], queue=queue)
        wait_for(lambda: _half_way(version), timeout=120)
        processes[first].send_signal(signal.SIGKILL)
        processes[first].wait(timeout=30)
    version.refresh_from_db()
    assert version.status == "running"
    assert version.worker == first
    assert 0 < version.people_done < PEOPLE
    assert not version.file

    # The sweeper sees its stale heartbeat and queues it again (its message goes to the default
    # queue, where the lane's shared worker may take it); a second worker of this test is there
    # too. Whichever claims it builds it, once.
    later = timezone.now() + timedelta(hours=1)
    assert sweep_stale_work(SWEPT, now=later)["benchmark versions"]["requeued"] == 1
    with celery_worker_process(tmp_path / "b.log", queues=queue):
        publish_version_task.apply_async(args=[version.pk], queue=queue)
        wait_for(lambda: BenchmarkVersion.objects.get(pk=version.pk).status == "done", timeout=180)
    version.refresh_from_db()
    assert version.worker != first
    assert (version.attempts, version.people) == (2, PEOPLE)
    with default_storage.open(version.file.name, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == version.sha256
