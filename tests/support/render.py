"""Which headless OpenGL backends this host really has, found the way the app finds them: by
rendering in a child process (``fitting.render.backend.probe_backend``), once per test process.

Tests that need a renderer test the backends that work here and, for one that does not,
``skip_or_fail`` with the reason (the probe's own error, and whether its library is installed):
skipped on a developer's machine, failed under CI where `make test` installs both.
"""

from __future__ import annotations

import ctypes.util
from collections.abc import Sequence
from functools import cache

from fitting.render.backend import KNOWN_BACKENDS, BackendProbe, probe_backend
from tests.support.lanes import skip_or_fail

#: The shared library each backend loads, and the Debian packages that provide it (README.md).
LIBRARIES = {"egl": ("EGL", "libegl1 libegl-mesa0"), "osmesa": ("OSMesa", "libosmesa6")}


@cache
def backend_probe(backend: str) -> BackendProbe:
    """The outcome of rendering with ``backend`` here (cached: a probe takes a few seconds)."""
    return probe_backend(backend)


def why_not(backend: str) -> str:
    """Why ``backend`` does not render here, in one line."""
    library, packages = LIBRARIES.get(backend, (backend, "?"))
    found = ctypes.util.find_library(library)
    installed = (
        f"lib{library} is installed ({found})" if found else f"lib{library} is not installed ({packages})"
    )
    return (
        f"render backend {backend} does not work on this host: {backend_probe(backend).detail}; {installed}"
    )


def working_backends(order: Sequence[str] = KNOWN_BACKENDS) -> list[str]:
    return [backend for backend in order if backend_probe(backend).ok]


def first_working_backend(order: Sequence[str] = KNOWN_BACKENDS) -> str | None:
    """What ``detect_backend(order)`` should answer on this host."""
    working = working_backends(order)
    return working[0] if working else None


def require_backend(backend: str) -> BackendProbe:
    """The probe of a backend that works here; skip_or_fail with the reason otherwise."""
    probe = backend_probe(backend)
    if not probe.ok:
        skip_or_fail(why_not(backend))
    return probe


def require_any_backend(order: Sequence[str] = KNOWN_BACKENDS) -> str:
    """The first backend of ``order`` that works here; skip_or_fail naming each failure otherwise."""
    backend = first_working_backend(order)
    if backend is None:
        skip_or_fail("no headless render backend works here: " + " | ".join(why_not(b) for b in order))
    return backend
