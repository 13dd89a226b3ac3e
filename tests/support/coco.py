"""Small COCO keypoint datasets made on the fly (images and annotation file), and their zips."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

WIDTH, HEIGHT = 96, 128


def write_jpeg(path: Path, size: tuple[int, int] = (WIDTH, HEIGHT), seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(path, format="JPEG")


def coco_person(ann_id: int, image_id: int, labelled: int = 17, x0: float = 10.0) -> dict[str, Any]:
    keypoints: list[float] = []
    for k in range(17):
        keypoints += [x0 + 3 * k, 5.0 + 6 * k, 2.0 if k < labelled else 0.0]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "keypoints": keypoints,
            "num_keypoints": labelled, "bbox": [x0, 5.0, 60.0, 110.0]}  # fmt: skip


def make_coco(root: Path, people: list[dict[str, Any]] | None = None, images: int = 3) -> Path:
    for i in range(images):
        write_jpeg(root / "images" / f"{i:03d}.jpg", seed=i)
    coco = {
        "images": [
            {"id": i, "file_name": f"{i:03d}.jpg", "width": WIDTH, "height": HEIGHT} for i in range(images)
        ],
        "annotations": people
        if people is not None
        else [
            coco_person(100, 0),
            coco_person(101, 0, labelled=5),
            coco_person(102, 1),
            coco_person(103, 2, labelled=8),
            {**coco_person(104, 2), "iscrowd": 1},
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    (root / "annotations.json").write_text(json.dumps(coco))
    return root


def coco_zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                handle.write(file, file.relative_to(folder).as_posix())
    return buffer.getvalue()
