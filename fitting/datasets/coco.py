"""COCO-format person keypoints (``person_keypoints_*.json``): the people EFT can fit.

Every problem is reported with where it is (``annotations[12] (id 431)``), and a file with any
problem is refused as a whole: nothing is half read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fitting.geometry.camera import CropBox
from fitting.joints import to_gt24

COCO_KEYPOINTS = 17


@dataclass(frozen=True)
class AnnotatedPerson:
    """One person to fit: the image, the source annotation id, the box and GT-24 labels (pixels)."""

    image_path: Path
    image_name: str
    annotation_id: int
    bbox: tuple[float, float, float, float]  # x, y, w, h
    labels_gt24: NDArray[np.float64]  # (24, 3): x, y, validity 0/1

    @property
    def box(self) -> CropBox:
        return CropBox.from_bbox(*self.bbox)

    @property
    def labelled(self) -> int:
        return int((self.labels_gt24[:, 2] > 0).sum())


@dataclass(frozen=True)
class CocoRead:
    people: list[AnnotatedPerson]
    skipped_crowd: int
    skipped_few_keypoints: int


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message says what is wrong and where."""


def _number_list(value: Any, length: int, where: str, what: str) -> list[float]:
    if not isinstance(value, list) or len(value) != length:
        got = f"{len(value)} values" if isinstance(value, list) else type(value).__name__
        raise DatasetError(f"{where}: {what} must be a list of {length} numbers, got {got}")
    numbers = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise DatasetError(f"{where}: {what}[{i}] is {item!r}, not a finite number")
        numbers.append(float(item))
    return numbers


def read_coco(path: Path, images: Path, min_keypoints: int = 6) -> CocoRead:
    """People of a COCO keypoints file with at least ``min_keypoints`` labelled keypoints (the
    paper's "COCO-All"); crowd regions are skipped. ``images`` is the folder of ``file_name``."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: file does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("images"), list)
        or not isinstance(raw.get("annotations"), list)
    ):
        raise DatasetError(f"{path}: expected a COCO object with 'images' and 'annotations' lists")
    names: dict[int, str] = {}
    for i, image in enumerate(raw["images"]):
        if not isinstance(image, dict) or not isinstance(image.get("id"), int) or not image.get("file_name"):
            raise DatasetError(f"{path}: images[{i}] needs an integer 'id' and a 'file_name'")
        if image["id"] in names:
            raise DatasetError(f"{path}: images[{i}]: image id {image['id']} appears twice")
        names[image["id"]] = str(image["file_name"])
    people: list[AnnotatedPerson] = []
    crowd = few = 0
    seen: set[int] = set()
    for i, ann in enumerate(raw["annotations"]):
        if not isinstance(ann, dict) or not isinstance(ann.get("id"), int):
            raise DatasetError(f"{path}: annotations[{i}] needs an integer 'id'")
        where = f"{path}: annotations[{i}] (id {ann['id']})"
        if ann["id"] in seen:
            raise DatasetError(f"{where}: annotation id appears twice")
        seen.add(ann["id"])
        if ann.get("image_id") not in names:
            raise DatasetError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        if ann.get("iscrowd"):
            crowd += 1
            continue
        if "keypoints" not in ann:
            raise DatasetError(f"{where}: no 'keypoints'")
        flat = _number_list(ann["keypoints"], COCO_KEYPOINTS * 3, where, "keypoints")
        keypoints = np.asarray(flat).reshape(1, COCO_KEYPOINTS, 3)
        bad_vis = sorted({v for v in keypoints[0, :, 2] if v not in (0.0, 1.0, 2.0)})
        if bad_vis:
            raise DatasetError(f"{where}: keypoint visibility must be 0, 1 or 2, got {bad_vis}")
        labels = to_gt24(keypoints, "coco17")[0]
        if int((labels[:, 2] > 0).sum()) < min_keypoints:
            few += 1
            continue
        bbox_raw = ann.get("bbox")
        if bbox_raw is not None:
            x, y, w, h = _number_list(bbox_raw, 4, where, "bbox")
        if bbox_raw is None or w <= 0 or h <= 0:
            valid = labels[labels[:, 2] > 0, :2]
            (x, y), (x1, y1) = valid.min(axis=0), valid.max(axis=0)
            w, h = max(x1 - x, 1.0), max(y1 - y, 1.0)
        name = names[ann["image_id"]]
        people.append(AnnotatedPerson(Path(images) / name, name, ann["id"], (x, y, w, h), labels))
    return CocoRead(people, crowd, few)
