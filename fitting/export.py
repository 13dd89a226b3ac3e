"""The EFT JSON export researchers already load (eft-method.md, "Export format").

Per person: ``parm_pose`` (24 x 3 x 3 rotation matrices, [0] the global orientation),
``parm_shape`` (10 betas), ``parm_cam`` ([s, tx, ty], weak perspective in the normalised 224
crop), ``bbox_scale`` (crop side / 200), ``bbox_center`` (image pixels), ``gt_keypoint_2d``
(SPIN-49 labels in image pixels, third column 0/1), ``joint_validity_openpose18``, ``smpltype``,
``annotId`` (the source annotation's id, not the image's), ``imageName``. Beyond the original
keys, each entry says how it was made under ``fit`` (method, iterations, 2D error, sanity verdict,
config, checkpoint hash), so a file can be traced to the run that wrote it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fitting.geometry.camera import CropBox
from fitting.joints import gt24_to_spin49, openpose18_validity

EXPORT_VERSION = "eft-webapp-1"


def eft_entry(
    *,
    pose_rotmat: NDArray[np.floating],
    betas: NDArray[np.floating],
    cam_weak: NDArray[np.floating],
    box: CropBox,
    labels_gt24: NDArray[np.floating],
    annotation_id: int | str,
    image_name: str,
    fit: dict[str, Any],
    subject_id: str | None = None,
) -> dict[str, Any]:
    """One person's entry; ``labels_gt24 (24, 3)`` in image pixels with 0/1 validity."""
    pose = np.asarray(pose_rotmat, dtype=np.float64)
    if pose.shape != (24, 3, 3):
        raise ValueError(f"pose_rotmat: expected (24, 3, 3) rotation matrices, got {pose.shape}")
    labels = np.asarray(labels_gt24, dtype=np.float64)
    entry: dict[str, Any] = {
        "parm_pose": pose.tolist(),
        "parm_shape": np.asarray(betas, dtype=np.float64).reshape(10).tolist(),
        "parm_cam": np.asarray(cam_weak, dtype=np.float64).reshape(3).tolist(),
        "bbox_scale": box.scale,
        "bbox_center": [box.center_x, box.center_y],
        "gt_keypoint_2d": gt24_to_spin49(labels[None])[0].tolist(),
        "joint_validity_openpose18": openpose18_validity(labels[None])[0].tolist(),
        "smpltype": "smpl",
        "annotId": int(annotation_id) if str(annotation_id).isdigit() else str(annotation_id),
        "imageName": image_name,
        "fit": fit,
    }
    if subject_id is not None:
        entry["subjectId"] = subject_id
    return entry


def write_eft_json(path: Path, entries: list[dict[str, Any]], dbname: str, rawname: str = "") -> None:
    """Write ``{"ver", "data", "meta"}`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"ver": EXPORT_VERSION, "data": entries, "meta": {"dbname": dbname, "rawname": rawname}}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(payload, out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
