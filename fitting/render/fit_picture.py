"""A picture of one fit: the crop with labels and fitted joints, and the body from the camera and
from the side (what a reviewer looks at before reading any figure)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fitting.geometry.camera import CropBox, crop_image

LABEL = (255, 255, 255)
FITTED = (230, 40, 40)


def fit_picture(
    image_rgb: NDArray[np.uint8],
    box: CropBox,
    labels_px: NDArray[np.floating],
    fitted_px: NDArray[np.floating],
    vertices_camera: NDArray[np.floating] | None,
    faces: NDArray[np.integer] | None,
    size: int = 256,
) -> NDArray[np.uint8]:
    """``labels_px``/``fitted_px`` ``(K, 3)``/``(K, 2)`` in image pixels (labels with validity);
    ``vertices_camera`` in the camera frame (x right, y down), or None for the crop alone.

    Labels are white dots, fitted joints red dots, each joined to its label by a red line: the
    line's length is that joint's 2D error.
    """
    import cv2

    crop = np.ascontiguousarray(crop_image(image_rgb, box, size))
    matrix = box.image_to_crop_matrix(size)
    labels = np.asarray(labels_px, dtype=np.float64)
    fitted = np.asarray(fitted_px, dtype=np.float64)[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    labelled = labels[:, 2] > 0
    label_xy = labels[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    for (lx, ly), (fx, fy) in zip(label_xy[labelled], fitted[labelled], strict=True):
        cv2.line(crop, (round(lx), round(ly)), (round(fx), round(fy)), FITTED, 1, cv2.LINE_AA)
        cv2.circle(crop, (round(lx), round(ly)), 3, LABEL, -1, cv2.LINE_AA)
        cv2.circle(crop, (round(fx), round(fy)), 2, FITTED, -1, cv2.LINE_AA)
    if vertices_camera is None or faces is None:
        return crop
    from fitting.render.mesh import MeshSpec, render_views

    upright = np.asarray(vertices_camera, dtype=np.float64) * np.array([1.0, -1.0, -1.0])
    views = render_views([MeshSpec(upright, np.asarray(faces))], ("front", "side"), size=size)
    return np.concatenate([crop, *views], axis=1)
