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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.body.model import BodyModel
from fitting.geometry.camera import CropBox, normalized_to_image_each, weak_perspective_project
from fitting.geometry.truncation import TRUNCATION_LEVELS, truncation_box
from fitting.joints import GT24_OFFSET

#: Fits projected per call of the body's joints (a few MB a batch: no vertices).
FORWARD_BATCH = 500


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
    betas_all = np.asarray(betas, dtype=np.float64)
    cam_all = np.asarray(cam_weak, dtype=np.float64)
    parts = []
    with torch.no_grad():
        # The joints alone (no mesh), some fits at a time.
        for start in range(0, count, FORWARD_BATCH):
            part = slice(start, start + FORWARD_BATCH)
            joints = body.joints_spin49(
                torch.as_tensor(betas_all[part], dtype=dtype, device=device),
                torch.as_tensor(pose[part], dtype=dtype, device=device),
            )
            parts.append(
                weak_perspective_project(
                    joints[:, GT24_OFFSET:].double(), torch.as_tensor(cam_all[part], device=device)
                ).cpu()
            )
    return normalized_to_image_each(torch.cat(parts).numpy(), boxes)


def truncation_boxes(points_px: NDArray[np.floating]) -> list[dict[str, Any]]:
    """The eight boxes of the truncation protocol around a fit's projected GT-24 joints
    ``(24, 2)``: ``{"level", "bbox_center", "bbox_scale"}`` in the entry's own convention."""
    boxes = []
    for level in range(len(TRUNCATION_LEVELS)):
        box = truncation_box(points_px, level)
        boxes.append({"level": level, "bbox_center": [box.center_x, box.center_y], "bbox_scale": box.scale})
    return boxes


#: What a researcher needs beside the JSON to reproduce each person's 2D error with smplx alone
#: (written by ``write_body_files`` for the open body; with the licensed SMPL, its own
#: SMPL_NEUTRAL.pkl and smplx's default vertex ids take their places).
BODY_FILES = ("SMPL_NEUTRAL.pkl", "J_regressor_extra.npy", "vertex_ids.json", "spin49_from_smpl54.json")

#: The dataset card's snippet: loads a published file with smplx and reproduces each person's
#: stored GT-24 2D error (``fit.joint_error_px_gt24``) from the file alone. ``{json}`` and ``{body}``
#: are the JSON file and the folder of BODY_FILES.
SMPLX_SNIPPET = """\
import json
import numpy as np
import smplx
import torch

doc = json.load(open("{json}"))
body = "{body}"  # the folder of the body files (SMPL_NEUTRAL.pkl, J_regressor_extra.npy, ...)
smpl = smplx.SMPL(model_path=f"{{body}}/SMPL_NEUTRAL.pkl",
                  vertex_ids=json.load(open(f"{{body}}/vertex_ids.json")))
extra = torch.tensor(np.load(f"{{body}}/J_regressor_extra.npy"), dtype=torch.float32)
index = json.load(open(f"{{body}}/spin49_from_smpl54.json"))  # SMPL's 45 + 9 extra joints -> SPIN-49

errors = []
for person in doc["data"]:
    pose = torch.tensor(person["parm_pose"], dtype=torch.float32)[None]  # rotation matrices
    out = smpl(betas=torch.tensor([person["parm_shape"]], dtype=torch.float32),
               global_orient=pose[:, :1], body_pose=pose[:, 1:], pose2rot=False)
    joints54 = torch.cat([out.joints, torch.einsum("jv,bvc->bjc", extra, out.vertices)], dim=1)
    gt24 = joints54[0, index][25:].detach().numpy()  # SPIN-49 = 25 OpenPose + 24 GT joints
    s, tx, ty = person["parm_cam"]  # weak perspective in the normalised crop
    (cx, cy), scale = person["bbox_center"], person["bbox_scale"]
    u = cx + 100 * scale * (s * gt24[:, 0] + tx)  # image pixels
    v = cy + 100 * scale * (s * gt24[:, 1] + ty)
    labels = np.array(person["gt_keypoint_2d"])[25:]  # (24, 3): x, y, labelled
    error = np.where(labels[:, 2] > 0, np.hypot(u - labels[:, 0], v - labels[:, 1]), np.nan)
    errors.append(error)  # equals person["fit"]["joint_error_px_gt24"] (null where unlabelled)
"""


def write_body_files(folder: Path, asset_path: Path | None = None) -> list[Path]:
    """The open body as smplx loads it (``SMPL_NEUTRAL.npz``), its extra-joint regressor, its
    vertex ids for smplx's 21 vertex-selected joints, and the SPIN-49 joint order: the files the
    card's snippet reads. Returns their paths."""
    import json
    import pickle

    from fitting.assets import OPEN_BODY_PATH
    from fitting.body.asset import load_asset
    from fitting.joints import SPIN49_FROM_SMPL54

    asset = load_asset(asset_path or OPEN_BODY_PATH)
    folder.mkdir(parents=True, exist_ok=True)
    v = asset.num_vertices
    model = {
        "v_template": asset.v_template,
        "shapedirs": asset.shapedirs,
        "posedirs": np.zeros((v, 3, 207), dtype=np.float32),  # the open body has no pose correctives
        "J_regressor": np.asarray(asset.j_regressor, dtype=np.float32),
        "weights": np.asarray(asset.weights, dtype=np.float32),
        "kintree_table": np.stack([asset.parents, np.arange(24)]),
        "f": asset.faces,
    }
    with (folder / BODY_FILES[0]).open("wb") as handle:  # smplx reads SMPL models as pickles
        pickle.dump(model, handle, protocol=2)
    np.save(folder / BODY_FILES[1], np.asarray(asset.j_regressor_extra, dtype=np.float32))
    (folder / BODY_FILES[2]).write_text(json.dumps(asset.vertex_ids, sort_keys=True))
    (folder / BODY_FILES[3]).write_text(json.dumps(list(SPIN49_FROM_SMPL54)))
    return [folder / name for name in BODY_FILES]
