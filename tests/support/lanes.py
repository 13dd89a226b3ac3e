"""How a lane treats a missing service or host capability: skipped on a developer's machine,
failed under CI (CI=true), where every lane must really run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail under CI, where every lane must really run."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)
