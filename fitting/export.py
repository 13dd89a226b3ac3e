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
from typing import TYPE_CHECKING, Any

import numpy as np

from fitting.datasets.common import SourcePerson
from fitting.joints import gt24_to_spin49, openpose18_validity

if TYPE_CHECKING:
    from fitting.pipeline import PersonFit

EXPORT_VERSION = "eft-webapp-1"


def annotation_id_json(annotation_id: str) -> int | str:
    """The source's annotation id as the reference files write it: a number where it is one."""
    text = str(annotation_id)
    return int(text) if text.isdigit() else text


def eft_entry(fit: PersonFit, person: SourcePerson) -> dict[str, Any]:
    """One person's entry, the only place one is made: the fit's parameters and provenance, and
    the person as its dataset gives it (``annotId`` is the dataset's own annotation id)."""
    labels = np.asarray(person.labels_gt24, dtype=np.float64)
    if labels.shape != (24, 3):
        raise ValueError(f"labels_gt24: expected (24, 3), got {labels.shape}")
    box = person.box()
    entry: dict[str, Any] = {
        "parm_pose": np.asarray(fit.pose_rotmat, dtype=np.float64).tolist(),
        "parm_shape": np.asarray(fit.betas, dtype=np.float64).tolist(),
        "parm_cam": np.asarray(fit.cam_weak, dtype=np.float64).tolist(),
        "bbox_scale": box.scale,
        "bbox_center": [box.center_x, box.center_y],
        "gt_keypoint_2d": gt24_to_spin49(labels[None])[0].tolist(),
        "joint_validity_openpose18": openpose18_validity(labels[None])[0].tolist(),
        "smpltype": "smpl",
        "annotId": annotation_id_json(person.annotation_id),
        "imageName": person.image_name,
        "fit": fit.provenance(),
    }
    if person.subject_id:
        entry["subjectId"] = person.subject_id
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
