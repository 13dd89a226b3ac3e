"""Fixtures every test package shares. Helpers live in tests/support/ (import them from there),
factories in tests/factories.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client

# Re-exported for modules that still import them from here; new code imports tests.support.*.
from tests.support.lanes import in_ci, skip_or_fail
from tests.support.users import STAFF_PASSWORD, STAFF_USERNAME

__all__ = ["STAFF_PASSWORD", "in_ci", "skip_or_fail"]


@pytest.fixture
def staff_user(db: None) -> AbstractBaseUser:
    user_model = get_user_model()
    return user_model.objects.create_user(
        username=STAFF_USERNAME, password=STAFF_PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(client: Client, staff_user: AbstractBaseUser) -> Client:
    """The Django test client, signed in as the staff user."""
    assert client.login(username=STAFF_USERNAME, password=STAFF_PASSWORD)
    return client


@pytest.fixture
def media(tmp_path: Path, settings: Any) -> Path:
    """Media storage (default_storage) in this test's own folder; factories write files there."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def fit_job_with_fits(db: None, media: Path) -> Callable[..., Any]:
    """Make a done fit job of stored fits, without running EFT: ``fit_job_with_fits(3)`` is a job
    over a new dataset of 3 people with one fit each and their done crop, camera and side renders;
    ``failing=n`` makes the first n fits fail the paper's sanity rule (see tests/factories.py)."""
    from tests.factories import done_fit_job

    return done_fit_job
