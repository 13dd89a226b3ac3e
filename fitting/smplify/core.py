"""SMPLify, as SPIN runs it: the optimisation baseline EFT is compared with (paper, section 6.5).

SMPL's parameters themselves are optimised (axis-angle pose, betas, camera translation) with Adam
(lr 1e-2) under a perspective camera of focal length 5000 on the 224-pixel crop:

- stage 1 (the "multi-stage trick", M): global orientation and camera translation only, on the
  torso joints (hips and shoulders), squared error plus ``100^2 (tz - tz_init)^2``;
- stage 2: body pose, betas and orientation with the camera fixed, minimising
  ``sum conf^2 GMoF(residual, sigma=100)`` (D) ``+ 4.78^2 GMM(pose) + 15.2^2 angle prior on elbows and
  knees + 5^2 |beta|^2`` (P).

Without M a single stage optimises everything, camera included, for the same number of updates
as the two stages together. Residuals are in pixels of the 224 crop, as SPIN's weights expect.
All people of a batch are optimised together: their losses are summed, and Adam acts per element,
so each person's result is the one it would get alone.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from fitting.body.model import BodyModel
from fitting.config import SmplifyConfig
from fitting.eft.core import EftTarget, joint_errors_px
from fitting.geometry.camera import CROP_SIZE, spin_translation_to_weak, weak_to_spin_translation
from fitting.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle
from fitting.joints import GT24_NAMES, GT24_OFFSET
from fitting.smplify.prior import PosePrior, angle_penalty, gmm_penalty

_G = {name: GT24_OFFSET + GT24_NAMES.index(name) for name in GT24_NAMES}
#: Stage 1's joints: GT-24 hips and shoulders, and OpenPose's (SPIN-49 indices 2, 5, 9, 12).
TORSO_JOINTS = (2, 5, 9, 12, _G["Right Hip"], _G["Left Hip"], _G["Right Shoulder"], _G["Left Shoulder"])


@dataclass(frozen=True)
class Initial:
    """Where SMPLify starts: a regressor's output or its mean pose (``(B, 24, 3, 3)``, ``(B, 10)``,
    ``(B, 3)`` weak-perspective camera)."""

    pose_rotmat: Tensor
    betas: Tensor
    cam_weak: Tensor


@dataclass
class SmplifyResult:
    pose_rotmat: Tensor  # (24, 3, 3)
    betas: Tensor  # (10,)
    cam_t: Tensor  # (3,) SPIN's perspective translation
    cam_weak: Tensor  # (3,) the same camera as EFT's [s, tx, ty] (approximately)
    joint_error_px: Tensor  # (49,), NaN where not labelled
    mean_error_px: float
    iterations: int
    loss_before: float
    loss_after: float
    seconds: float
    prior: str  # which pose prior was used ("none" without P)
    config: dict[str, Any] = field(default_factory=dict)


def gmof(residual: Tensor, sigma: float) -> Tensor:
    """Geman-McClure robust penalty ``sigma^2 r^2 / (sigma^2 + r^2)``."""
    squared = residual**2
    return sigma**2 * squared / (sigma**2 + squared)


def project_crop_px(joints: Tensor, cam_t: Tensor, focal_length: float) -> Tensor:
    """Perspective projection into pixels of the 224 crop (principal point at its centre)."""
    points = joints + cam_t[:, None]
    return focal_length * points[..., :2] / points[..., 2:3] + CROP_SIZE / 2.0


class Smplify:
    """``Smplify(body, prior).fit(targets, initial) -> list[SmplifyResult]``."""

    def __init__(self, body: BodyModel, prior: PosePrior | None, config: SmplifyConfig | None = None) -> None:
        self.body = body
        self.config = config or SmplifyConfig()
        if self.config.priors and prior is None:
            raise ValueError("SMPLify with priors (P) needs a pose prior")
        self.prior = prior if self.config.priors else None

    def fit(self, targets: list[EftTarget], initial: Initial) -> list[SmplifyResult]:
        cfg = self.config
        if not targets:
            return []
        started = time.perf_counter()
        device = initial.betas.device
        keypoints = torch.stack([t.keypoints_2d for t in targets]).to(device)
        if not (keypoints[..., 2] > 0).any(dim=1).all():
            raise ValueError("SMPLify needs at least one labelled keypoint per person")
        target_px = (keypoints[..., :2] + 1.0) * (CROP_SIZE / 2.0)
        conf = keypoints[..., 2]
        axis_angle = rotmat_to_axis_angle(initial.pose_rotmat.detach())
        orient = axis_angle[:, 0].clone().requires_grad_(True)
        body_pose = axis_angle[:, 1:].reshape(-1, 69).clone().requires_grad_(True)
        betas = initial.betas.detach().clone().requires_grad_(True)
        cam_t = weak_to_spin_translation(initial.cam_weak.detach(), cfg.focal_length).requires_grad_(True)
        depth_init = cam_t[:, 2].detach().clone()
        prior_terms = self.prior.torch_terms(device) if self.prior is not None else None

        def joints() -> Tensor:
            pose = torch.cat([orient[:, None], body_pose.reshape(-1, 23, 3)], dim=1)
            out: Tensor = self.body.joints_spin49(betas, axis_angle_to_rotmat(pose))
            return out

        def camera_loss() -> Tensor:
            residual = project_crop_px(joints(), cam_t, cfg.focal_length) - target_px
            torso = residual[:, list(TORSO_JOINTS)]
            data = (conf[:, list(TORSO_JOINTS), None] * torso**2).sum(dim=(1, 2))
            return data + cfg.depth_weight**2 * (cam_t[:, 2] - depth_init) ** 2

        def body_loss() -> Tensor:
            residual = project_crop_px(joints(), cam_t, cfg.focal_length) - target_px
            total = (conf**2 * gmof(residual, cfg.sigma).sum(dim=-1)).sum(dim=-1)
            if prior_terms is not None:
                total = total + cfg.pose_prior_weight**2 * gmm_penalty(body_pose, prior_terms)
                total = total + cfg.angle_prior_weight**2 * angle_penalty(body_pose)
                total = total + cfg.shape_prior_weight**2 * (betas**2).sum(dim=-1)
            return total

        with torch.no_grad():
            loss_before = body_loss()
        iterations = 0
        stages: list[tuple[list[Tensor], Any, int]]
        if cfg.multistage:
            stages = [
                ([orient, cam_t], camera_loss, cfg.iterations),
                ([orient, body_pose, betas], body_loss, cfg.iterations),
            ]
        else:
            stages = [([orient, body_pose, betas, cam_t], body_loss, 2 * cfg.iterations)]
        for params, loss_fn, steps in stages:
            optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.999))
            for _ in range(steps):
                optimizer.zero_grad(set_to_none=True)
                loss_fn().sum().backward()
                optimizer.step()
                iterations += 1
        with torch.no_grad():
            loss_after = body_loss()
            final = joints()
            projected_n = project_crop_px(final, cam_t, cfg.focal_length) / (CROP_SIZE / 2.0) - 1.0
            pose = axis_angle_to_rotmat(torch.cat([orient[:, None], body_pose.reshape(-1, 23, 3)], dim=1))
            weak = spin_translation_to_weak(cam_t, cfg.focal_length)
        per_person = (time.perf_counter() - started) / len(targets)
        results = []
        for i, target in enumerate(targets):
            errors = joint_errors_px(projected_n[i].cpu(), target.keypoints_2d.cpu(), target.box)
            labelled = target.keypoints_2d[:, 2].cpu() > 0
            results.append(
                SmplifyResult(
                    pose_rotmat=pose[i].cpu(),
                    betas=betas[i].detach().cpu(),
                    cam_t=cam_t[i].detach().cpu(),
                    cam_weak=weak[i].cpu(),
                    joint_error_px=errors,
                    mean_error_px=float(errors[labelled].mean()),
                    iterations=iterations,
                    loss_before=float(loss_before[i]),
                    loss_after=float(loss_after[i]),
                    seconds=per_person,
                    prior=self.prior.label if self.prior is not None else "none",
                    config={**asdict(cfg), "variant": cfg.variant},
                )
            )
        return results
