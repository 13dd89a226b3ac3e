"""What every dataset reader yields, and how it reports bad input."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fitting.geometry.camera import CropBox


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message says what is wrong and where."""


class ImageError(ValueError):
    """An image that cannot be read or decoded; the message names it."""


@dataclass(frozen=True)
class SourcePerson:
    """One annotated person as a dataset gives it, and in GT-24.

    ``keypoints`` are the file's own ``(K, 3)``: x, y in image pixels (0-based) and the file's
    flag as written (its meaning differs per format: see each reader). ``labels_gt24`` is
    ``(24, 3)`` with validity 0/1 ("labelled", whatever the occlusion).
    """

    annotation_id: str  # the source's id (COCO / PoseTrack annotation id), or its position
    image_name: str  # relative to the dataset's image folder
    layout: str  # a key of fitting.joints.LAYOUT_TO_GT24
    keypoints: NDArray[np.float64]
    labels_gt24: NDArray[np.float64]
    bbox: tuple[float, float, float, float] | None  # x, y, w, h in pixels, when the file gives one
    subject_id: str = ""  # PoseTrack: video and track; MPII: image and person index
    image_size: tuple[int, int] | None = None  # (width, height) when the file states it
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labelled(self) -> int:
        return int((self.labels_gt24[:, 2] > 0).sum())

    def box(self) -> CropBox:
        """EFT's crop box: from the annotated box, else around the labelled keypoints."""
        if self.bbox is not None and self.bbox[2] > 0 and self.bbox[3] > 0:
            return CropBox.from_bbox(*self.bbox)
        return CropBox.from_keypoints(self.labels_gt24)


@dataclass
class ReadStats:
    """Counts a reader keeps while it streams: what was read, skipped, and why."""

    annotations: int = 0
    people: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def number_list(value: Any, length: int, where: str, what: str) -> list[float]:
    """``value`` as ``length`` finite floats, or a DatasetError naming ``where`` and ``what``."""
    if not isinstance(value, list | tuple) or len(value) != length:
        got = f"{len(value)} values" if isinstance(value, list | tuple) else type(value).__name__
        raise DatasetError(f"{where}: {what} must be a list of {length} numbers, got {got}")
    numbers = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise DatasetError(f"{where}: {what}[{i}] is {item!r}, not a finite number")
        numbers.append(float(item))
    return numbers


def keypoint_triplets(value: Any, count: int, where: str) -> NDArray[np.float64]:
    """A flat ``[x, y, v] * count`` list as ``(count, 3)``, visibility checked to be 0, 1 or 2."""
    keypoints = np.asarray(number_list(value, count * 3, where, "keypoints")).reshape(count, 3)
    bad = sorted({float(v) for v in keypoints[:, 2] if v not in (0.0, 1.0, 2.0)})
    if bad:
        raise DatasetError(f"{where}: keypoint visibility must be 0, 1 or 2, got {bad}")
    return keypoints


def open_json_stream(path: Path) -> Any:
    """A binary handle on a JSON annotation file, or a DatasetError saying it is missing."""
    path = Path(path)
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DatasetError(f"{path}: file does not exist") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be opened ({exc.strerror})") from exc


def json_error(path: Path, exc: Exception) -> DatasetError:
    return DatasetError(f"{path}: not valid JSON ({exc})")
