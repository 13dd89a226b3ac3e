"""Benchmark: EFT persons per second, one at a time versus batched, same device, same iterations.

    .venv/bin/python bench/eft.py --backbone resnet50 --people 16 --batch 8 --iterations 10

One at a time restores the weights by copying the saved state before every person, as the
reference code does; batched runs ``--batch`` people together with stacked weights (vmap). Every
person runs exactly ``--iterations`` updates (the stopping threshold is disabled), so both sides
do the same work. Inputs are random crops with keypoints projected from sampled poses: speed does
not depend on image content. Prints the figures and their ratio, and the memory estimate per person.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.publish import process_peak_mb, rss_mb
from fitting.body.model import BodyModel
from fitting.config import EftConfig
from fitting.device import resolve_device
from fitting.eft.batched import BatchedFineTuner, memory_per_person
from fitting.eft.core import EftTarget, ExemplarFineTuner
from fitting.geometry.camera import CropBox, weak_perspective_project
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.regressor.hmr import HMR
from fitting.synth.poses import sample_poses


def make_targets(
    count: int, size: int, channels: int, device: torch.device, body: BodyModel
) -> list[EftTarget]:
    rng = np.random.default_rng(0)
    poses = sample_poses(count, rng)
    rot = axis_angle_to_rotmat(torch.as_tensor(poses.axis_angle, dtype=torch.float32))
    rot[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ rot[:, 0]  # upright in the camera frame
    with torch.no_grad():
        joints = body.to("cpu")(torch.zeros(count, 10), rot).joints_spin49
    projected = weak_perspective_project(joints, torch.tensor([[0.9, 0.0, 0.0]]).repeat(count, 1))
    targets = []
    for i in range(count):
        keypoints = torch.zeros(49, 3)
        keypoints[25:, :2] = projected[i, 25:]
        keypoints[25:, 2] = 1.0
        image = torch.randn(channels, size, size, generator=torch.Generator().manual_seed(i))
        targets.append(EftTarget(image.to(device), keypoints.to(device), CropBox(500.0, 500.0, 2.0)))
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbone", default="resnet50", choices=["resnet50", "resnet18", "small", "tiny"])
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    device = resolve_device(args.device)
    torch.manual_seed(0)
    body = BodyModel.open_body()
    targets = make_targets(args.people, args.input_size, 3, device, body)
    body = body.to(device)
    model = HMR(args.backbone).to(device)
    config = EftConfig(max_iterations=args.iterations, threshold_px=0.0)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    single = ExemplarFineTuner(model, body, config)
    single.fit(targets[0])  # warm-up
    sync()
    start = time.perf_counter()
    for target in targets:
        single.fit(target)
    sync()
    one_at_a_time = args.people / (time.perf_counter() - start)

    # Peak memory of the batched run: CUDA's allocator on a GPU, the process's peak RSS on a CPU
    # (measured from the RSS before the batch, so what one more person costs shows).
    rss_before = rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        allocated_before = torch.cuda.memory_allocated(device)
    batched = BatchedFineTuner(model, body, config)
    batched.fit(targets[: args.batch])  # warm-up
    sync()
    start = time.perf_counter()
    for i in range(0, args.people, args.batch):
        batched.fit(targets[i : i + args.batch])
    sync()
    in_batches = args.people / (time.perf_counter() - start)

    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    figures = {
        "device": name,
        "backbone": args.backbone,
        "input_size": args.input_size,
        "iterations": args.iterations,
        "people": args.people,
        "batch": args.batch,
        "one_at_a_time_persons_per_s": round(one_at_a_time, 3),
        "batched_persons_per_s": round(in_batches, 3),
        "ratio": round(in_batches / one_at_a_time, 2),
        "memory_per_person_mb_estimate": round(memory_per_person(model, args.input_size) / 2**20, 1),
    }
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) - allocated_before
        figures["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        figures["measured_mb_per_person"] = round(peak / args.batch / 2**20, 1)
    else:
        growth = process_peak_mb() - rss_before
        figures["peak_rss_growth_mb"] = round(growth, 1)
        figures["measured_mb_per_person"] = round(max(0.0, growth) / args.batch, 1)
    for key, value in figures.items():
        print(f"{key:32s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
