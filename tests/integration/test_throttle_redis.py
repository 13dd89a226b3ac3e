"""The vote throttle on Redis, the production cache: windows and no lost count under a race."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from tests.webapp.core.test_throttling import check_no_request_goes_uncounted, check_windows

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_cache(integration_services: None) -> Iterator[Any]:
    import redis
    from django.core.cache.backends.redis import RedisCache

    # The broker's own database: only this test's keys are removed (never a FLUSHDB there).
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    prefix = f"throttle-test-{uuid.uuid4().hex[:8]}"

    def drop() -> None:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)

    yield RedisCache(settings.CELERY_BROKER_URL, {"KEY_PREFIX": prefix})
    drop()


def test_counts_in_fixed_windows_on_redis(redis_cache: Any) -> None:
    check_windows(redis_cache)


def test_no_request_goes_uncounted_on_redis(redis_cache: Any) -> None:
    check_no_request_goes_uncounted(redis_cache)
