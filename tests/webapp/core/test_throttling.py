"""The vote endpoint's rate limit: fixed windows, one atomic counter per client and window."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from webapp.core.throttling import WindowRateThrottle


class _View:
    throttle_scope = "test-scope"


def throttle_on(cache: BaseCache, rate: str, clock: list[float]) -> WindowRateThrottle:
    throttle = WindowRateThrottle()
    throttle.cache = cache
    throttle.THROTTLE_RATES = {"test-scope": rate}
    throttle.timer = lambda: clock[0]  # type: ignore[method-assign]
    return throttle


def request_from(address: str) -> Request:
    request = Request(APIRequestFactory().post("/api/crowd/votes/", REMOTE_ADDR=address))
    request.user = AnonymousUser()
    return request


def check_windows(cache: BaseCache) -> None:
    clock = [6000.0 + 10.0]  # 10 s into a minute
    throttle = throttle_on(cache, "3/min", clock)
    ann, bob = request_from("10.0.0.1"), request_from("10.0.0.2")
    assert [throttle.allow_request(ann, _View()) for _ in range(5)] == [True, True, True, False, False]
    assert throttle.wait() == pytest.approx(50.0)
    assert throttle.allow_request(bob, _View())  # each client counts on its own
    clock[0] = 6000.0 + 59.9
    assert not throttle.allow_request(ann, _View())
    clock[0] = 6000.0 + 60.0  # the next window
    assert [throttle.allow_request(ann, _View()) for _ in range(4)] == [True, True, True, False]


def check_no_request_goes_uncounted(cache: BaseCache) -> None:
    clock = [9000.0]
    rate, threads, each = 50, 8, 20
    barrier = threading.Barrier(threads)
    allowed: list[bool] = []
    lock = threading.Lock()

    def send() -> None:
        throttle = throttle_on(cache, f"{rate}/min", clock)
        request = request_from("10.0.0.9")
        barrier.wait()
        answers = [throttle.allow_request(request, _View()) for _ in range(each)]
        with lock:
            allowed.extend(answers)

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(allowed) == threads * each
    assert sum(allowed) == rate  # not one more: no count was lost to a race


def test_counts_in_fixed_windows_per_client() -> None:
    check_windows(LocMemCache("throttle-windows", {}))


def test_no_request_of_one_client_goes_uncounted_when_many_arrive_at_once() -> None:
    check_no_request_goes_uncounted(LocMemCache("throttle-race", {}))


def test_a_view_without_a_scope_is_not_limited() -> None:
    throttle = throttle_on(LocMemCache("throttle-none", {}), "1/min", [0.0])

    class Unscoped:
        pass

    request = request_from("10.0.0.3")
    assert all(throttle.allow_request(request, Unscoped()) for _ in range(5))
