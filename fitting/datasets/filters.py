"""The paper's person filters, as named presets: the one registry the CLI, the app's forms,
queries and labels read (names, short labels, descriptions)."""

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
    label: str  # short, for a choice list
    description: str
    keep: Callable[[SourcePerson], bool]


FILTERS: dict[str, Filter] = {
    f.name: f
    for f in (
        Filter("all", "all", "every annotated person", lambda p: p.labelled > 0),
        Filter(
            "coco-all",
            "COCO-All (6+ keypoints)",
            "at least 6 labelled keypoints (the paper's COCO-All / COCO-Train)",
            lambda p: p.labelled >= 6,
        ),
        Filter(
            "coco-part",
            "COCO-Part (12 limbs)",
            "all 12 limb keypoints labelled (the paper's COCO-Part)",
            lambda p: bool((p.labels_gt24[list(LIMB_JOINTS), 2] > 0).all()),
        ),
    )
}

#: The filter fits use when none is named (the paper fits COCO-All).
DEFAULT_FILTER = "coco-all"


def get_filter(name: str) -> Filter:
    try:
        return FILTERS[name]
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; choose from {sorted(FILTERS)}") from None
