"""Rate limits counted in fixed windows: one atomic counter per client and window."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle


class WindowRateThrottle(ScopedRateThrottle):
    """DRF's scoped rates (``DEFAULT_THROTTLE_RATES``) and client identity, counted in fixed
    windows of the rate's period with the cache's atomic ``incr``.

    DRF's own throttles keep a list of every request's time per client, read, changed and
    written back by each request: requests of one client at the same moment overwrite each
    other's entries (some go uncounted), and the list, unpickled and pickled on every request,
    grows with the rate. Here each request costs the same whatever the rate, and none is lost
    to a race. A client may send up to twice its rate across the boundary of two windows; for a
    limit against floods and runaway pages that is enough."""

    wait_seconds: float = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        ident = self.get_cache_key(request, view)
        limit, period = self.num_requests, self.duration
        if ident is None or limit is None or period is None:  # no rate for the scope: no limit
            return True
        now = self.timer()
        window = int(now // period)
        self.wait_seconds = (window + 1) * period - now
        # The window is part of the key: a key is never used again once its window is over, and
        # it lives two windows (never expires while in use).
        key = f"{ident}:{window}"
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's first request
            count = 1 if self.cache.add(key, 1, timeout=2 * period) else self.cache.incr(key)
        return bool(count <= limit)

    def wait(self) -> float:
        return self.wait_seconds
