"""Who may see the API docs, throttled wrong passwords, the favicon, the staff user's password."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery-staple"


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def boss(settings: Any) -> Any:
    settings.LOGIN_FAILURES_ALLOWED = 3
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 600
    return get_user_model().objects.create_user("boss", password=PASSWORD, is_staff=True, is_superuser=True)


def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def test_api_docs_and_schema_are_for_staff(client: Client, boss: Any) -> None:
    assert client.get("/api/schema/").status_code == 403
    docs = client.get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"].startswith("/admin/login/")
    get_user_model().objects.create_user("worker", password=PASSWORD)
    client.login(username="worker", password=PASSWORD)
    assert client.get("/api/schema/").status_code == 403
    assert client.get("/api/docs/").status_code == 302
    client.login(username="boss", password=PASSWORD)
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_wrong_api_passwords_are_throttled(client: Client, boss: Any) -> None:
    assert client.get("/api/datasets/", **_basic("boss", PASSWORD)).status_code == 200
    for _ in range(3):
        assert client.get("/api/datasets/", **_basic("boss", "guess")).status_code in (401, 403)
    locked = client.get("/api/datasets/", **_basic("boss", PASSWORD))  # even the right one now
    assert locked.status_code == 429
    assert 500 < int(locked["Retry-After"]) <= 600
    assert "too many failed sign-ins for 'boss'" in locked.json()["detail"]
    # Another address is not locked out by this one's guesses.
    assert client.get("/api/datasets/", REMOTE_ADDR="10.0.0.9", **_basic("boss", PASSWORD)).status_code == 200


def test_wrong_form_passwords_are_throttled(client: Client, boss: Any) -> None:
    for _ in range(3):
        assert not client.login(username="boss", password="guess")
    assert not client.login(username="boss", password=PASSWORD)
    cache.clear()  # the window has passed
    assert client.login(username="boss", password=PASSWORD)


def test_a_success_clears_the_count(client: Client, boss: Any) -> None:
    for _ in range(2):
        assert not client.login(username="boss", password="guess")
    assert client.login(username="boss", password=PASSWORD)
    for _ in range(2):
        assert not client.login(username="boss", password="guess")
    assert client.login(username="boss", password=PASSWORD)  # 2 + 2 failures, never 3 in a row


def test_favicon(client: Client) -> None:
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    assert answer["Location"] == "/static/favicon.svg"


def test_staff_user_keeps_its_password_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("ensure_staff_user", "--username", "chief")
    first = capsys.readouterr().out
    assert first.startswith("Staff user created: username chief  password ")
    password = first.split("password ")[1].strip()
    call_command("ensure_staff_user", "--username", "chief")
    assert capsys.readouterr().out.strip() == (
        "Staff user chief exists; its password is unchanged "
        "(a new one: .venv/bin/python manage.py changepassword chief)"
    )
    assert Client().login(username="chief", password=password)
    call_command("ensure_staff_user", "--username", "chief", "--reset-password")
    assert capsys.readouterr().out.startswith("Staff user password reset for: username chief  password ")
    assert not Client().login(username="chief", password=password)
