"""A real Celery worker process on Redis executes a task that writes to PostgreSQL."""

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from fitting.assets import BOOTSTRAP_REGRESSOR_PATH, OPEN_BODY_PATH
from tests.support.render import first_working_backend
from tests.support.worker import wait_for
from webapp.celery import app
from webapp.core.models import WorkerHeartbeat

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def test_services_are_the_real_ones(integration_services: None) -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")
    assert app.conf.broker_url.startswith("redis://")


def test_worker_writes_heartbeat_to_postgresql(real_worker: str) -> None:
    from tasks.core import worker_heartbeat

    worker_heartbeat.delay()
    wait_for(lambda: WorkerHeartbeat.objects.filter(hostname=real_worker).exists())
    app.send_task("tasks.core.worker_heartbeat")
    wait_for(lambda: WorkerHeartbeat.objects.get(hostname=real_worker).beats == 2)
    beat = WorkerHeartbeat.objects.get(hostname=real_worker)
    # The worker names the first configured render backend that renders on this host (probed
    # here the same way), "none" where none does.
    assert beat.renderer_backend == (first_working_backend(settings.EFT_RENDER_BACKENDS) or "none")
    assert beat.queues == "celery,gpu,render"  # the worker's -Q (tests/support/worker.py), sorted


def test_healthz_sees_postgresql_redis_and_the_worker(real_worker: str, client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["vendor"] == "postgresql"
    assert checks["broker"]["transport"] == "redis"
    assert real_worker in checks["worker"]["workers"]
    # Database, broker and worker are up and the shipped body and regressor are in fitting/data,
    # so the only check that can be down is the renderer: "ok" with one, else "degraded".
    assert OPEN_BODY_PATH.is_file()
    assert BOOTSTRAP_REGRESSOR_PATH.is_file()
    renderer = first_working_backend(settings.EFT_RENDER_BACKENDS)
    assert checks["renderer"]["backend"] == (renderer or "none")
    assert response.json()["status"] == ("ok" if renderer else "degraded")
