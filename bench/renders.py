"""Benchmark: overlay + side-view pairs per second, the two pictures a crowd worker judges a fit by.

    .venv/bin/python bench/renders.py --people 40 --size 512

Bodies are the open body in sampled poses, seen by a weak-perspective camera over a photo-sized
image; each person is drawn twice (``fitting.render.overlay.camera_view`` over the crop and
``side_view``), then both pictures are encoded as JPEG as the render worker stores them. The
first pair (which starts the renderer) is timed apart. Prints pairs/s with and without the JPEG
encoding, and the backend (EGL or OSMesa).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fitting.body.model import BodyModel
from fitting.geometry.camera import CropBox
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.render.mesh import ensure_backend
from fitting.render.overlay import camera_view, side_view
from fitting.synth.poses import sample_poses


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--size", type=int, default=512, help="side of each picture in pixels")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    backend = ensure_backend()
    body = BodyModel.open_body()
    rng = np.random.default_rng(0)
    poses = sample_poses(args.people + 1, rng)
    rot = axis_angle_to_rotmat(torch.as_tensor(poses.axis_angle, dtype=torch.float32))
    rot[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ rot[:, 0]  # upright in the camera frame
    with torch.no_grad():
        vertices = body(torch.zeros(args.people + 1, 10), rot).vertices.numpy()
    faces = body.faces
    image = rng.integers(0, 255, size=(720, 1280, 3), dtype=np.uint8)
    box = CropBox(640.0, 360.0, 600.0)
    cam = np.array([0.9, 0.0, 0.0])
    from PIL import Image

    def pair(v: np.ndarray, encode: bool) -> None:
        front = camera_view(image, box, v, faces, cam, size=args.size)
        side = side_view(v, faces, cam, size=args.size)
        if encode:
            for picture in (front, side):
                Image.fromarray(picture).save(io.BytesIO(), format="JPEG", quality=90)

    started = time.perf_counter()
    pair(vertices[0], True)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for v in vertices[1:]:
        pair(v, False)
    drawing = time.perf_counter() - started
    started = time.perf_counter()
    for v in vertices[1:]:
        pair(v, True)
    with_jpeg = time.perf_counter() - started
    figures = {
        "backend": backend,
        "size": args.size,
        "people": args.people,
        "first_pair_seconds": round(first, 3),
        "pairs_per_s": round(args.people / drawing, 2),
        "pairs_per_s_with_jpeg": round(args.people / with_jpeg, 2),
        "ms_per_pair": round(1000 * drawing / args.people, 1),
    }
    for key, value in figures.items():
        print(f"{key:24s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
