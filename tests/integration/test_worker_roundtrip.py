"""A real Celery worker process on Redis executes a task that writes to PostgreSQL."""

import pytest
from django.db import connection
from django.test import Client

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
    assert beat.renderer_backend in {"egl", "osmesa"}
    assert beat.queues == "celery,gpu,render"


def test_healthz_sees_postgresql_redis_and_the_worker(real_worker: str, client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["vendor"] == "postgresql"
    assert checks["broker"]["transport"] == "redis"
    assert real_worker in checks["worker"]["workers"]
    # Database, broker and worker are up, so the report is at worst "degraded" (an optional
    # component such as the body asset may still be missing), and "ok" exactly when all are ok.
    checks_now = response.json()["checks"]
    expected = "ok" if all(check["ok"] for check in checks_now.values()) else "degraded"
    assert response.json()["status"] == expected
