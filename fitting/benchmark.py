"""What a published benchmark adds to each person's EFT entry: the fit's GT-24 joints projected
into the image, and the eight boxes of the paper's truncation protocol placed around them
(level 0 the face ... level 7 the whole body; fitting.geometry.truncation).

Projection (the EFT convention, eft-method.md): the body's joints ``J = body(betas, pose)``
(no translation), weak perspective into the normalised crop ``x_n = s X + tx``, ``y_n = s Y + ty``,
then image pixels ``u = cx + 100 * scale * x_n``, ``v = cy + 100 * scale * y_n`` for the
person's crop box ``(cx, cy, scale)`` (``bbox_center``, ``bbox_scale`` in the entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.body.model import BodyModel
from fitting.geometry.camera import CropBox, normalized_to_image, weak_perspective_project
from fitting.geometry.truncation import TRUNCATION_LEVELS, truncation_box
from fitting.joints import GT24_OFFSET


def fitted_gt24_px(
    body: BodyModel,
    pose_rotmat: NDArray[np.floating],
    betas: NDArray[np.floating],
    cam_weak: NDArray[np.floating],
    boxes: Sequence[CropBox],
) -> NDArray[np.float64]:
    """The fits' GT-24 joints in image pixels ``(N, 24, 2)``, for fits ``(N, 24, 3, 3)``, ``(N, 10)``,
    ``(N, 3)`` and their crop boxes."""
    pose = np.asarray(pose_rotmat, dtype=np.float64)
    if pose.ndim != 4 or pose.shape[1:] != (24, 3, 3):
        raise ValueError(f"pose_rotmat: expected (N, 24, 3, 3), got {pose.shape}")
    count = pose.shape[0]
    if len(boxes) != count:
        raise ValueError(f"{len(boxes)} boxes for {count} fits")
    if count == 0:
        return np.zeros((0, 24, 2))
    reference = body.j_regressor_extra  # a buffer: the model's dtype and device
    dtype, device = reference.dtype, reference.device
    with torch.no_grad():
        out = body(
            torch.as_tensor(np.asarray(betas, dtype=np.float64), dtype=dtype, device=device),
            torch.as_tensor(pose, dtype=dtype, device=device),
        )
        projected = weak_perspective_project(
            out.joints_spin49[:, GT24_OFFSET:].double(),
            torch.as_tensor(np.asarray(cam_weak, dtype=np.float64), device=device),
        ).cpu()
    return np.stack([normalized_to_image(projected[i], box).numpy() for i, box in enumerate(boxes)])


def truncation_boxes(points_px: NDArray[np.floating]) -> list[dict[str, Any]]:
    """The eight boxes of the truncation protocol around a fit's projected GT-24 joints
    ``(24, 2)``: ``{"level", "bbox_center", "bbox_scale"}`` in the entry's own convention."""
    boxes = []
    for level in range(len(TRUNCATION_LEVELS)):
        box = truncation_box(points_px, level)
        boxes.append({"level": level, "bbox_center": [box.center_x, box.center_y], "bbox_scale": box.scale})
    return boxes
