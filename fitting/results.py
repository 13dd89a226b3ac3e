"""What fitting hands its callers per person: typed results, importable without torch (a web
process maps stored rows back to them to export or publish)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fitting.config import Method, MethodConfig, SanityRule


@dataclass(frozen=True)
class SanityVerdict:
    """Whether a fit passes a sanity rule, and why not. Decided once per fit, by the pipeline
    (``fitting.pipeline``), from the fit's final parameters, whatever method made it."""

    ok: bool
    reason: str
    rule: SanityRule
    code: str = "ok"  # which check decided: fitting.sanity.CODES


@dataclass(frozen=True)
class PersonFit:
    """One person's fit, as ``fitting`` hands it to its callers (the app maps it to a row field by
    field; ``fitting.export.eft_entry`` makes the EFT JSON entry from it and the person).

    ``key`` is the caller's key for the person, returned untouched. Arrays are float64:
    ``pose_rotmat (24, 3, 3)`` with [0] the global orientation, ``betas (10,)``,
    ``cam_weak (3,)`` = [s, tx, ty] in the normalised 224 crop. ``joint_error_px`` is the GT-24
    2D error per joint in image pixels (None where the joint is unlabelled)."""

    key: Hashable
    method: Method
    pose_rotmat: NDArray[np.float64]
    betas: NDArray[np.float64]
    cam_weak: NDArray[np.float64]
    joint_error_px: tuple[float | None, ...]
    mean_error_px: float
    iterations: int
    keypoint_loss: float  # L2d of the final parameters: the sanity rules' "2D keypoint loss"
    loss_before: float
    loss_after: float
    verdict: SanityVerdict
    seconds: float
    config: MethodConfig
    checkpoint_sha256: str
    body_model: str
    prior: str = ""  # SMPLify's pose prior ("" for the other methods)
    turn_deg: int = 0  # the upright search's turn of the crop (EftConfig.upright_search)

    def __post_init__(self) -> None:
        for name, shape in (("pose_rotmat", (24, 3, 3)), ("betas", (10,)), ("cam_weak", (3,))):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"PersonFit.{name}: expected {shape}, got {np.shape(getattr(self, name))}")
        if len(self.joint_error_px) != 24:
            raise ValueError(
                f"PersonFit.joint_error_px: expected 24 GT-24 joints, got {len(self.joint_error_px)}"
            )

    @property
    def max_abs_beta(self) -> float:
        return float(np.abs(self.betas).max())

    def provenance(self) -> dict[str, Any]:
        """How the fit was made: the ``fit`` object of its EFT JSON entry."""
        made: dict[str, Any] = {
            "method": self.method,
            "iterations": self.iterations,
            "mean_error_px": round(self.mean_error_px, 3),
            "joint_error_px_gt24": list(self.joint_error_px),
            "keypoint_loss": self.keypoint_loss,
            "loss_before": self.loss_before,
            "loss_after": self.loss_after,
            "sanity_ok": self.verdict.ok,
            "sanity_reason": self.verdict.reason,
            "sanity_rule": self.verdict.rule,
            "sanity_code": self.verdict.code,
            "upright_turn_deg": self.turn_deg,
            "seconds": round(self.seconds, 3),
            "config": asdict(self.config),
            "checkpoint_sha256": self.checkpoint_sha256,
            "body_model": self.body_model,
        }
        if self.method == "smplify":
            made["prior"] = self.prior
        return made


@dataclass(frozen=True)
class ImageFailure:
    """An image that could not be read, and the keys of the people on it (not fitted)."""

    image_name: str
    keys: tuple[Hashable, ...]
    error: str
