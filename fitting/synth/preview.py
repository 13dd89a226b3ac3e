"""Pictures of a synthetic set: annotated image grids and a grid of sampled poses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.render.draw import draw_keypoints, grid
from fitting.synth.poses import Distribution


def annotated_grid(folder: Path, count: int = 16, columns: int = 8, scale: float = 0.5) -> NDArray[np.uint8]:
    """The first ``count`` images of a synthetic (or any COCO-format) set with keypoints drawn."""
    import cv2
    from PIL import Image

    coco = json.loads((Path(folder) / "annotations.json").read_text())
    by_image: dict[int, list[dict[str, object]]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    tiles = []
    for info in coco["images"][:count]:
        with Image.open(Path(folder) / "images" / info["file_name"]) as image:
            pixels = np.asarray(image.convert("RGB"))
        for ann in by_image.get(info["id"], []):
            pixels = draw_keypoints(pixels, np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3))
        size = (int(pixels.shape[1] * scale), int(pixels.shape[0] * scale))
        tiles.append(np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8))
    return grid(tiles, columns)


def pose_grid(
    count: int = 24, seed: int = 0, columns: int = 8, size: int = 200, distribution: Distribution = "everyday"
) -> NDArray[np.uint8]:
    """Renders of ``count`` poses drawn from a pose distribution (mean shape, seen from the front)."""
    import cv2

    from fitting.body.model import BodyModel
    from fitting.geometry.rotations import axis_angle_to_rotmat
    from fitting.render.mesh import MeshSpec, render_views
    from fitting.synth.poses import sample_poses

    body = BodyModel.open_body()
    poses = sample_poses(count, np.random.default_rng(seed), distribution=distribution)
    with torch.no_grad():
        out = body(torch.zeros(count, 10), axis_angle_to_rotmat(torch.as_tensor(poses.axis_angle)).float())
    tiles = []
    for i in range(count):
        tile = render_views([MeshSpec(out.vertices[i].numpy(), body.faces)], ("front",), size=size)[0]
        tile = np.ascontiguousarray(tile)
        cv2.putText(
            tile, poses.family[i], (4, size - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA
        )
        tiles.append(tile)
    return grid(tiles, columns)
