"""Sign-in with throttled wrong passwords, for every path that checks a password (the admin and
staff sign-in form, the API's basic authentication).

Failures are counted per (username, client address) in the cache; after
``LOGIN_FAILURES_ALLOWED`` failures within ``LOGIN_FAILURE_WINDOW_SECONDS`` further attempts for
that pair are refused, right password or not, until the window has passed. A success clears the
count.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication
from rest_framework.request import Request


def _client(request: HttpRequest | Request | None) -> str:
    if request is None:
        return "-"
    meta = request.META
    if settings.USE_X_FORWARDED_FOR and meta.get("HTTP_X_FORWARDED_FOR"):
        # The address the nearest trusted proxy saw: entries further left are the client's own
        # word (anyone can send an X-Forwarded-For header).
        hops = [h.strip() for h in str(meta["HTTP_X_FORWARDED_FOR"]).split(",")]
        return hops[-min(settings.TRUSTED_PROXIES, len(hops))]
    return str(meta.get("REMOTE_ADDR", "-"))


def _key(username: str, request: HttpRequest | Request | None) -> str:
    digest = hashlib.sha256(f"{username.lower()}|{_client(request)}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def locked_for(username: str, request: HttpRequest | Request | None) -> int:
    """Seconds left before this username may try again from this address (0: it may now)."""
    failures: list[float] = cache.get(_key(username, request), [])
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    recent = [t for t in failures if t > time.time() - window]
    if len(recent) < settings.LOGIN_FAILURES_ALLOWED:
        return 0
    return max(int(min(recent) + window - time.time()) + 1, 1)


def record_failure(username: str, request: HttpRequest | Request | None) -> None:
    key = _key(username, request)
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    now = time.time()
    failures = [t for t in cache.get(key, []) if t > now - window]
    cache.set(key, [*failures, now], timeout=window)


class ThrottledModelBackend(ModelBackend):
    """Django's backend, refusing a (username, address) pair that failed too often."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        name = username if username is not None else str(kwargs.get("username", ""))
        if name and locked_for(name, request):
            raise PermissionDenied("too many failed sign-ins")  # stops the other backends too
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if name and user is None:
            record_failure(name, request)
        elif name:
            cache.delete(_key(name, request))
        return user


class ThrottledBasicAuthentication(BasicAuthentication):
    """The API's basic authentication, answering 429 with Retry-After while a pair is locked."""

    def authenticate_credentials(self, userid: str, password: str, request: Any = None) -> Any:
        wait = locked_for(userid, request)
        if wait:
            raise exceptions.Throttled(
                wait, detail=f"too many failed sign-ins for {userid!r}; try again in {wait} s"
            )
        return super().authenticate_credentials(userid, password, request)
