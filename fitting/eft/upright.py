"""Upright search: start EFT from the quarter turn of the crop the regressor reads best.

A regressor trained mostly on upright people predicts an upright body for a handstand, and a few
dozen small updates cannot turn it over. Before fine-tuning, the crop is read four times, turned
by 0, 90, 180 and 270 degrees; the turn whose prediction has the lowest 2D error against the
(equally turned) labels is kept. EFT then runs on that turned crop, and its result is turned back
into the original crop's frame: the global orientation about the camera's optical axis, the weak
camera's translation about the crop centre. The 2D errors are the same in both frames.

Frames: crop-normalised coordinates, x right, y down; ``torch.rot90(image, k, dims=(1, 2))``
turns the picture counter-clockwise as seen, which moves a point ``(x, y)`` to ``(y, -x)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from fitting.body.model import BodyModel
from fitting.eft.core import EftTarget
from fitting.geometry.camera import weak_perspective_project

#: The turns tried, in degrees counter-clockwise as seen; 0 first, so a tie keeps the crop as is.
TURNS_DEG = (0, 90, 180, 270)
#: A turn replaces the upright crop only when its 2D error is below this share of the upright's.
SWITCH_RATIO = 0.8
#: People read by the regressor at once while searching (a whole dataset never goes in one batch).
SEARCH_BATCH = 64

Predict = Callable[[list[EftTarget]], tuple[Tensor, Tensor, Tensor]]


def turn_2d(degrees: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The ``(2, 2)`` matrix that moves crop points as ``torch.rot90`` moves pixels."""
    quarter = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=dtype)
    turned: Tensor = torch.linalg.matrix_power(quarter, (degrees // 90) % 4)
    return turned


def turn_3d(degrees: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The same turn about the camera's optical axis (z), ``(3, 3)``."""
    out = torch.eye(3, dtype=dtype)
    out[:2, :2] = turn_2d(degrees, dtype)
    return out


def turn_target(target: EftTarget, degrees: int) -> EftTarget:
    """The target with its crop (every channel) and labels turned; unlabelled joints stay at 0."""
    if degrees % 360 == 0:
        return target
    k = (degrees // 90) % 4
    keypoints = target.keypoints_2d.clone()
    matrix = turn_2d(degrees, keypoints.dtype).to(keypoints.device)
    keypoints[:, :2] = keypoints[:, :2] @ matrix.T
    # rot90 turns the pixel grid about its middle, (S - 1) / 2, while crop-normalised 0 is pixel
    # S / 2 (the crop is drawn with pixel centres on whole numbers): one pixel's roll puts the
    # turned picture under the turned labels.
    shifts = {1: ((1,), (1,)), 2: ((1, 1), (1, 2)), 3: ((1,), (2,))}[k]
    image = torch.roll(torch.rot90(target.image, k, dims=(1, 2)), shifts=shifts[0], dims=shifts[1])
    return EftTarget(image, keypoints, target.box)


def mean_label_error(projected: Tensor, keypoints: Tensor) -> Tensor:
    """Per person ``(B,)``: mean distance (crop-normalised) between projected joints and labels."""
    labelled = keypoints[..., 2] > 0
    dist = (projected - keypoints[..., :2]).norm(dim=-1)
    mean: Tensor = (dist * labelled).sum(dim=-1) / labelled.sum(dim=-1).clamp(min=1)
    return mean


def choose_turns(predict: Predict, body: BodyModel, targets: list[EftTarget]) -> list[int]:
    """The turn (degrees) to start each target from: the one with the lowest 2D error of the
    regressor's prediction, if it is below SWITCH_RATIO of the upright crop's."""
    if not targets:
        return []
    rows = []
    with torch.no_grad():
        for start in range(0, len(targets), SEARCH_BATCH):
            chunk = targets[start : start + SEARCH_BATCH]
            errors = []
            for degrees in TURNS_DEG:
                turned = [turn_target(t, degrees) for t in chunk]
                pose, betas, cam = predict(turned)
                projected = weak_perspective_project(body.joints_spin49(betas, pose), cam)
                errors.append(mean_label_error(projected, torch.stack([t.keypoints_2d for t in turned])))
            rows.append(torch.stack(errors, dim=1))
    table = torch.cat(rows)  # (B, turns)
    best = table.argmin(dim=1)
    chosen = []
    for i, index in enumerate(best.tolist()):
        better = table[i, index] < SWITCH_RATIO * table[i, 0]
        chosen.append(TURNS_DEG[index] if better else 0)
    return chosen


def turn_back(pose_rotmat: Tensor, cam_weak: Tensor, pelvis: Tensor, degrees: int) -> tuple[Tensor, Tensor]:
    """A fit made on a crop turned by ``degrees``, in the original crop's frame.

    ``pose_rotmat (24, 3, 3)``, ``cam_weak (3,)``, ``pelvis (3,)`` the fit's root joint (the point
    the global orientation turns about). The projection of every joint turns back exactly:
    ``s X + t`` becomes ``M^T (s X' + t')``."""
    if degrees % 360 == 0:
        return pose_rotmat, cam_weak
    rot3 = turn_3d(degrees, pose_rotmat.dtype).to(pose_rotmat.device)
    back2 = rot3[:2, :2].T
    pose = pose_rotmat.clone()
    pose[0] = rot3.T @ pose_rotmat[0]
    scale, shift = cam_weak[0], cam_weak[1:]
    pelvis_xy = pelvis[:2].to(cam_weak.dtype)
    new_shift = back2 @ shift + scale * (back2 @ pelvis_xy - pelvis_xy)
    return pose, torch.cat([cam_weak[:1], new_shift])
