"""`fitting/` is a pure library: importable without Django (DESIGN.md)."""

import subprocess
import sys
from pathlib import Path

import fitting

ROOT = Path(__file__).resolve().parents[2]


def test_fitting_never_imports_django() -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in Path(fitting.__file__).parent.rglob("*.py")
        if path.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'webapp')))\n"
        "print(leaked)\n"
        "sys.exit(1 if leaked else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fitting.probe" in modules


def test_cli_probe_prints_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fitting", "probe", "--json", "--device", "cpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    import json

    report = json.loads(proc.stdout)
    assert report["torch"]["device"] == "cpu"
    assert report["renderer"]["backend"] in {"egl", "osmesa"}
