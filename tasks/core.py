"""Worker housekeeping tasks."""

from __future__ import annotations

import os
import socket
from functools import lru_cache

from celery import Task, shared_task
from django.conf import settings

from webapp.core.services import worker_heartbeat_record


@lru_cache(maxsize=1)
def _worker_capabilities() -> tuple[str, str]:
    """(torch device, render backend) of this worker process, probed once."""
    from fitting.device import describe_torch
    from fitting.render.backend import detect_backend

    torch_info = describe_torch(settings.EFT_TORCH_DEVICE)
    renderer = detect_backend(settings.EFT_RENDER_BACKENDS)
    return torch_info.device or f"error: {torch_info.error}", renderer.backend or "none"


@shared_task(name="tasks.core.worker_heartbeat", bind=True, ignore_result=True)
def worker_heartbeat(self: Task) -> int:  # type: ignore[type-arg]
    """Record the worker that runs this task, with its torch device and renderer."""
    device, renderer = _worker_capabilities()
    hostname = self.request.hostname or f"celery@{socket.gethostname()}"
    consumed = getattr(self.app.amqp.queues, "consume_from", None) or {}
    beat = worker_heartbeat_record(
        hostname=hostname,
        pid=os.getpid(),
        queues=",".join(sorted(consumed)),
        torch_device=device,
        renderer_backend=renderer,
    )
    return beat.pk
