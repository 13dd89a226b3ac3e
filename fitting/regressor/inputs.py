"""What an HMR regressor takes as input: the crop's normalisation and the optional skeleton channels.

Training (``fitting.train``) and inference (``fitting.eft``, ``fitting.fit``) both build their
inputs from here, so a checkpoint sees at inference exactly what it was trained on, and
inference never imports the training package.

- RGB: the crop in [0, 1], normalised with the ImageNet statistics, channels first.
- Auxiliary channels (checkpoints whose ``eft_meta["aux"]`` is :data:`AUX_SKELETON`): three more
  channels with the labelled 2D GT-24 skeleton drawn on the crop (left limbs, right limbs, centre).
- The input size is ``eft_meta["input_size"]``; checkpoints without metadata (SPIN, EFT) take
  224-pixel RGB crops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fitting.joints import GT24_BONES

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])

#: Input channels the labelled skeleton adds.
AUX_CHANNELS = 3
#: ``eft_meta["aux"]`` of a checkpoint trained with the skeleton channels ("none" without them).
AUX_SKELETON = "gt24-skeleton-3ch"
#: The input size of checkpoints that do not state one (SPIN, EFT).
DEFAULT_INPUT_SIZE = 224


def checkpoint_input(meta: Mapping[str, Any]) -> tuple[int, bool]:
    """(input size, skeleton channels) of a checkpoint from its metadata (``LoadedCheckpoint.meta``)."""
    eft_meta = meta.get("eft_meta", {})
    return int(eft_meta.get("input_size", DEFAULT_INPUT_SIZE)), eft_meta.get("aux", "none") != "none"


def normalize_rgb(crop: NDArray[np.floating]) -> NDArray[np.float32]:
    """A crop ``(H, W, 3)`` with values in [0, 1] as the network's RGB channels ``(3, H, W)``."""
    channels: NDArray[np.float32] = (
        ((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32)
    )
    return channels


def draw_skeleton_channels(labels_crop: NDArray[np.floating], size: int) -> NDArray[np.float32]:
    """Three ``size`` x ``size`` channels with the labelled GT-24 bones drawn (1 on the lines)."""
    import cv2

    canvas = np.zeros((AUX_CHANNELS, size, size), dtype=np.uint8)
    thickness = max(1, size // 80)
    for a, b, channel in GT24_BONES:
        if labels_crop[a, 2] > 0 and labels_crop[b, 2] > 0:
            pa = (round(labels_crop[a, 0]), round(labels_crop[a, 1]))
            pb = (round(labels_crop[b, 0]), round(labels_crop[b, 1]))
            layer = np.ascontiguousarray(canvas[channel])
            cv2.line(layer, pa, pb, 1, thickness, cv2.LINE_AA)
            canvas[channel] = layer
    for j in range(24):
        if labels_crop[j, 2] > 0:
            for channel in range(AUX_CHANNELS):
                layer = np.ascontiguousarray(canvas[channel])
                cv2.circle(layer, (round(labels_crop[j, 0]), round(labels_crop[j, 1])), thickness, 1, -1)
                canvas[channel] = layer
    return canvas.astype(np.float32)
