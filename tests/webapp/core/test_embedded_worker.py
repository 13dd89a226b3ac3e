"""The embedded profile for real: a Celery worker process on the filesystem broker, SQLite."""

from pathlib import Path

import pytest
from django.test import Client

from tests.support.worker import celery_worker_process, wait_for
from webapp.celery import app
from webapp.core.models import WorkerHeartbeat

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # send_task always goes through the broker, which is the point here.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def test_worker_consumes_filesystem_broker_and_writes_sqlite(tmp_path: Path, client: Client) -> None:
    assert app.conf.broker_url.startswith("filesystem://")
    with celery_worker_process(tmp_path / "worker.log") as node:
        app.send_task("tasks.core.worker_heartbeat")
        wait_for(lambda: WorkerHeartbeat.objects.filter(hostname=node).exists())
        beat = WorkerHeartbeat.objects.get(hostname=node)
        assert beat.renderer_backend == "egl"
        assert beat.torch_device in {"cpu", "cuda"}
        assert beat.queues == "celery,gpu,render"
        health = client.get("/healthz").json()
    assert node in health["checks"]["worker"]["workers"]
    assert health["checks"]["worker"]["ok"] is True
    # Database, broker and worker are up, so the report is at worst "degraded" (an optional
    # component such as the body asset may still be missing), and "ok" exactly when all are ok.
    checks_now = health["checks"]
    expected = "ok" if all(check["ok"] for check in checks_now.values()) else "degraded"
    assert health["status"] == expected
