"""The integration lane: PostgreSQL and Redis over real connections, a real worker process.

`make test` runs it with DATABASE_URL and CELERY_BROKER_URL pointing at PostgreSQL and Redis.
Where they cannot be reached the lane is skipped on a developer's machine and fails under CI.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from pytest_django import DjangoDbBlocker

from fitting.synth.generate import SynthConfig, generate
from tests.support.lanes import skip_or_fail
from tests.support.worker import celery_worker_process
from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_create, dataset_delete, dataset_import


def _database_problem() -> str | None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        return f"DATABASE_URL is not PostgreSQL (engine {engine}); the integration lane needs it"
    import psycopg

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db.get("HOST") or "127.0.0.1",
            port=int(db.get("PORT") or 5432),
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            dbname=db["NAME"],
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {db.get('HOST')}:{db.get('PORT')} cannot be reached: {exc}".strip()
    return None


def _broker_problem() -> str | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        return f"CELERY_BROKER_URL is not Redis ({url.split('://')[0]}://); the integration lane needs it"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} cannot be reached: {exc}"
    return None


@pytest.fixture(scope="session")
def integration_services() -> None:
    """PostgreSQL and Redis are there (else skip_or_fail), and Redis holds no message of an
    earlier run: the lane's workers only ever see this run's messages."""
    for problem in (_database_problem(), _broker_problem()):
        if problem:
            skip_or_fail(problem)
    import redis

    # Messages left by an interrupted earlier run would reach this run's workers: drop them.
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for queue in ("celery", "gpu", "render"):
        client.delete(queue)
    # ... and messages killed workers left unacknowledged (kombu restores them later), and the
    # queues of the killed-worker tests (one per test: nobody reads them again).
    client.delete("unacked", "unacked_index", "unacked_mutex")
    for key in client.scan_iter("killtest-*"):
        client.delete(key)


@pytest.fixture(scope="session")
def real_worker(
    integration_services: None,
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """One worker process for the lane, on Redis, writing to the PostgreSQL test database."""
    log = Path(tmp_path_factory.mktemp("worker")) / "worker.log"
    with django_db_blocker.unblock(), celery_worker_process(log) as node:
        yield node


@pytest.fixture
def synthetic_dataset() -> Iterator[Dataset]:
    folder = Path(settings.DATASET_IMPORT_ROOTS[0]) / f"fit-{uuid.uuid4().hex[:8]}"
    generate(
        SynthConfig(people=4, seed=45, width=160, height=160, max_people_per_image=2), folder, progress=False
    )
    created = dataset_create(
        name=folder.name, source_format="coco", source_kind="server", source_location=str(folder),
        annotation_path="annotations.json", images_path="images", enqueue=False,
    )  # fmt: skip
    done = dataset_import(dataset_id=created.pk)
    assert done.status == Dataset.Status.DONE, done.error
    yield done
    dataset_delete(dataset=done)
    shutil.rmtree(folder, ignore_errors=True)
