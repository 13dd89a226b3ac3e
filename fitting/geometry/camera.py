"""Crops and cameras, exactly as in EFT / SPIN (see ../shared/reference/eft-method.md).

Frames:
- image pixels ``(u, v)``: the original image, x right, y down.
- crop pixels: the ``CROP_SIZE`` x ``CROP_SIZE`` (224) network input,
  ``x_crop = 224 * (u - cx) / (200 * scale) + 112``.
- crop-normalised ``x_n = 2 * x_crop / 224 - 1`` in [-1, 1]; the 2D loss lives here.
- weak perspective (EFT): ``x_n = s * X + tx``, ``y_n = s * Y + ty`` with ``cam_weak = [s, tx, ty]``
  and ``(X, Y, Z)`` the body's joints in the camera-aligned model frame (x right, y down).
- SPIN's perspective camera uses ``cam_t = [tx, ty, 2 * f / (224 * s)]`` with ``f = 5000``:
  about ``s * (X + t)``, so EFT's translation is ``s`` times SPIN's. The two are converted with
  ``weak_to_spin_translation`` / ``spin_translation_to_weak``, never mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # torch is imported where it is used: crop boxes and crops load without it
    from torch import Tensor

CROP_SIZE = 224
#: SPIN's focal length in crop pixels for its perspective camera.
SPIN_FOCAL_LENGTH = 5000.0
#: scale = BOX_SCALE_FACTOR * max(w, h) / 200 (EFT / SPIN box rule).
BOX_SCALE_FACTOR = 1.2


@dataclass(frozen=True)
class CropBox:
    """A square crop: ``center`` in image pixels, ``scale`` = crop side / 200."""

    center_x: float
    center_y: float
    scale: float

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"CropBox.scale must be positive, got {self.scale}")

    @property
    def side(self) -> float:
        """Crop side length in image pixels."""
        return 200.0 * self.scale

    @classmethod
    def from_bbox(cls, x: float, y: float, width: float, height: float) -> CropBox:
        """The EFT box for an ``[x, y, w, h]`` bounding box: its center, 1.2 * longer side."""
        if width <= 0 or height <= 0:
            raise ValueError(f"bounding box must have positive width and height, got {width} x {height}")
        return cls(x + width / 2.0, y + height / 2.0, BOX_SCALE_FACTOR * max(width, height) / 200.0)

    @classmethod
    def from_keypoints(cls, keypoints_px: NDArray[np.floating], min_valid: int = 2) -> CropBox:
        """The EFT box around the valid keypoints ``(K, 3)`` (x, y, validity)."""
        points = np.asarray(keypoints_px, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"keypoints: expected shape (K, 3), got {points.shape}")
        valid = points[points[:, 2] > 0, :2]
        if len(valid) < min_valid:
            raise ValueError(f"need at least {min_valid} valid keypoints for a box, got {len(valid)}")
        lo, hi = valid.min(axis=0), valid.max(axis=0)
        return cls.from_bbox(
            float(lo[0]), float(lo[1]), float(max(hi[0] - lo[0], 1.0)), float(max(hi[1] - lo[1], 1.0))
        )

    def image_to_crop_matrix(self, size: int = CROP_SIZE) -> NDArray[np.float64]:
        """2x3 affine map from image pixels to crop pixels."""
        k = size / self.side
        return np.array([[k, 0.0, size / 2.0 - k * self.center_x], [0.0, k, size / 2.0 - k * self.center_y]])


def normalized_to_image(points_n: Tensor, box: CropBox) -> Tensor:
    """Crop-normalised ``(..., 2)`` to image pixels: ``u = cx + 100 * scale * x_n``."""
    center = points_n.new_tensor([box.center_x, box.center_y])
    return center + 100.0 * box.scale * points_n


def normalized_to_image_each(points_n: NDArray[np.floating], boxes: Sequence[CropBox]) -> NDArray[np.float64]:
    """``normalized_to_image`` for many people at once: points ``(N, K, 2)``, person i's in
    ``boxes[i]``."""
    centers = np.array([[box.center_x, box.center_y] for box in boxes], dtype=np.float64)
    scales = np.array([box.scale for box in boxes], dtype=np.float64)
    return centers[:, None, :] + 100.0 * scales[:, None, None] * np.asarray(points_n, dtype=np.float64)


def crop_image(image: NDArray[np.uint8], box: CropBox, size: int = CROP_SIZE) -> NDArray[np.uint8]:
    """Cut the square ``box`` out of ``image`` (H, W, C) and resize it to ``size`` x ``size``.

    Pixels of the box outside the image are zero (black), as in EFT.
    """
    import cv2

    if image.ndim != 3:
        raise ValueError(f"image: expected shape (H, W, C), got {image.shape}")
    matrix = box.image_to_crop_matrix(size)
    cropped = cv2.warpAffine(
        image,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )
    if cropped.ndim == 2:  # cv2 drops a single channel
        cropped = cropped[:, :, None]
    return np.asarray(cropped, dtype=np.uint8)


def weak_perspective_project(points_3d: Tensor, cam_weak: Tensor) -> Tensor:
    """Points ``(B, J, 3)`` and ``cam_weak (B, 3)`` = [s, tx, ty] to crop-normalised ``(B, J, 2)``."""
    if points_3d.ndim != 3 or points_3d.shape[-1] != 3:
        raise ValueError(f"points_3d: expected shape (B, J, 3), got {tuple(points_3d.shape)}")
    if cam_weak.shape != (points_3d.shape[0], 3):
        raise ValueError(f"cam_weak: expected shape ({points_3d.shape[0]}, 3), got {tuple(cam_weak.shape)}")
    scale = cam_weak[:, None, :1]
    shift = cam_weak[:, None, 1:]
    return scale * points_3d[..., :2] + shift


def weak_to_spin_translation(cam_weak: Tensor, focal_length: float = SPIN_FOCAL_LENGTH) -> Tensor:
    """EFT's ``[s, tx, ty]`` to SPIN's camera translation ``(B, 3)`` (t divided by s, depth from s)."""
    import torch

    s = cam_weak[:, 0]
    return torch.stack([cam_weak[:, 1] / s, cam_weak[:, 2] / s, 2.0 * focal_length / (CROP_SIZE * s)], dim=-1)


def spin_translation_to_weak(cam_t: Tensor, focal_length: float = SPIN_FOCAL_LENGTH) -> Tensor:
    """SPIN's camera translation ``(B, 3)`` back to EFT's ``[s, tx, ty]``."""
    import torch

    s = 2.0 * focal_length / (CROP_SIZE * cam_t[:, 2])
    return torch.stack([s, cam_t[:, 0] * s, cam_t[:, 1] * s], dim=-1)
