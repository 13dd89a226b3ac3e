from __future__ import annotations

from typing import Any

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last word from each Celery worker: when it was seen and what it can do.

    Written by the periodic `tasks.core.worker_heartbeat` task (run on each worker through the
    beat schedule), so staff can tell which workers have a GPU or a working renderer.
    """

    hostname = models.CharField(max_length=255, unique=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    pid = models.PositiveIntegerField(null=True, blank=True)
    queues = models.CharField(max_length=255, blank=True)
    torch_device = models.CharField(max_length=64, blank=True)
    renderer_backend = models.CharField(max_length=32, blank=True)
    beats = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ("-last_seen",)

    def __str__(self) -> str:
        return f"{self.hostname} ({self.last_seen:%Y-%m-%d %H:%M:%S})"


def field_default(model: type[models.Model], name: str) -> Any:
    """A model field's default: the one place it is stated (forms and commands read it)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field.get_default()
