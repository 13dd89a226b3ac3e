import pytest

from fitting.render.backend import KNOWN_BACKENDS, detect_backend, probe_backend, select_platform


@pytest.mark.parametrize("backend", KNOWN_BACKENDS)
def test_each_installed_backend_renders_pixels(backend: str) -> None:
    # bootstrap.sh installs both EGL (Mesa) and OSMesa, so both must render here.
    probe = probe_backend(backend)
    assert probe.ok, probe.detail
    assert "coverage" in probe.detail


def test_detect_stops_at_first_working_backend() -> None:
    report = detect_backend(["egl", "osmesa"])
    assert report.backend == "egl"
    assert [p.backend for p in report.probes] == ["egl"]


def test_detect_skips_a_broken_backend() -> None:
    report = detect_backend(["nonsense", "osmesa"])
    assert report.backend == "osmesa"
    assert not report.probes[0].ok
    assert "unknown backend" in report.probes[0].detail


def test_detect_reports_none_when_nothing_works() -> None:
    report = detect_backend(["nonsense"])
    assert report.backend is None


def test_select_platform_refuses_unknown_name() -> None:
    with pytest.raises(ValueError, match="vulkan"):
        select_platform("vulkan")
