"""A real Celery worker process for tests, pointed at the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from webapp.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """DATABASE_URL of the database pytest-django created (test_<name> or the SQLite test file)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        user = s.get("USER") or ""
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"
    raise RuntimeError(f"no worker support for database vendor {connection.vendor}")


@contextmanager
def celery_worker_process(
    log_path: Path,
    *,
    startup_timeout: float = 90.0,
    queues: str = "celery,gpu,render",
    extra_env: dict[str, str] | None = None,
    processes: dict[str, subprocess.Popen[bytes]] | None = None,
) -> Iterator[str]:
    """Start `celery worker` as a child process on the configured broker; yield its node name.

    The worker reads the same settings as the tests, with DATABASE_URL pointed at the test
    database, so rows it writes are visible to the test (use transactional_db).
    """
    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    env = dict(
        os.environ, DATABASE_URL=test_database_url(), CELERY_TASK_ALWAYS_EAGER="false", **(extra_env or {})
    )
    command = [
        sys.executable, "-m", "celery", "-A", "webapp", "worker",
        "--pool", "solo", "-Q", queues, "-n", name,
        "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    ]  # fmt: skip
    log = log_path.open("w")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if processes is not None:
        processes[name] = proc  # so a test can kill it
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if celery_app.control.ping(destination=[name], timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"worker not ready in {startup_timeout:.0f} s:\n{log_path.read_text()[-3000:]}"
                )
        yield name
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for(predicate: Callable[[], object], *, timeout: float = 60.0, interval: float = 0.2) -> None:
    """Poll `predicate()` until it is truthy; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:.0f} s")
