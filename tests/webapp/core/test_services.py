import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from webapp.core.models import WorkerHeartbeat
from webapp.core.services import staff_user_ensure, worker_heartbeat_record

pytestmark = pytest.mark.django_db


def test_heartbeat_creates_then_counts() -> None:
    first = worker_heartbeat_record(hostname="celery@a", pid=10, torch_device="cpu", renderer_backend="egl")
    second = worker_heartbeat_record(hostname="celery@a", pid=11, torch_device="cuda", renderer_backend="egl")
    assert first.pk == second.pk
    assert second.beats == 2
    assert second.pid == 11
    assert second.torch_device == "cuda"
    assert second.last_seen >= first.last_seen
    assert WorkerHeartbeat.objects.count() == 1


def test_heartbeat_refuses_empty_hostname() -> None:
    with pytest.raises(ValueError, match="hostname"):
        worker_heartbeat_record(hostname="", pid=None)


def test_staff_user_is_created_then_reset() -> None:
    user, created = staff_user_ensure(username="admin", password="first-password-123")
    assert created
    assert user.is_staff
    assert user.is_superuser
    again, created = staff_user_ensure(username="admin", password="second-password-456")
    assert not created
    assert again.pk == user.pk
    again.refresh_from_db()
    assert again.check_password("second-password-456")
    assert not again.check_password("first-password-123")


def test_staff_user_refuses_short_password() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        staff_user_ensure(username="admin", password="short")
    assert not get_user_model().objects.exists()


def test_ensure_staff_user_command_prints_working_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("ensure_staff_user", "--username", "boss")
    out = capsys.readouterr().out
    assert "Staff user created: username boss  password " in out
    password = out.rsplit("password ", 1)[1].strip()
    assert get_user_model().objects.get(username="boss").check_password(password)
