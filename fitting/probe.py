"""What this host can do for fitting: torch device and headless renderer.

`python -m fitting probe --json` prints it; the web app runs that in a child process so the
web process never imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from fitting.device import describe_torch
from fitting.render.backend import KNOWN_BACKENDS, detect_backend


def host_capabilities(device: str = "auto", backends: Sequence[str] = KNOWN_BACKENDS) -> dict[str, Any]:
    """A JSON-ready description of the torch device and the first working render backend."""
    renderer = detect_backend(backends)
    return {
        "torch": asdict(describe_torch(device)),
        "renderer": {
            "backend": renderer.backend,
            "probes": [asdict(p) for p in renderer.probes],
        },
    }
