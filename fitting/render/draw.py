"""2D keypoints drawn on images: skeletons coloured by side (left blue, right orange, centre green)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fitting.geometry.camera import CropBox, crop_image
from fitting.joints import LAYOUT_NAMES

LEFT = (40, 120, 255)
RIGHT = (255, 140, 30)
CENTRE = (40, 200, 90)

#: Bones of the COCO-17 layout as index pairs (0-based).
COCO17_BONES: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip


def _side(name: str) -> tuple[int, int, int]:
    lowered = name.lower()
    if lowered.startswith(("left", "l_")):
        return LEFT
    if lowered.startswith(("right", "r_")):
        return RIGHT
    return CENTRE


def draw_keypoints(
    image: NDArray[np.uint8],
    keypoints: NDArray[np.floating],
    layout: str = "coco17",
    radius: int = 3,
    bones: tuple[tuple[int, int], ...] = COCO17_BONES,
) -> NDArray[np.uint8]:
    """A copy of ``image`` (H, W, 3) with the labelled keypoints ``(K, 3)`` and their bones.

    Occluded keypoints (visibility 1) are hollow circles, visible ones (2, or any value > 1) filled.
    """
    import cv2

    names = LAYOUT_NAMES[layout]
    points = np.asarray(keypoints, dtype=np.float64)
    if points.shape != (len(names), 3):
        raise ValueError(f"{layout}: expected keypoints of shape ({len(names)}, 3), got {points.shape}")
    canvas = np.ascontiguousarray(image.copy())
    for a, b in bones:
        if points[a, 2] > 0 and points[b, 2] > 0:
            colour = _side(names[a]) if _side(names[a]) == _side(names[b]) else CENTRE
            pa = (round(points[a, 0]), round(points[a, 1]))
            pb = (round(points[b, 0]), round(points[b, 1]))
            cv2.line(canvas, pa, pb, colour, 2, cv2.LINE_AA)
    for name, (x, y, v) in zip(names, points, strict=True):
        if v > 0:
            thickness = -1 if v > 1 else 1
            cv2.circle(canvas, (round(x), round(y)), radius, _side(name), thickness, cv2.LINE_AA)
    return canvas


def grid(images: list[NDArray[np.uint8]], columns: int) -> NDArray[np.uint8]:
    """Tile equally sized images into rows of ``columns`` (blank tiles fill the last row)."""
    if not images:
        raise ValueError("grid needs at least one image")
    h, w, c = images[0].shape
    rows = -(-len(images) // columns)
    out = np.full((rows * h, columns * w, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, columns)
        out[r * h : (r + 1) * h, col * w : (col + 1) * w] = img
    return out


def draw_gt24(
    image: NDArray[np.uint8], labels_gt24: NDArray[np.floating], radius: int = 3
) -> NDArray[np.uint8]:
    """A copy of ``image`` with GT-24 labels ``(24, 3)`` and their skeleton, left blue, right
    orange, centre green; only labelled joints (validity > 0) are drawn."""
    import cv2

    from fitting.joints import GT24_BONES, GT24_NAMES

    points = np.asarray(labels_gt24, dtype=np.float64)
    if points.shape != (24, 3):
        raise ValueError(f"labels_gt24: expected shape (24, 3), got {points.shape}")
    colours = (LEFT, RIGHT, CENTRE)
    canvas = np.ascontiguousarray(image.copy())
    thickness = max(1, radius // 2 + 1)
    for a, b, side in GT24_BONES:
        if points[a, 2] > 0 and points[b, 2] > 0:
            pa = (round(points[a, 0]), round(points[a, 1]))
            pb = (round(points[b, 0]), round(points[b, 1]))
            cv2.line(canvas, pa, pb, colours[side], thickness, cv2.LINE_AA)
    for name, (x, y, v) in zip(GT24_NAMES, points, strict=True):
        if v > 0:
            cv2.circle(canvas, (round(x), round(y)), radius, _side(name), -1, cv2.LINE_AA)
    return canvas


def labelled_crop(
    image: NDArray[np.uint8], box: CropBox, labels_gt24: NDArray[np.floating], size: int = 320
) -> NDArray[np.uint8]:
    """A person's crop (EFT's box, ``size`` px square) with its GT-24 labels ``(24, 3)``, given
    in image pixels, drawn as a skeleton coloured by side."""
    labels = np.asarray(labels_gt24, dtype=np.float64)
    if labels.shape != (24, 3):
        raise ValueError(f"labels_gt24: expected (24, 3), got {labels.shape}")
    crop = crop_image(image, box, size)
    matrix = box.image_to_crop_matrix(size)
    in_crop = labels.copy()
    in_crop[:, :2] = labels[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    return draw_gt24(crop, in_crop, radius=4)
