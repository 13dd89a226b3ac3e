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


def _items(value: object) -> list[object]:
    """A MATLAB struct array read with squeeze_me as a list (one element comes back bare)."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _number(value: object) -> float | None:
    array = np.asarray(value).ravel()
    if array.size != 1:
        return None
    try:
        number = float(array[0])
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def iter_mpii_mat(path: Path, stats: ReadStats | None = None) -> Iterator[SourcePerson]:
    """MPII's official ``mpii_human_pose_v1_u12_1.mat`` (``RELEASE.annolist``): every person
    with ``annopoints``. Test-set people carry none and are skipped (counted); the image's
    ``img_train`` flag is kept in ``extra``. Ids: ``<image index>_<person index>`` (1-based)."""
    import scipy.io

    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    if not path.is_file():
        raise DatasetError(f"{path}: file does not exist")
    try:
        data = scipy.io.loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except Exception as exc:  # scipy raises several types for a file that is not a .mat
        raise DatasetError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    release = data.get("RELEASE")
    if release is None or not hasattr(release, "annolist"):
        raise DatasetError(f"{path}: no RELEASE.annolist (not MPII's official annotation file)")
    train_flags = np.atleast_1d(np.asarray(getattr(release, "img_train", []))).ravel()
    for i, entry in enumerate(_items(release.annolist), start=1):
        where = f"{path}: annolist({i})"
        image = getattr(entry, "image", None)
        name = getattr(image, "name", None)
        if not isinstance(name, str) or not name:
            raise DatasetError(f"{where}: no image name")
        is_train = int(train_flags[i - 1]) if i - 1 < train_flags.size else -1
        for k, rect in enumerate(_items(getattr(entry, "annorect", None)), start=1):
            stats.annotations += 1
            points = _items(getattr(getattr(rect, "annopoints", None), "point", None))
            if not points:
                stats.skip("no keypoints (MPII test set or unlabelled)")
                continue
            keypoints = np.zeros((MPII_JOINTS, 3))
            for point in points:
                joint = _number(getattr(point, "id", None))
                x, y = _number(getattr(point, "x", None)), _number(getattr(point, "y", None))
                if joint is None or not 0 <= joint < MPII_JOINTS or joint != int(joint):
                    raise DatasetError(
                        f"{where}.annorect({k}): joint id {getattr(point, 'id', None)!r} is not 0-15"
                    )
                if x is None or y is None:
                    raise DatasetError(f"{where}.annorect({k}): joint {int(joint)} has no x / y")
                keypoints[int(joint)] = [x - 1.0, y - 1.0, 1.0]  # 1-based MATLAB pixels; present = labelled
            scale = _number(getattr(rect, "scale", None))
            objpos = getattr(rect, "objpos", None)
            cx, cy = _number(getattr(objpos, "x", None)), _number(getattr(objpos, "y", None))
            bbox = None
            if scale and scale > 0 and cx is not None and cy is not None:
                side = 200.0 * scale
                bbox = (cx - 1.0 - side / 2, cy - 1.0 - side / 2, side, side)
            stats.people += 1
            yield SourcePerson(
                annotation_id=f"{i}_{k}",
                image_name=name,
                layout="mpii16",
                keypoints=keypoints,
                labels_gt24=to_gt24(keypoints[None], "mpii16")[0],
                bbox=bbox,
                subject_id=f"{name}#{k - 1}",
                extra={"img_train": is_train},
            )


def iter_mpii(path: Path, stats: ReadStats | None = None) -> Iterator[SourcePerson]:
    """MPII from either file: the official ``.mat`` or the JSON list."""
    if Path(path).suffix.lower() == ".mat":
        return iter_mpii_mat(path, stats)
    return iter_mpii_json(path, stats)
