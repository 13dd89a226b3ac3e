"""The paper's truncation protocol: 8 crop boxes per person around growing sets of GT-24 joints,
from the face (level 0) to the whole body (level 7). Levels 1, 2 and 4 are the evaluation
protocol; training's crop augmentation picks one of them (fitting.train.data); a published
benchmark gives each person's 8 boxes, placed by projecting the fit (fitting.benchmark)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fitting.geometry.camera import CropBox
from fitting.joints import GT24_NAMES

_G = GT24_NAMES.index
_FACE = [_G(n) for n in ("Nose", "Left Eye", "Right Eye", "Left Ear", "Right Ear", "Top of Head (LSP)")]
_LEVEL_ADDS = [
    _FACE,
    [_G("Neck (LSP)"), _G("Right Shoulder"), _G("Left Shoulder")],
    [_G("Right Elbow"), _G("Left Elbow")],
    [_G("Right Wrist"), _G("Left Wrist")],
    [_G("Right Hip"), _G("Left Hip"), _G("Pelvis (MPII)")],
    [_G("Right Knee"), _G("Left Knee")],
    [_G("Right Ankle"), _G("Left Ankle")],
]
TRUNCATION_LEVELS: tuple[tuple[int, ...], ...] = (
    *(tuple(sorted({j for adds in _LEVEL_ADDS[: k + 1] for j in adds})) for k in range(7)),
    tuple(range(24)),
)


def truncation_box(points_px: NDArray[np.floating], level: int) -> CropBox:
    """The crop box of truncation ``level`` (0 face ... 7 full body) from GT-24 joints ``(24, 2)``."""
    chosen = np.asarray(points_px)[list(TRUNCATION_LEVELS[level]), :2]
    lo, hi = chosen.min(axis=0), chosen.max(axis=0)
    width, height = max(hi[0] - lo[0], 8.0), max(hi[1] - lo[1], 8.0)
    return CropBox.from_bbox(float(lo[0]), float(lo[1]), float(width), float(height))
