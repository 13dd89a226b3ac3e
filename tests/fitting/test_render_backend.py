"""Finding a headless OpenGL backend by rendering with it.

Each backend is probed on this host first (tests/support/render.py): the tests run for the
backends that render here, and a backend that does not is skipped with the reason (its probe's
error and whether its library is installed), failed under CI where `make test` installs both.
"""

import re

import pytest

from fitting.render.backend import KNOWN_BACKENDS, detect_backend, select_platform
from tests.support.render import require_backend


@pytest.mark.parametrize("backend", KNOWN_BACKENDS)
def test_each_installed_backend_renders_pixels(backend: str) -> None:
    probe = require_backend(backend)
    # The probe draws the triangle (-1, -1), (1, -1), (0, 1) (area 2) through an orthographic
    # camera 3 units wide and high (area 9): about 2/9 of the 32 x 32 frame is covered.
    found = re.fullmatch(r"rendered 32x32, coverage (\d\.\d\d)", probe.detail)
    assert found, probe.detail
    assert float(found.group(1)) == pytest.approx(2 / 9, abs=0.05)


@pytest.mark.parametrize("backend", KNOWN_BACKENDS)
def test_detect_stops_at_first_working_backend(backend: str) -> None:
    require_backend(backend)
    others = [b for b in KNOWN_BACKENDS if b != backend]
    report = detect_backend([backend, *others])
    assert report.backend == backend
    assert [p.backend for p in report.probes] == [backend]  # the others are never tried


@pytest.mark.parametrize("backend", KNOWN_BACKENDS)
def test_detect_skips_a_broken_backend(backend: str) -> None:
    require_backend(backend)
    report = detect_backend(["nonsense", backend])
    assert report.backend == backend
    assert [(p.backend, p.ok) for p in report.probes] == [("nonsense", False), (backend, True)]
    assert "unknown backend" in report.probes[0].detail


def test_detect_reports_none_when_nothing_works() -> None:
    report = detect_backend(["nonsense"])
    assert report.backend is None
    assert [(p.backend, p.ok) for p in report.probes] == [("nonsense", False)]


def test_select_platform_refuses_unknown_name() -> None:
    with pytest.raises(ValueError, match="vulkan"):
        select_platform("vulkan")
