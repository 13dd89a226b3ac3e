"""COCO-format person keypoints (``person_keypoints_*.json``; also OCHuman's and CrowdPose-style
files in COCO format), streamed: the file is read item by item, never whole.

Keeps each annotation's ``id`` (not the image id); ``iscrowd`` regions are skipped; visibility
0 is unlabelled, 1 labelled but occluded, 2 visible: 1 and 2 both count as labelled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from fitting.datasets.common import (
    DatasetError,
    ReadStats,
    SourcePerson,
    json_error,
    keypoint_triplets,
    number_list,
    open_json_stream,
)
from fitting.joints import to_gt24


def _stream(path: Path, prefix: str) -> Iterator[Any]:
    with open_json_stream(path) as handle:
        try:
            yield from ijson.items(handle, prefix, use_float=True)
        except ijson.JSONError as exc:
            raise json_error(path, exc) from exc


def read_coco_images(path: Path) -> dict[int, tuple[str, int | None, int | None, str]]:
    """image id -> (file name, width, height, video id or ""), validated."""
    images: dict[int, tuple[str, int | None, int | None, str]] = {}
    for i, image in enumerate(_stream(path, "images.item")):
        where = f"{path}: images[{i}]"
        if not isinstance(image, dict) or not isinstance(image.get("id"), int) or not image.get("file_name"):
            raise DatasetError(f"{where} needs an integer 'id' and a 'file_name'")
        if image["id"] in images:
            raise DatasetError(f"{where}: image id {image['id']} appears twice")
        width, height = image.get("width"), image.get("height")
        for name, value in (("width", width), ("height", height)):
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise DatasetError(f"{where}: {name} must be a positive integer, got {value!r}")
        video = image.get("vid_id", image.get("video_id", ""))
        images[image["id"]] = (
            str(image["file_name"]),
            width,
            height,
            str(video) if video is not None else "",
        )
    if not images:
        raise DatasetError(
            f"{path}: expected a COCO object with 'images' and 'annotations' lists; no images found"
        )
    return images


def iter_coco(path: Path, stats: ReadStats | None = None, layout: str = "coco17") -> Iterator[SourcePerson]:
    """Every non-crowd person annotation, in file order. A problem raises DatasetError saying
    where (``annotations[12] (id 431)``); callers that must not half-import collect first."""
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    images = read_coco_images(path)
    count = {"coco17": 17, "posetrack17": 17, "ochuman19": 19}[layout]
    seen: set[int] = set()
    for i, ann in enumerate(_stream(path, "annotations.item")):
        stats.annotations += 1
        if not isinstance(ann, dict) or not isinstance(ann.get("id"), int):
            raise DatasetError(f"{path}: annotations[{i}] needs an integer 'id'")
        where = f"{path}: annotations[{i}] (id {ann['id']})"
        if ann["id"] in seen:
            raise DatasetError(f"{where}: annotation id appears twice")
        seen.add(ann["id"])
        if ann.get("image_id") not in images:
            raise DatasetError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        if ann.get("iscrowd"):
            stats.skip("crowd region")
            continue
        if ann.get("keypoints") is None:
            stats.skip("no keypoints")
            continue
        keypoints = keypoint_triplets(ann["keypoints"], count, where)
        bbox = None
        if ann.get("bbox") is not None:
            x, y, w, h = number_list(ann["bbox"], 4, where, "bbox")
            bbox = (x, y, w, h) if w > 0 and h > 0 else None
        name, width, height, video = images[ann["image_id"]]
        track = str(ann["track_id"]) if ann.get("track_id") is not None else ""
        stats.people += 1
        yield SourcePerson(
            annotation_id=str(ann["id"]),
            image_name=name,
            layout=layout,
            keypoints=keypoints,
            labels_gt24=to_gt24(keypoints[None], layout)[0],
            bbox=bbox,
            subject_id=f"{video}:{track}" if video and track else track,
            image_size=(width, height) if width and height else None,
        )
