"""The fitting engine of a worker process: regressor, body model and prior, loaded once.

Loading a checkpoint and a body model takes seconds and memory; a worker keeps them for every
chunk it runs (keyed by what a job asks for), on the device its settings name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Engine:
    regressor: Any  # fitting.fit.Regressor
    body: Any  # fitting.body.model.BodyModel
    prior: Any  # fitting.smplify.prior.PosePrior
    device: str


@lru_cache(maxsize=2)
def _load_body(body_model: str, j_regressor_extra: str, device_spec: str) -> tuple[Any, str]:
    from fitting.body.model import BodyModel
    from fitting.device import resolve_device

    device = resolve_device(device_spec)
    body = BodyModel.load(
        Path(body_model) if body_model else None, Path(j_regressor_extra) if j_regressor_extra else None
    ).to(device)
    return body, str(device)


@lru_cache(maxsize=2)
def _load(checkpoint: str, body_model: str, j_regressor_extra: str, device_spec: str) -> Engine:
    import torch

    from fitting.fit import Regressor
    from fitting.smplify.prior import PosePrior

    body, device = _load_body(body_model, j_regressor_extra, device_spec)
    regressor = Regressor.load(Path(checkpoint) if checkpoint else None, torch.device(device))
    return Engine(regressor, body, PosePrior.shipped(), device)


#: A job's body model when it must be the open body whatever is configured (gold fits: their
#: betas are the open body's).
OPEN_BODY = "open-body"


def body_for(body_model: str = "") -> tuple[Any, str]:
    """(body model, device) for a job's body model (blank: the configured one; OPEN_BODY: the
    shipped open body), loaded once per process: what a render worker needs, without the
    regressor."""
    if body_model == OPEN_BODY:
        return _load_body("", "", settings.EFT_TORCH_DEVICE)
    configured = str(settings.EFT_BODY_MODEL_PATH or "")
    extra = str(settings.EFT_J_REGRESSOR_EXTRA_PATH or "")
    return _load_body(body_model or configured, extra, settings.EFT_TORCH_DEVICE)


def engine_for(checkpoint: str = "", body_model: str = "") -> Engine:
    """The engine for a job's checkpoint and body model (blank: the configured ones)."""
    configured_checkpoint = str(settings.EFT_REGRESSOR_CHECKPOINT or "")
    configured_body = str(settings.EFT_BODY_MODEL_PATH or "")
    extra = str(settings.EFT_J_REGRESSOR_EXTRA_PATH or "")
    return _load(
        checkpoint or configured_checkpoint, body_model or configured_body, extra, settings.EFT_TORCH_DEVICE
    )


def loads_so_far() -> int:
    """How many engines this process has loaded (a test checks chunks reuse one)."""
    return _load.cache_info().misses
