"""Evaluating a regressor on a set with 3D truth, per truncation level (the paper's protocol).

For each crop level (1, 2, 4 and the full box, 7) the table gives MPJPE and PA-MPJPE (mm; 14 LSP
joints, pelvis-centred) and the 2D error of the visible GT-24 keypoints in original-image
pixels, with the regressor's mean pose as the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from fitting.body.model import BodyModel
from fitting.regressor.hmr import LoadedCheckpoint
from fitting.regressor.inputs import checkpoint_input
from fitting.train.data import Augment, Person, PersonDataset, box_for_level
from fitting.train.trainer import evaluate_model

PROTOCOL_LEVELS = (1, 2, 4, 7)
LEVEL_NAMES = {0: "face", 1: "head+shoulders", 2: "+elbows", 3: "+wrists", 4: "upper body", 5: "+knees",
               6: "+ankles", 7: "full box"}  # fmt: skip


@dataclass(frozen=True)
class LevelResult:
    level: int
    people: int
    mpjpe: float
    pa_mpjpe: float
    mean_pose_pa_mpjpe: float
    px_2d: float  # original-image pixels


def evaluate_levels(
    checkpoint: LoadedCheckpoint,
    people: list[Person],
    levels: tuple[int, ...] = PROTOCOL_LEVELS,
    device: torch.device | None = None,
    batch_size: int = 64,
    workers: int = 2,
) -> list[LevelResult]:
    device = device or torch.device("cpu")
    input_size, aux = checkpoint_input(checkpoint.meta)
    body = BodyModel.open_body().to(device)
    model = checkpoint.model.to(device)
    results = []
    for level in levels:
        data = PersonDataset(people, input_size, aux, Augment.none(), level=level)
        loader = DataLoader(data, batch_size=batch_size, num_workers=workers)
        metrics = evaluate_model(model, body, loader, device)
        # crop pixels to image pixels: times the box side over the input size, averaged
        sides = torch.tensor([box_for_level(p, level).side for p in people])
        px_image = metrics["px_2d"] * float(sides.mean()) / input_size
        results.append(LevelResult(level, len(people), metrics["mpjpe"], metrics["pa_mpjpe"],
                                   metrics["mean_pose_pa_mpjpe"], px_image))  # fmt: skip
    return results


def results_table(results: list[LevelResult], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| crop level | people | MPJPE mm | PA-MPJPE mm | mean pose PA-MPJPE mm | 2D error px |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.level} ({LEVEL_NAMES[r.level]}) | {r.people} | {r.mpjpe:.1f} | {r.pa_mpjpe:.1f} | "
            f"{r.mean_pose_pa_mpjpe:.1f} | {r.px_2d:.1f} |"
        )
    return "\n".join(lines) + "\n"


def results_plot(results: list[LevelResult], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.level}\n{LEVEL_NAMES[r.level]}" for r in results]
    x = range(len(results))
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.38
    ax.bar([i - width / 2 for i in x], [r.pa_mpjpe for r in results], width, label="regressor")
    ax.bar([i + width / 2 for i in x], [r.mean_pose_pa_mpjpe for r in results], width, label="mean pose")
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("PA-MPJPE (mm, 14 LSP joints)")
    ax.set_xlabel("crop level (truncation protocol)")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
