"""The embedded profile for real: a Celery worker process on the filesystem broker, SQLite."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from fitting.assets import BOOTSTRAP_REGRESSOR_PATH, OPEN_BODY_PATH
from tests.support.render import first_working_backend
from tests.support.worker import celery_worker_process, wait_for
from webapp.celery import app
from webapp.core.models import WorkerHeartbeat

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # send_task always goes through the broker, which is the point here.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def test_worker_consumes_filesystem_broker_and_writes_sqlite(tmp_path: Path, client: Client) -> None:
    import torch

    assert app.conf.broker_url.startswith("filesystem://")
    # What the worker should find on this host: the first configured render backend that
    # renders here ("none" where none does) and, with EFT_TORCH_DEVICE=auto, CUDA when present.
    renderer = first_working_backend(settings.EFT_RENDER_BACKENDS)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with celery_worker_process(tmp_path / "worker.log") as node:
        app.send_task("tasks.core.worker_heartbeat")
        wait_for(lambda: WorkerHeartbeat.objects.filter(hostname=node).exists())
        beat = WorkerHeartbeat.objects.get(hostname=node)
        assert beat.renderer_backend == (renderer or "none")
        assert beat.torch_device == device
        assert beat.queues == "celery,gpu,render"  # the worker's -Q, sorted
        health = client.get("/healthz").json()
    assert node in health["checks"]["worker"]["workers"]
    assert health["checks"]["worker"]["ok"] is True
    # Database, broker and worker are up and the shipped body and regressor are in fitting/data,
    # so the only check that can be down is the renderer: "ok" with one, else "degraded".
    assert OPEN_BODY_PATH.is_file()
    assert BOOTSTRAP_REGRESSOR_PATH.is_file()
    assert health["checks"]["renderer"]["backend"] == (renderer or "none")
    assert health["status"] == ("ok" if renderer else "degraded")
