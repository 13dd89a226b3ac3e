"""PoseTrack 2018: one COCO-style JSON file per video (``annotations/train/000001_bonn_train.json``
...), with ``track_id`` per person, ``vid_id`` / ``frame_id`` per image, ``head_bottom`` and
``head_top`` keypoints (into GT-24's neck and head top) and unlabelled ears.

Ignore regions (``ignore_regions_x/y``) mark people that were *not* annotated; every annotated
person is kept, and a person's subject id is ``video:track`` so one person's frames stay together.
Frames without labels (``is_labeled`` false) carry no person annotations and yield nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fitting.datasets.coco import iter_coco
from fitting.datasets.common import DatasetError, ReadStats, SourcePerson


def posetrack_files(path: Path) -> list[Path]:
    """The per-video files of a folder (sorted), or the one file given."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise DatasetError(f"{path}: no PoseTrack .json files in this folder")
        return files
    return [path]


def iter_posetrack(path: Path, stats: ReadStats | None = None) -> Iterator[SourcePerson]:
    stats = stats if stats is not None else ReadStats()
    seen: dict[str, Path] = {}
    for file in posetrack_files(path):
        for person in iter_coco(file, stats, layout="posetrack17"):
            if person.annotation_id in seen:
                other = seen[person.annotation_id].name
                raise DatasetError(f"{file}: annotation id {person.annotation_id} is also in {other}")
            seen[person.annotation_id] = file
            yield person
