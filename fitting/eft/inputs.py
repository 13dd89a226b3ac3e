"""Building EFT's input for one annotated person: crop, normalised image, labels."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.eft.core import EftTarget
from fitting.geometry.camera import CropBox, crop_image
from fitting.joints import gt24_to_spin49
from fitting.regressor.inputs import draw_skeleton_channels, normalize_rgb


def make_target(
    image_rgb: NDArray[np.uint8],
    keypoints_gt24_px: NDArray[np.floating],
    box: CropBox,
    input_size: int = 224,
    aux_channels: bool = False,
) -> EftTarget:
    """The crop of ``box`` with the person's GT-24 labels ``(24, 3)`` (pixels, validity)."""
    labels = np.asarray(keypoints_gt24_px, dtype=np.float64)
    if labels.shape != (24, 3):
        raise ValueError(f"keypoints: expected GT-24 of shape (24, 3), got {labels.shape}")
    crop = crop_image(image_rgb, box, input_size).astype(np.float64) / 255.0
    channels = normalize_rgb(crop)
    matrix = box.image_to_crop_matrix(input_size)
    labels_crop = labels.copy()
    labels_crop[:, :2] = labels[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    labels_crop[labels[:, 2] <= 0] = 0.0
    if aux_channels:
        channels = np.concatenate([channels, draw_skeleton_channels(labels_crop, input_size)])
    spin = gt24_to_spin49(labels_crop[None])[0]
    spin[:, :2] = 2.0 * spin[:, :2] / input_size - 1.0
    spin[spin[:, 2] <= 0, :2] = 0.0
    return EftTarget(
        image=torch.from_numpy(np.ascontiguousarray(channels)),
        keypoints_2d=torch.from_numpy(spin.astype(np.float32)),
        box=box,
    )
