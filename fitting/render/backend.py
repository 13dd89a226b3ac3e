"""Finding a headless OpenGL backend by trying it.

PyOpenGL picks its platform (`PYOPENGL_PLATFORM`) once, at import, so a process can only try
one backend. Each probe therefore runs in a child process that renders a small triangle and
checks that pixels were drawn.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

KNOWN_BACKENDS = ("egl", "osmesa")


@dataclass(frozen=True)
class BackendProbe:
    """The outcome of trying one backend."""

    backend: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class RendererReport:
    """The first backend that works (None if none does) and every attempt."""

    backend: str | None
    probes: tuple[BackendProbe, ...] = field(default_factory=tuple)


def select_platform(backend: str) -> None:
    """Make PyOpenGL use `backend`; must run before pyrender or OpenGL is first imported.

    Raises:
        ValueError: unknown backend name.
        RuntimeError: OpenGL was already imported with another platform.
    """
    if backend not in KNOWN_BACKENDS:
        raise ValueError(f"unknown render backend {backend!r}; expected one of {KNOWN_BACKENDS}")
    current = os.environ.get("PYOPENGL_PLATFORM")
    if "OpenGL" in sys.modules and current != backend:
        raise RuntimeError(
            f"OpenGL is already imported with PYOPENGL_PLATFORM={current!r}; cannot switch to {backend!r}"
        )
    os.environ["PYOPENGL_PLATFORM"] = backend


def _render_check(backend: str) -> str:
    """Render a 32x32 frame with one triangle in this process; return a short description."""
    select_platform(backend)
    import numpy as np
    import pyrender
    import trimesh

    mesh = trimesh.Trimesh(vertices=[[-1, -1, 0], [1, -1, 0], [0, 1, 0]], faces=[[0, 1, 2]], process=False)
    scene = pyrender.Scene(bg_color=[0, 0, 0, 0], ambient_light=[1.0, 1.0, 1.0])
    scene.add(pyrender.Mesh.from_trimesh(mesh, smooth=False))
    camera_pose = np.eye(4)
    camera_pose[2, 3] = 2.0  # on +z looking down -z, pyrender's camera convention
    scene.add(pyrender.OrthographicCamera(xmag=1.5, ymag=1.5), pose=camera_pose)
    renderer = pyrender.OffscreenRenderer(32, 32)
    try:
        _color, depth = renderer.render(scene)
    finally:
        renderer.delete()
    covered = float((np.asarray(depth) > 0).mean())
    if covered <= 0.05:
        raise RuntimeError(f"rendered frame is empty (coverage {covered:.2f})")
    return f"rendered 32x32, coverage {covered:.2f}"


def probe_backend(backend: str, timeout: float = 60.0) -> BackendProbe:
    """Try `backend` in a child process (so this process keeps its own OpenGL state)."""
    if backend not in KNOWN_BACKENDS:
        return BackendProbe(backend, False, f"unknown backend; expected one of {KNOWN_BACKENDS}", 0.0)
    start = time.perf_counter()
    env = dict(os.environ, PYOPENGL_PLATFORM=backend)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fitting.render.backend", backend],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return BackendProbe(backend, False, f"timed out after {timeout:.0f} s", time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    lines = (proc.stdout.strip() or proc.stderr.strip() or "no output").splitlines()
    if proc.returncode == 0:
        return BackendProbe(backend, True, lines[-1], elapsed)
    return BackendProbe(backend, False, lines[-1][:300], elapsed)


def detect_backend(order: Sequence[str] = KNOWN_BACKENDS, timeout: float = 60.0) -> RendererReport:
    """Try the backends in `order`; stop at the first that renders."""
    probes: list[BackendProbe] = []
    for backend in order:
        probe = probe_backend(backend, timeout=timeout)
        probes.append(probe)
        if probe.ok:
            return RendererReport(backend, tuple(probes))
    return RendererReport(None, tuple(probes))


def _main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fitting.render.backend {egl|osmesa}", file=sys.stderr)
        return 2
    try:
        print(_render_check(argv[0]))
    except Exception as exc:  # the parent reports whatever broke, in one line
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
