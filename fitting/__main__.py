"""The fitting engine's command line: `python -m fitting <command> ...`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def _cmd_probe(args: argparse.Namespace) -> int:
    from fitting.probe import host_capabilities

    report = host_capabilities(args.device, [b.strip() for b in args.backends.split(",") if b.strip()])
    if args.json:
        print(json.dumps(report))
    else:
        torch_info = report["torch"]
        print(f"torch {torch_info['torch_version']}: device {torch_info['device'] or torch_info['error']}")
        for probe in report["renderer"]["probes"]:
            state = "ok" if probe["ok"] else "failed"
            print(f"renderer {probe['backend']}: {state} ({probe['detail']})")
        print(f"renderer in use: {report['renderer']['backend'] or 'none'}")
    return 0


PREVIEW_POSES = {
    # joint name -> axis-angle (radians) in the body frame (y up, facing +z, left at +x)
    "rest": {},
    "raised-arm": {
        "left_shoulder": (0.0, 0.0, 1.4),
        "right_elbow": (0.0, 1.5, 0.0),
        "left_knee": (1.2, 0.0, 0.0),
    },
}


def _cmd_body_preview(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from PIL import Image

    from fitting.body.model import BodyModel
    from fitting.geometry.rotations import axis_angle_to_rotmat
    from fitting.joints import SMPL24_NAMES
    from fitting.render.mesh import MeshSpec, render_views, side_by_side

    body = BodyModel.load(args.body_model, args.j_regressor_extra)
    axis_angle = torch.zeros(1, 24, 3)
    for joint, value in PREVIEW_POSES[args.pose].items():
        axis_angle[0, SMPL24_NAMES.index(joint)] = torch.tensor(value)
    betas = torch.zeros(1, 10)
    for index, value in enumerate(args.betas):
        betas[0, index] = value
    with torch.no_grad():
        out = body(betas, axis_angle_to_rotmat(axis_angle))
    images = render_views([MeshSpec(out.vertices[0].numpy(), body.faces)], ("front", "side"), size=args.size)
    Image.fromarray(np.asarray(side_by_side(images))).save(args.out)
    print(f"wrote {args.out}: {body.description}, pose {args.pose}, betas {betas[0].tolist()}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from PIL import Image

    from fitting.synth.generate import SynthConfig, generate
    from fitting.synth.preview import annotated_grid, pose_grid

    config = SynthConfig(
        people=args.people,
        seed=args.seed,
        width=args.size,
        height=args.size,
        max_people_per_image=args.max_per_image,
        truncation_rate=args.truncation,
        backgrounds=str(args.backgrounds) if args.backgrounds else None,
    )
    result = generate(config, args.out)
    print(
        f"wrote {result.people} people in {result.images} images to {args.out} in {result.seconds:.1f} s "
        f"({result.people / max(result.seconds, 1e-9):.1f} people/s; {result.dropped} dropped: under "
        f"{config.min_visible_keypoints} keypoints in the frame)"
    )
    if args.grid:
        Image.fromarray(annotated_grid(args.out, count=16)).save(args.out / "grid.png")
        Image.fromarray(pose_grid(count=24, seed=args.seed)).save(args.out / "poses.png")
        print(f"pictures: {args.out / 'grid.png'} (images with keypoints), {args.out / 'poses.png'} (poses)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fitting", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    probe = sub.add_parser("probe", help="report the torch device and the headless renderer that work here")
    probe.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    probe.add_argument("--backends", default="egl,osmesa", help="render backends to try, in order")
    probe.add_argument("--json", action="store_true", help="print one JSON object")
    probe.set_defaults(func=_cmd_probe)

    preview = sub.add_parser("body-preview", help="render the body model (front and side) to a PNG")
    preview.add_argument("--out", type=Path, required=True)
    preview.add_argument("--pose", choices=sorted(PREVIEW_POSES), default="raised-arm")
    preview.add_argument("--betas", type=float, nargs="*", default=[], help="up to 10 shape values")
    preview.add_argument("--size", type=int, default=512)
    preview.add_argument(
        "--body-model", type=Path, default=None, help="licensed SMPL .pkl (default: open body)"
    )
    preview.add_argument("--j-regressor-extra", type=Path, default=None)
    preview.set_defaults(func=_cmd_body_preview)

    synth = sub.add_parser(
        "synth", help="render synthetic people with known 3D truth (COCO JSON + truth.npz)"
    )
    synth.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    synth.add_argument("--people", type=int, default=1000)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--size", type=int, default=384, help="image width and height in pixels")
    synth.add_argument("--max-per-image", type=int, default=3)
    synth.add_argument("--truncation", type=float, default=0.2, help="share of people partly out of frame")
    synth.add_argument("--backgrounds", type=Path, default=None, help="folder of photographs for backgrounds")
    synth.add_argument("--grid", action="store_true", help="also write grid.png and poses.png")
    synth.set_defaults(func=_cmd_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
