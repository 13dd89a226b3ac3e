"""bench/train.py: timed training steps (forward, loss, backward, Adam) on a made-up batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from bench.run import cases
from bench.train import made_up_batch

ROOT = Path(__file__).resolve().parents[2]


def test_the_made_up_batch_has_the_shapes_the_loss_reads() -> None:
    batch = made_up_batch(3, 64, torch.device("cpu"))
    assert batch["image"].shape == (3, 3, 64, 64)
    assert batch["keypoints_2d"].shape == (3, 49, 3)
    assert batch["pose_rotmat"].shape == (3, 24, 3, 3)
    rotations = batch["pose_rotmat"]
    assert torch.allclose(rotations @ rotations.transpose(-1, -2), torch.eye(3), atol=1e-5)
    assert set(batch["keypoints_2d"][..., 2].unique().tolist()) <= {0.0, 1.0}


def test_a_tiny_run_prints_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "train.json"
    subprocess.run(
        [sys.executable, "bench/train.py", "--backbone", "tiny", "--input-size", "64", "--batch", "2",
         "--steps", "2", "--warmup", "1", "--json", str(out)],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    figures = json.loads(out.read_text())
    assert figures["device"] == "cpu"
    assert figures["batch"] == 2
    assert 0 < figures["ms_per_step_fastest"] <= figures["ms_per_step"] <= figures["ms_per_step_slowest"]
    assert abs(figures["images_per_s"] - 2 / (figures["ms_per_step"] / 1000)) < 0.1 * figures["images_per_s"]
    assert figures["peak_mb"] > 50


def test_the_runner_times_training_on_the_cpu_and_on_a_gpu_when_there_is_one() -> None:
    cpu = [c for c in cases(quick=False, gpu=False) if c.suite.startswith("train")]
    assert {c.suite for c in cpu} == {"train"}
    gpu = [c for c in cases(quick=False, gpu=True) if c.suite == "train-gpu"]
    assert gpu
    assert all("resnet50" in c.argv for c in gpu)
