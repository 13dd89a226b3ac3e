"""MPII Human Pose as most code distributes it: the JSON list converted from the official .mat
(``train.json`` / ``valid.json``: ``{"image", "joints" (16 x 2), "joints_vis" (16), "center",
"scale"}`` per person).

Coordinates in these files are MATLAB's, 1-based: one is subtracted to get 0-based pixels (pass
``one_based=False`` for a file already converted). ``joints_vis`` 1 means labelled. MPII has no
annotation ids: a person is named by its position in the file (``annotation_id``) and by image
and person index (``subject_id``). The box is the square of side ``200 * scale`` (MPII's scale is
the person's height over 200) around ``center``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ijson
import numpy as np

from fitting.datasets.common import (
    DatasetError,
    ReadStats,
    SourcePerson,
    json_error,
    number_list,
    open_json_stream,
)
from fitting.joints import to_gt24

MPII_JOINTS = 16


def iter_mpii_json(
    path: Path, stats: ReadStats | None = None, one_based: bool = True
) -> Iterator[SourcePerson]:
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    per_image: dict[str, int] = {}
    found = False
    with open_json_stream(path) as handle:
        try:
            for i, item in enumerate(ijson.items(handle, "item", use_float=True)):
                found = True
                stats.annotations += 1
                where = f"{path}: [{i}]"
                if not isinstance(item, dict):
                    raise DatasetError(
                        f"{where}: expected an object with image, joints, joints_vis, center, scale"
                    )
                missing = [k for k in ("image", "joints", "joints_vis", "center", "scale") if k not in item]
                if missing:
                    raise DatasetError(f"{where}: missing {missing}")
                joints = item["joints"]
                if not isinstance(joints, list) or len(joints) != MPII_JOINTS:
                    got = len(joints) if isinstance(joints, list) else type(joints).__name__
                    raise DatasetError(f"{where}: joints must be {MPII_JOINTS} [x, y] pairs, got {got}")
                xy = np.array([number_list(j, 2, where, f"joints[{k}]") for k, j in enumerate(joints)])
                vis = np.array(number_list(item["joints_vis"], MPII_JOINTS, where, "joints_vis"))
                if not np.isin(vis, (0.0, 1.0)).all():
                    raise DatasetError(f"{where}: joints_vis must be 0 or 1, got {sorted(set(vis.tolist()))}")
                cx, cy = number_list(item["center"], 2, where, "center")
                scale = number_list([item["scale"]], 1, where, "scale")[0]
                if scale <= 0:
                    raise DatasetError(f"{where}: scale must be positive, got {scale}")
                if one_based:
                    xy = xy - 1.0
                keypoints = np.concatenate([xy, vis[:, None]], axis=1)
                side = 200.0 * scale
                name = str(item["image"])
                index = per_image.get(name, 0)
                per_image[name] = index + 1
                stats.people += 1
                yield SourcePerson(
                    annotation_id=str(i),
                    image_name=name,
                    layout="mpii16",
                    keypoints=keypoints,
                    labels_gt24=to_gt24(keypoints[None], "mpii16")[0],
                    bbox=(cx - side / 2, cy - side / 2, side, side),
                    subject_id=f"{name}#{index}",
                )
        except ijson.JSONError as exc:
            raise json_error(path, exc) from exc
    if not found:
        raise DatasetError(f"{path}: expected a JSON list of MPII people; found none")
