"""Benchmark: one training step of the regressor (HMR), as ``fitting.train`` takes it.

    .venv/bin/python bench/train.py                                  # small backbone, 128 px, CPU
    .venv/bin/python bench/train.py --backbone resnet50 --input-size 224 --batch 64 --device cuda

A step is what the training loop does for one batch: the network's forward, the loss
(``fitting.train.trainer.hmr_loss``: 2D keypoints through the body's joints, 3D joints, SMPL
parameters, camera), the backward pass and Adam's update. The batch is made up (seeded noise
images and targets of the right shapes): the data loader's cost is not part of it. The first
``--warmup`` steps are timed apart (they allocate, and on a GPU pick kernels). Prints ms a step
(median, with the fastest and slowest), images/s and the peak memory (CUDA's allocator on a
GPU, the process's peak RSS on a CPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.publish import process_peak_mb
from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.regressor.hmr import HMR
from fitting.train.trainer import LossWeights, hmr_loss


def made_up_batch(batch: int, size: int, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    """A batch of the shapes ``PersonDataset`` yields: images, 49 keypoints with confidence, the
    24 GT joints in 3D, SMPL parameters, and which of them the person has."""
    generator = torch.Generator().manual_seed(seed)
    keypoints = torch.rand(batch, 49, 3, generator=generator) * 2 - 1
    keypoints[..., 2] = (keypoints[..., 2] > -0.6).float()
    out = {
        "image": torch.randn(batch, 3, size, size, generator=generator),
        "keypoints_2d": keypoints,
        "joints_3d": torch.randn(batch, 24, 3, generator=generator) * 0.3,
        "has_3d": torch.ones(batch),
        "pose_rotmat": axis_angle_to_rotmat(torch.randn(batch, 24, 3, generator=generator) * 0.3).float(),
        "betas": torch.randn(batch, 10, generator=generator),
        "has_smpl": torch.ones(batch),
    }
    return {k: v.to(device) for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbone", default="small", choices=["resnet50", "resnet18", "small", "tiny"])
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    body = BodyModel.open_body().to(device)
    model = HMR(backbone=args.backbone).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-5)
    batch = made_up_batch(args.batch, args.input_size, device)
    weights = LossWeights()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> float:
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = hmr_loss(body, model(batch["image"]), batch, weights)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    warm = [step() for _ in range(args.warmup)]
    timed = [step() for _ in range(args.steps)]
    median = statistics.median(timed)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else process_peak_mb()
    figures = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "backbone": args.backbone,
        "input_size": args.input_size,
        "batch": args.batch,
        "steps": args.steps,
        "ms_per_step": round(1000 * median, 1),
        "ms_per_step_fastest": round(1000 * min(timed), 1),
        "ms_per_step_slowest": round(1000 * max(timed), 1),
        "first_steps_ms": [round(1000 * s, 1) for s in warm],
        "images_per_s": round(args.batch / median, 1),
        "peak_mb": round(peak, 1),
        "peak_memory_of": "CUDA allocator" if device.type == "cuda" else "process peak RSS",
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
