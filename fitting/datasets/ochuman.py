"""OCHuman's own JSON (``ochuman.json``): images with their annotations nested,
``bbox`` as ``[x1, y1, x2, y2]``, 19 keypoints (or ``null`` for a person without them).

OCHuman has no annotation ids: a person is ``<image_id>_<index in the image>``. Its COCO-format
files (``ochuman_coco_format_*.json``) are read by the COCO reader instead. The paper uses
OCHuman's val split for training and its test split for testing (see the split presets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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

OCHUMAN_KEYPOINTS = 19


def iter_ochuman(path: Path, stats: ReadStats | None = None) -> Iterator[SourcePerson]:
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    found = False
    with open_json_stream(path) as handle:
        try:
            for i, image in enumerate(ijson.items(handle, "images.item", use_float=True)):
                found = True
                where_image = f"{path}: images[{i}]"
                if not isinstance(image, dict) or not image.get("file_name") or "image_id" not in image:
                    raise DatasetError(f"{where_image} needs 'image_id' and 'file_name'")
                width, height = image.get("width"), image.get("height")
                annotations = image.get("annotations") or []
                if not isinstance(annotations, list):
                    raise DatasetError(f"{where_image}: 'annotations' must be a list")
                for k, ann in enumerate(annotations):
                    stats.annotations += 1
                    where = f"{where_image}.annotations[{k}]"
                    if not isinstance(ann, dict):
                        raise DatasetError(f"{where}: expected an object")
                    if ann.get("keypoints") is None:
                        stats.skip("no keypoints")
                        continue
                    keypoints = keypoint_triplets(ann["keypoints"], OCHUMAN_KEYPOINTS, where)
                    bbox = None
                    if ann.get("bbox") is not None:
                        x1, y1, x2, y2 = number_list(ann["bbox"], 4, where, "bbox")
                        if x2 <= x1 or y2 <= y1:
                            raise DatasetError(
                                f"{where}: bbox [x1, y1, x2, y2] = {[x1, y1, x2, y2]} is empty"
                            )
                        bbox = (x1, y1, x2 - x1, y2 - y1)
                    stats.people += 1
                    yield SourcePerson(
                        annotation_id=f"{image['image_id']}_{k}",
                        image_name=str(image["file_name"]),
                        layout="ochuman19",
                        keypoints=keypoints,
                        labels_gt24=to_gt24(keypoints[None], "ochuman19")[0],
                        bbox=bbox,
                        image_size=(int(width), int(height)) if width and height else None,
                    )
        except ijson.JSONError as exc:
            raise json_error(path, exc) from exc
    if not found:
        raise DatasetError(f"{path}: expected OCHuman's JSON with an 'images' list; found no images")
