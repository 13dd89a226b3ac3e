"""The paper's person filters, as named presets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fitting.datasets.common import SourcePerson
from fitting.joints import GT24_NAMES

#: GT-24 indices of the 12 limb keypoints: shoulders, elbows, wrists, hips, knees, ankles.
LIMB_JOINTS = tuple(
    GT24_NAMES.index(f"{side} {part}")
    for side in ("Right", "Left")
    for part in ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")
)


@dataclass(frozen=True)
class Filter:
    name: str
    description: str
    keep: Callable[[SourcePerson], bool]


FILTERS: dict[str, Filter] = {
    "all": Filter("all", "every annotated person", lambda p: p.labelled > 0),
    "coco-all": Filter(
        "coco-all",
        "at least 6 labelled keypoints (the paper's COCO-All / COCO-Train)",
        lambda p: p.labelled >= 6,
    ),
    "coco-part": Filter(
        "coco-part",
        "all 12 limb keypoints labelled (the paper's COCO-Part)",
        lambda p: bool((p.labels_gt24[list(LIMB_JOINTS), 2] > 0).all()),
    ),
}


def get_filter(name: str) -> Filter:
    try:
        return FILTERS[name]
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; choose from {sorted(FILTERS)}") from None
