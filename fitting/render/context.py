"""The process's one offscreen renderer, kept between pictures.

Making a pyrender ``OffscreenRenderer`` costs a GL context, and its ``delete()`` runs a full
garbage collection (about 150 ms here: more than drawing a body). So one renderer is made on
first use and kept for the life of the process, its viewport set to each picture's size. One
only, and never dropped while the process runs: deleting (or garbage-collecting) an EGL renderer
terminates the EGL display, which every renderer of the process shares, so a second renderer's
end would break the first. Threads take turns (a lock) and the context is released after each
use, so that the next thread can make it current. A forked child makes its own.

    with offscreen(512, 512) as renderer:
        colour, depth = renderer.render(scene)
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fitting.render.mesh import ensure_backend

_lock = threading.RLock()
_kept: dict[str, Any] = {}  # "renderer", "pid"
_stale: list[Any] = []  # renderers not to use again (inherited through fork, or failed): kept, not deleted


def _renderer(width: int, height: int) -> Any:
    ensure_backend()
    import pyrender

    renderer = _kept.get("renderer")
    if renderer is not None and _kept.get("pid") != os.getpid():
        _stale.append(_kept.pop("renderer"))  # a forked child cannot use its parent's GL context
        renderer = None
    if renderer is None:
        renderer = pyrender.OffscreenRenderer(width, height)
        _kept.update(renderer=renderer, pid=os.getpid())
    elif (renderer.viewport_width, renderer.viewport_height) != (width, height):
        renderer.viewport_width, renderer.viewport_height = width, height
    return renderer


def _release_context(renderer: Any) -> None:
    """Make the renderer's EGL context current in no thread (OSMesa has no such rule)."""
    display = getattr(getattr(renderer, "_platform", None), "_egl_display", None)
    if display is not None:
        from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglMakeCurrent

        eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)


@contextmanager
def offscreen(width: int, height: int) -> Iterator[Any]:
    """The kept renderer at ``width`` x ``height``, this thread's until the block ends. A renderer
    that raised is not used again (a new one is made next time)."""
    with _lock:
        renderer = _renderer(width, height)
        try:
            yield renderer
        except Exception:
            if _kept.get("renderer") is renderer:
                _stale.append(_kept.pop("renderer"))
                _kept.pop("pid", None)
            raise
        finally:
            if _kept.get("renderer") is renderer:
                _release_context(renderer)


def kept_renderer() -> Any:
    """The renderer kept now (None before the first picture, or after ``release``)."""
    return _kept.get("renderer")


def release() -> None:
    """Delete the kept renderer (its GL context); the next picture makes a new one. Only while no
    other thread draws (tests, shutdown)."""
    with _lock:
        renderer = _kept.pop("renderer", None)
        if renderer is not None and _kept.pop("pid", None) == os.getpid():
            renderer.delete()


def _neutralised(renderer: Any) -> None:
    """A renderer this process must not delete (another process's, or broken): its ``__del__``
    then does nothing."""
    renderer.delete = lambda: None


@atexit.register
def _at_exit() -> None:
    """Free the kept renderer while the interpreter still runs: left to the interpreter's end,
    pyrender's ``__del__`` calls into OpenGL after its modules are gone, and logs pages of errors.
    Renderers not to use again are left to the operating system."""
    for renderer in _stale:
        _neutralised(renderer)
    _stale.clear()
    renderer = _kept.get("renderer")
    if renderer is not None and _kept.get("pid") != os.getpid():
        _neutralised(renderer)
    try:
        release()
    except Exception:  # the process ends anyway
        _kept.clear()
