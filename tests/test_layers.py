"""The structure of docs/ARCHITECTURE.md, read from the code's own imports (every ``import`` and
``from ... import`` anywhere in a module, lazy ones inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph(package: str) -> dict[str, set[str]]:
    return {
        _module(path): _imports(path)
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _hits(graph: dict[str, set[str]], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for module, imported in graph.items():
        bad = sorted(
            name
            for name in imported
            if name in forbidden or name.startswith(tuple(f"{f}." for f in forbidden))
        )
        if bad:
            hits[module] = bad
    return hits


WEB = _graph("webapp")
TASKS = _graph("tasks")
FITTING = _graph("fitting")

#: fitting modules that load torch, or that are training-only: the web process never imports them.
TORCH_BOUND = (
    "torch", "fitting.body", "fitting.eft", "fitting.fit", "fitting.pipeline", "fitting.smplify",
    "fitting.regressor", "fitting.train", "fitting.synth", "fitting.compare", "fitting.render.overlay",
    "fitting.render.mesh", "fitting.render.backend",
)  # fmt: skip


def test_the_graph_is_read() -> None:
    assert "webapp.fits.services" in WEB
    assert "fitting.pipeline" in WEB["webapp.fits.services"]  # the lazy import inside _run
    assert "webapp.fits.services" in TASKS["tasks.fits"]


def test_fitting_never_imports_the_app() -> None:
    assert _hits(FITTING, ("django", "webapp", "tasks", "rest_framework", "celery")) == {}


def test_inference_and_rendering_never_import_training() -> None:
    inference = {m: i for m, i in FITTING.items() if not m.startswith(("fitting.train", "fitting.compare"))}
    inference.pop("fitting.__main__")  # the CLI offers the train command
    assert _hits(inference, ("fitting.train",)) == {}
    render = {m: i for m, i in FITTING.items() if m.startswith("fitting.render")}
    assert _hits(render, ("fitting.regressor", "fitting.fit", "fitting.eft", "fitting.pipeline")) == {}


def test_core_depends_on_no_other_app() -> None:
    core = {m: i for m, i in WEB.items() if m.startswith("webapp.core")}
    assert _hits(core, ("webapp.datasets", "webapp.fits", "tasks")) == {}


def test_datasets_do_not_know_fits() -> None:
    datasets = {m: i for m, i in WEB.items() if m.startswith("webapp.datasets")}
    assert _hits(datasets, ("webapp.fits", "tasks.fits", "tasks.renders")) == {}


@pytest.mark.parametrize("kind", ["views", "apis", "forms", "admin", "selectors", "models", "sources"])
def test_the_web_side_never_imports_torch_bound_fitting(kind: str) -> None:
    modules = {m: i for m, i in WEB.items() if m.rsplit(".", 1)[-1] == kind}
    assert modules, f"no {kind} module found"
    assert _hits(modules, TORCH_BOUND) == {}


def test_tasks_are_thin() -> None:
    """A task calls services and selectors; it never reaches into views, APIs, forms or fitting."""
    # Only the heartbeat task touches fitting: a worker reports its own torch device and renderer.
    assert set(_hits(TASKS, ("fitting",))) == {"tasks.core"}
    forbidden = tuple(
        f"webapp.{app}.{part}" for app in ("core", "datasets", "fits") for part in ("views", "apis", "forms")
    )
    assert _hits(TASKS, forbidden) == {}
