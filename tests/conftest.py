from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

STAFF_PASSWORD = "correct-horse-battery-staple"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where every lane must really run."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def staff_user(db: None) -> AbstractBaseUser:
    user_model = get_user_model()
    return user_model.objects.create_user(
        username="staff", password=STAFF_PASSWORD, is_staff=True, is_superuser=True
    )
