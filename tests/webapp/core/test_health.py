from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.support.render import first_working_backend
from webapp.core import selectors

pytestmark = pytest.mark.django_db

CHECKS = {"database", "broker", "worker", "renderer", "torch", "body_model", "regressor"}


def test_healthz_reports_every_component_without_a_worker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == CHECKS
    checks = body["checks"]
    assert set(checks["database"]) == {"ok", "vendor", "latency_ms"}
    assert (checks["database"]["ok"], checks["database"]["vendor"]) == (True, "sqlite")
    assert 0 <= checks["database"]["latency_ms"] < 5_000  # a real round trip, in milliseconds
    assert checks["broker"]["ok"] is True
    assert checks["broker"]["transport"] == "filesystem"
    # No worker runs in this test: the ping really goes out and nobody answers.
    assert checks["worker"]["ok"] is False
    assert checks["worker"]["workers"] == []
    assert "no worker answered" in checks["worker"]["error"]
    assert body["status"] == "degraded"
    # The renderer is found by rendering: what works on this host, tried in the configured order
    # (each backend probed here the same way; "none" where nothing renders).
    order = django_settings.EFT_RENDER_BACKENDS
    expected = first_working_backend(order)
    assert checks["renderer"]["backend"] == (expected or "none")
    assert checks["renderer"]["ok"] is (expected is not None)
    tried = checks["renderer"]["tried"]
    if expected is None:
        assert set(tried) == set(order)
        assert "ok" not in tried.values()
    else:
        assert list(tried) == order[: order.index(expected) + 1]  # it stops at the first that works
        assert tried[expected] == "ok"
    assert checks["torch"]["device"] in {"cpu", "cuda"}
    from fitting.assets import OPEN_BODY_PATH

    assert checks["body_model"]["configured"] is False
    assert checks["body_model"]["which"] == "open body (open_body.npz)"
    assert checks["body_model"]["ok"] is OPEN_BODY_PATH.is_file()
    assert checks["regressor"]["configured"] is False
    assert checks["regressor"]["which"] == "bootstrap regressor (bootstrap_hmr.pt)"


def test_configured_files_are_named_and_missing_ones_flagged(
    client: Client, settings: SettingsWrapper, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "model_checkpoint.pt"
    checkpoint.write_bytes(b"0" * 128)
    settings.EFT_REGRESSOR_CHECKPOINT = checkpoint
    settings.EFT_BODY_MODEL_PATH = tmp_path / "SMPL_NEUTRAL.pkl"
    checks = client.get("/healthz").json()["checks"]
    assert checks["regressor"] == {
        "ok": True,
        "configured": True,
        "which": "model_checkpoint.pt",
        "size_bytes": 128,
    }
    assert checks["body_model"]["ok"] is False
    assert "SMPL_NEUTRAL.pkl does not exist" in checks["body_model"]["error"]
    assert "path" not in checks["body_model"]  # anonymous callers do not see server paths


def test_broker_down_gives_503(client: Client, settings: SettingsWrapper) -> None:
    from webapp.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["broker"]["ok"] is False
    assert "127.0.0.1:1" in body["checks"]["broker"]["url"]


def test_host_probe_is_cached_until_refresh(settings: SettingsWrapper) -> None:
    first = selectors.host_capabilities()
    assert selectors.host_capabilities() is first
    assert selectors.host_capabilities(refresh=True) is not first


def test_status_page_needs_staff(client: Client) -> None:
    response = client.get("/staff/status/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_status_page_shows_each_check_to_staff(staff_client: Client) -> None:
    response = staff_client.get("/staff/status/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in CHECKS:
        assert f'id="check-{name}"' in html
    assert "no worker answered" in html
    assert "No worker has reported yet" in html


def test_staff_see_configured_paths(staff_client: Client, settings: SettingsWrapper, tmp_path: Path) -> None:
    settings.EFT_BODY_MODEL_PATH = tmp_path / "SMPL_NEUTRAL.pkl"
    checks = staff_client.get("/healthz").json()["checks"]
    assert checks["body_model"]["path"] == str(tmp_path / "SMPL_NEUTRAL.pkl")
