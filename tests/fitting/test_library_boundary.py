"""`fitting/` is a pure library: importable without Django (DESIGN.md); within it, inference loads
no training code, render workers load the body alone, and dataset readers load no torch."""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import fitting
import fitting.datasets
from tests.support.render import first_working_backend

ROOT = Path(__file__).resolve().parents[2]


def _modules_after_import(*names: str) -> set[str]:
    """The modules a fresh interpreter holds after importing ``names``."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(names)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def _in_packages(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


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
    report = json.loads(proc.stdout)
    assert report["torch"]["device"] == "cpu"
    # The renderer it names is the first of its default order (egl, osmesa) that renders on this
    # host, each probed here the same way; None where none does (the report still prints).
    expected = first_working_backend(["egl", "osmesa"])
    assert report["renderer"]["backend"] == expected
    tried = [(p["backend"], p["ok"]) for p in report["renderer"]["probes"]]
    assert tried[-1] == ((expected, True) if expected else ("osmesa", False))


def test_inference_loads_no_training_code() -> None:
    loaded = _modules_after_import("fitting.fit", "fitting.eft", "fitting.pipeline", "fitting.render.overlay")
    assert "fitting.fit" in loaded  # the check sees what was imported
    assert "fitting.regressor.inputs" in loaded
    assert _in_packages(loaded, "fitting.train") == []


def test_render_workers_load_the_body_alone() -> None:
    loaded = _modules_after_import("fitting.render.overlay", "fitting.body.model")
    assert "fitting.body.model" in loaded
    assert _in_packages(loaded, "fitting.regressor", "fitting.train", "fitting.fit") == []


def test_dataset_readers_load_no_torch() -> None:
    readers = [f"fitting.datasets.{m.name}" for m in pkgutil.iter_modules(fitting.datasets.__path__)]
    assert {"fitting.datasets.coco", "fitting.datasets.archive"} <= set(readers)
    loaded = _modules_after_import(
        "fitting.datasets", *readers, "fitting.joints", "fitting.geometry.camera", "fitting.assets"
    )
    assert set(readers) <= loaded
    assert _in_packages(loaded, "torch") == []
