"""LSP and LSPet ``joints.mat``: the two layouts and their opposite flags.

- **LSP** (Leeds Sports Pose, 2,000 images ``im0001.jpg``...): ``joints`` is ``3 x 14 x N``; the
  third row is an *occlusion* flag (1 = occluded, 0 = visible), and every joint is labelled.
- **LSPet** (the extended set, 10,000 images ``im00001.jpg``...): ``joints`` is ``14 x 3 x N``;
  the third column is a *visibility* flag (1 = visible, 0 = not visible), and joints flagged 0
  are not reliably labelled, so they count as unlabelled.

The layout is told from the array's shape (``3 x 14`` versus ``14 x 3``); ``convention`` can
force it for a file that was transposed on the way. The raw flag is kept in ``keypoints``; GT-24
validity follows the rules above. Image names follow each set's numbering (``image_names``
overrides them, e.g. with a sorted listing of the image folder).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from fitting.datasets.common import DatasetError, ReadStats, SourcePerson
from fitting.joints import to_gt24

Convention = Literal["auto", "lsp", "lspet"]


def load_joints_mat(path: Path) -> np.ndarray:
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file does not exist")
    try:
        data = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several types for a file that is not a .mat
        raise DatasetError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    if "joints" not in data:
        names = sorted(k for k in data if not k.startswith("__"))
        raise DatasetError(f"{path}: no 'joints' array (found {names})")
    joints = np.asarray(data["joints"], dtype=np.float64)
    if joints.ndim == 2:
        joints = joints[:, :, None]
    return joints


def detect_convention(joints: np.ndarray, path: Path) -> Literal["lsp", "lspet"]:
    if joints.ndim == 3 and joints.shape[:2] == (3, 14):
        return "lsp"
    if joints.ndim == 3 and joints.shape[:2] == (14, 3):
        return "lspet"
    raise DatasetError(
        f"{path}: joints has shape {joints.shape}; expected 3 x 14 x N (LSP) or 14 x 3 x N (LSPet)"
    )


def iter_lsp(
    path: Path,
    stats: ReadStats | None = None,
    convention: Convention = "auto",
    image_names: Sequence[str] | None = None,
) -> Iterator[SourcePerson]:
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    joints = load_joints_mat(path)
    found = detect_convention(joints, path)
    if convention != "auto" and convention != found:
        raise DatasetError(
            f"{path}: the array's shape {joints.shape} is the {found} layout, not {convention}"
        )
    per_person = joints.transpose(2, 1, 0) if found == "lsp" else joints.transpose(2, 0, 1)  # (N, 14, 3)
    count = per_person.shape[0]
    if image_names is not None and len(image_names) != count:
        raise DatasetError(f"{path}: {count} annotations but {len(image_names)} image names")
    if not np.isfinite(per_person).all():
        bad = int(np.argwhere(~np.isfinite(per_person))[0][0])
        raise DatasetError(f"{path}: annotation {bad} has non-finite coordinates")
    flags = per_person[:, :, 2]
    if not np.isin(flags, (0.0, 1.0)).all():
        raise DatasetError(f"{path}: the third {('row' if found == 'lsp' else 'column')} must be 0 or 1")
    for i in range(count):
        stats.annotations += 1
        keypoints = per_person[i].copy()
        keypoints[:, :2] -= 1.0  # MATLAB pixel coordinates are 1-based
        labels = to_gt24(keypoints[None], "lsp14")[0]
        if found == "lsp":
            labels[:14, 2] = 1.0  # every LSP joint is labelled; the flag only says occluded
            labels[:14, :2] = keypoints[:, :2]
        name = (
            image_names[i]
            if image_names is not None
            else (f"im{i + 1:04d}.jpg" if found == "lsp" else f"im{i + 1:05d}.jpg")
        )
        stats.people += 1
        yield SourcePerson(
            annotation_id=str(i + 1),
            image_name=name,
            layout="lsp14",
            keypoints=keypoints,
            labels_gt24=labels,
            bbox=None,
            extra={"convention": found},
        )
