"""EFT for one person at a time, with the paper's defaults.

For each person the regressor's weights w* are restored, then Adam (lr 5e-6, fresh state) updates
all weights except BatchNorm's (which stays in eval mode on its running statistics; dropout off)
to minimise

    60 * (5 * L2d + lambda * mean(beta^2) + mean(exp(-10 s)^2) + 0.005 * L_leg) + gamma * |w - w*|^2

- L2d: mean over the 49 joints x 2 coordinates of conf * (projected - label)^2, crop-normalised,
  with the hips (GT-24 right hip, left hip, MPII pelvis) at weight 0: their annotated heights are
  inconsistent across datasets;
- L_leg: 1 - cos between the labelled and the predicted knee-to-ankle direction, per leg, where
  the labelled bone is longer than 0.0089 (normalised) and both ends are labelled, weighted by the
  two confidences; those ankles then leave the positional term.
It stops when the mean 2D error of the labelled joints is under 3 px in original-image pixels, or
after ``max_iterations`` updates. The result is the forward pass of the last iteration (before its
update), as in the reference code.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from fitting.body.model import BodyModel
from fitting.config import EftConfig
from fitting.geometry.camera import CropBox, weak_perspective_project
from fitting.joints import GT24_NAMES, GT24_OFFSET
from fitting.regressor.hmr import HMR
from fitting.sanity import sanity_verdict

__all__ = ["EftResult", "EftTarget", "ExemplarFineTuner", "eft_loss", "joint_errors_px", "sanity_verdict"]

_J = {name: GT24_OFFSET + GT24_NAMES.index(name) for name in GT24_NAMES}
HIP_JOINTS = (_J["Right Hip"], _J["Left Hip"], _J["Pelvis (MPII)"])
LEGS = ((_J["Right Knee"], _J["Right Ankle"]), (_J["Left Knee"], _J["Left Ankle"]))


@dataclass(frozen=True)
class EftTarget:
    """One person's input: the crop ``(C, H, W)`` as the network takes it, the SPIN-49 labels in
    crop-normalised coordinates with confidences ``(49, 3)``, and the crop box (for pixels)."""

    image: Tensor
    keypoints_2d: Tensor
    box: CropBox


@dataclass
class EftResult:
    pose_rotmat: Tensor  # (24, 3, 3)
    betas: Tensor  # (10,)
    cam_weak: Tensor  # (3,)
    joint_error_px: Tensor  # (49,), NaN where not labelled
    mean_error_px: float
    keypoint_loss: float  # L2d of the result (the sanity rules' "2D keypoint loss")
    iterations: int  # optimiser updates made
    loss_before: float
    loss_after: float
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint_sha256: str = ""
    turn_deg: int = 0  # the upright search's turn of the crop the fit started from


def stop_error(mean_error_px: float, box: CropBox, units: str) -> float:
    """The mean 2D error in the units of the stop threshold: image pixels, or pixels of a
    224-pixel crop of the person's box."""
    return mean_error_px if units == "image" else mean_error_px * 224.0 / box.side


def eft_loss(
    projected: Tensor, betas: Tensor, cam: Tensor, keypoints: Tensor, config: EftConfig
) -> tuple[Tensor, Tensor]:
    """(total loss without the weight anchor, L2d) for a batch: ``projected (B, 49, 2)``,
    ``keypoints (B, 49, 3)``."""
    conf = keypoints[..., 2].clone()
    if config.ignore_hips:
        conf[:, list(HIP_JOINTS)] = 0.0
    leg_terms = []
    for knee, ankle in LEGS:
        gt_dir = keypoints[:, ankle, :2] - keypoints[:, knee, :2]
        pred_dir = projected[:, ankle] - projected[:, knee]
        weight = keypoints[:, knee, 2] * keypoints[:, ankle, 2]
        active = (weight > 0) & (gt_dir.norm(dim=-1) > config.min_leg_length)
        cos = torch.nn.functional.cosine_similarity(gt_dir, pred_dir, dim=-1, eps=1e-8)
        leg_terms.append(torch.where(active, weight * (1.0 - cos), torch.zeros_like(cos)))
        conf[:, ankle] = torch.where(active, torch.zeros_like(weight), conf[:, ankle])
    loss_2d = (conf[..., None] * (projected - keypoints[..., :2]) ** 2).mean(dim=(1, 2))
    loss_leg = torch.stack(leg_terms, dim=-1).sum(dim=-1)
    loss_shape = (betas**2).mean(dim=-1)
    loss_cam = torch.exp(-10.0 * cam[:, 0]) ** 2
    total = config.overall * (
        config.keypoint_weight * loss_2d
        + config.shape_weight * loss_shape
        + config.camera_weight * loss_cam
        + config.leg_weight * loss_leg
    )
    return total, loss_2d


def joint_errors_px(projected: Tensor, keypoints: Tensor, box: CropBox) -> Tensor:
    """Per-joint distance ``(49,)`` in original-image pixels (NaN where not labelled)."""
    dist = (projected - keypoints[:, :2]).norm(dim=-1) * 100.0 * box.scale
    return torch.where(keypoints[:, 2] > 0, dist, torch.full_like(dist, float("nan")))


def _trainable(model: HMR) -> list[torch.nn.Parameter]:
    """All weights but BatchNorm's affine parameters (the reference code freezes those)."""
    frozen = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()}
    return [p for p in model.parameters() if id(p) not in frozen]


class ExemplarFineTuner:
    """Runs EFT person by person, restoring the regressor's weights before each one."""

    def __init__(
        self, model: HMR, body: BodyModel, config: EftConfig | None = None, checkpoint_sha256: str = ""
    ) -> None:
        self.model = model
        self.body = body
        self.config = config or EftConfig()
        self.checkpoint_sha256 = checkpoint_sha256
        self._initial = copy.deepcopy(model.state_dict())  # w*
        self._anchor = [p.detach().clone() for p in _trainable(model)] if self.config.gamma > 0 else []

    def _predict(self, target: EftTarget) -> tuple[Any, Tensor]:
        pred = self.model(target.image[None])
        joints = self.body.joints_spin49(pred.betas, pred.pose_rotmat)  # the joints alone: no mesh
        return pred, weak_perspective_project(joints, pred.cam_weak)

    def fit(self, target: EftTarget) -> EftResult:
        cfg = self.config
        started = time.perf_counter()
        self.model.load_state_dict(self._initial)  # w* for every person (also restored after each)
        self.model.eval()  # BatchNorm on running statistics, dropout off; gradients still flow
        params = _trainable(self.model)
        optimizer = torch.optim.Adam(params, lr=cfg.lr)  # fresh state, as restoring it does
        keypoints = target.keypoints_2d[None]
        labelled = target.keypoints_2d[:, 2] > 0
        if not labelled.any():
            raise ValueError("EFT needs at least one labelled keypoint")
        iterations = 0
        loss_before = float("nan")
        while True:
            pred, projected = self._predict(target)
            loss, loss_2d = eft_loss(projected, pred.betas, pred.cam_weak, keypoints, cfg)
            total = loss.sum()
            if cfg.gamma > 0:
                total = total + cfg.gamma * sum(
                    ((p - a) ** 2).sum() for p, a in zip(params, self._anchor, strict=True)
                )
            errors = joint_errors_px(projected[0].detach(), target.keypoints_2d, target.box)
            mean_error = float(errors[labelled].mean())
            if iterations == 0:
                loss_before = total.item()
            stop = stop_error(mean_error, target.box, cfg.threshold_units)
            if stop < cfg.threshold_px or iterations >= cfg.max_iterations:
                break
            optimizer.zero_grad(set_to_none=True)
            total.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            iterations += 1
        betas = pred.betas[0].detach()
        # w+ is thrown away: the regressor is left as it was, for the next person and for others.
        self.model.load_state_dict(self._initial)
        return EftResult(
            pose_rotmat=pred.pose_rotmat[0].detach(),
            betas=betas,
            cam_weak=pred.cam_weak[0].detach(),
            joint_error_px=errors,
            mean_error_px=mean_error,
            keypoint_loss=loss_2d.item(),
            iterations=iterations,
            loss_before=loss_before,
            loss_after=total.item(),
            seconds=time.perf_counter() - started,
            config=asdict(cfg),
            checkpoint_sha256=self.checkpoint_sha256,
        )
