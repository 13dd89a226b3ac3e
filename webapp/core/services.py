"""Writes of the core app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.models import WorkerHeartbeat


@transaction.atomic
def worker_heartbeat_record(
    *,
    hostname: str,
    pid: int | None,
    queues: str = "",
    torch_device: str = "",
    renderer_backend: str = "",
) -> WorkerHeartbeat:
    """Record that worker `hostname` is alive, with what it can do; returns the row."""
    if not hostname:
        raise ValueError("worker hostname is empty")
    fields = {
        "last_seen": timezone.now(),
        "pid": pid,
        "queues": queues[:255],
        "torch_device": torch_device[:64],
        "renderer_backend": renderer_backend[:32],
    }
    beat, created = WorkerHeartbeat.objects.select_for_update().get_or_create(
        hostname=hostname, defaults={**fields, "beats": 1}
    )
    if not created:
        WorkerHeartbeat.objects.filter(pk=beat.pk).update(**fields, beats=F("beats") + 1)
        beat.refresh_from_db()
    return beat


@transaction.atomic
def staff_user_ensure(
    *, username: str, password: str, email: str = "", reset: bool = True
) -> tuple[AbstractBaseUser, bool]:
    """Create superuser `username`, or (``reset``) reset its password and staff flags; an existing
    user is left as it is otherwise. Returns (user, created)."""
    if not username:
        raise ValueError("username is empty")
    if len(password) < 12:
        raise ValueError("password must be at least 12 characters")
    user_model = get_user_model()
    lookup: dict[str, Any] = {user_model.USERNAME_FIELD: username}
    user = user_model.objects.filter(**lookup).first()
    created = user is None
    if user is not None and not reset:
        return user, False
    if user is None:
        user = user_model(**lookup)
    user.set_password(password)
    for flag in ("is_staff", "is_superuser", "is_active"):
        setattr(user, flag, True)
    if email and hasattr(user, "email"):
        user.email = email
    user.full_clean(exclude=["password"])
    user.save()
    return user, created
