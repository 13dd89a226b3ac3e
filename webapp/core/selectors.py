"""Reads of the core app: the health report behind /healthz and the staff status page."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from webapp.celery import app as celery_app
from webapp.core.models import WorkerHeartbeat

Check = dict[str, Any]

_probe_lock = threading.Lock()
_probe_cache: tuple[float, Check] | None = None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def check_database() -> Check:
    start = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "vendor": connection.vendor, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "vendor": connection.vendor, "latency_ms": _ms(start)}


def _redacted_broker_url() -> str:
    try:
        with celery_app.connection_for_read() as conn:
            return str(conn.as_uri())  # kombu masks the password
    except Exception:
        return str(settings.CELERY_BROKER_URL).split("://", 1)[0] + "://…"


def check_broker(timeout: int = 2) -> Check:
    start = time.perf_counter()
    url = _redacted_broker_url()
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            transport = conn.transport_cls
    except Exception as exc:
        return {"ok": False, "url": url, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "url": url, "transport": str(transport), "latency_ms": _ms(start)}


def check_workers(timeout: float = 1.5) -> Check:
    """Ping the workers through the broker; only a worker that answers counts."""
    start = time.perf_counter()
    try:
        replies = celery_app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return {"ok": False, "workers": [], "error": f"{type(exc).__name__}: {exc}"}
    names = sorted(name for reply in replies for name in reply)
    result: Check = {"ok": bool(names), "workers": names, "latency_ms": _ms(start)}
    if not names:
        result["error"] = f"no worker answered a ping within {timeout:.1f} s"
    return result


def _run_host_probe() -> Check:
    command = [
        sys.executable,
        "-m",
        "fitting",
        "probe",
        "--json",
        "--device",
        settings.EFT_TORCH_DEVICE,
        "--backends",
        ",".join(settings.EFT_RENDER_BACKENDS),
    ]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        return {"error": "the host probe timed out after 180 s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        return {"error": f"the host probe failed: {tail[0][:300]}"}
    report: Check = json.loads(proc.stdout)
    return report


def host_capabilities(*, refresh: bool = False) -> Check:
    """Torch device and render backend of this host, probed in a child process.

    The web process never imports torch or OpenGL; the probe costs a few seconds, so its
    answer is kept for HEALTH_PROBE_TTL seconds.
    """
    global _probe_cache
    with _probe_lock:
        now = time.monotonic()
        if refresh or _probe_cache is None or now - _probe_cache[0] > settings.HEALTH_PROBE_TTL:
            _probe_cache = (now, _run_host_probe())
        return _probe_cache[1]


def check_renderer(capabilities: Check) -> Check:
    if "error" in capabilities:
        return {"ok": False, "backend": None, "error": capabilities["error"]}
    renderer = capabilities["renderer"]
    tried = {p["backend"]: ("ok" if p["ok"] else p["detail"]) for p in renderer["probes"]}
    result: Check = {
        "ok": renderer["backend"] is not None,
        "backend": renderer["backend"] or "none",
        "tried": tried,
    }
    if renderer["backend"] is None:
        result["error"] = "no headless OpenGL backend works (install libegl1 libegl-mesa0 or libosmesa6)"
    return result


def check_torch(capabilities: Check) -> Check:
    if "error" in capabilities:
        return {"ok": False, "error": capabilities["error"]}
    info = capabilities["torch"]
    result: Check = {
        "ok": info["error"] is None,
        "device": info["device"] or None,
        "requested": info["requested"],
        "cuda_available": info["cuda_available"],
        "cuda_devices": info["cuda_devices"],
        "torch_version": info["torch_version"],
    }
    if info["error"]:
        result["error"] = info["error"]
    return result


def _model_file(configured: Path | None, shipped: Path, label: str, *, expose_path: bool) -> Check:
    """A configured model file, or else the one shipped in fitting/data."""
    if configured is None:
        result: Check = {"ok": shipped.is_file(), "configured": False, "which": f"{label} ({shipped.name})"}
        if not result["ok"]:
            result["error"] = (
                f"no file configured and the shipped {shipped.name} is missing from fitting/data"
            )
        return result
    exists = configured.is_file()
    result = {"ok": exists, "configured": True, "which": configured.name}
    if expose_path:
        result["path"] = str(configured)
    if exists:
        result["size_bytes"] = configured.stat().st_size
    else:
        result["error"] = f"configured file {configured.name} does not exist or is not a file"
    return result


def check_body_model(*, expose_path: bool = False) -> Check:
    from fitting.assets import OPEN_BODY_PATH  # plain paths: no torch is imported

    return _model_file(settings.EFT_BODY_MODEL_PATH, OPEN_BODY_PATH, "open body", expose_path=expose_path)


def check_regressor(*, expose_path: bool = False) -> Check:
    from fitting.assets import BOOTSTRAP_REGRESSOR_PATH

    return _model_file(
        settings.EFT_REGRESSOR_CHECKPOINT,
        BOOTSTRAP_REGRESSOR_PATH,
        "bootstrap regressor",
        expose_path=expose_path,
    )


def health_report(*, expose_paths: bool = False, refresh_probe: bool = False) -> Check:
    """Everything /healthz reports. `status` is ok when database, broker and a worker are ok."""
    capabilities = host_capabilities(refresh=refresh_probe)
    checks: Check = {
        "database": check_database(),
        "broker": check_broker(),
        "worker": check_workers(),
        "renderer": check_renderer(capabilities),
        "torch": check_torch(capabilities),
        "body_model": check_body_model(expose_path=expose_paths),
        "regressor": check_regressor(expose_path=expose_paths),
    }
    if all(checks[name]["ok"] for name in checks):
        status = "ok"
    elif checks["database"]["ok"] and checks["broker"]["ok"]:
        status = "degraded"
    else:
        status = "error"
    return {"status": status, "checks": checks}


def worker_heartbeats() -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.all()[:50])
