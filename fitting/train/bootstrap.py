"""The bootstrap regressor for the open body: synthetic sets, training, evaluation, export.

``python -m fitting bootstrap`` runs, on a CPU in about an hour:
1. 5,000 synthetic training people (seed 1) and 500 held-out test people (seed 2); a set already
   generated with the same size and seed is reused;
2. HMR training: the small backbone, 128 px crops, RGB plus the three skeleton channels drawn from
   the 2D keypoints (EFT always has them), crop augmentation as in the paper, for a time budget;
3. the truncation-protocol evaluation of the best checkpoint on the test people, against the
   mean pose (table and plot);
4. the export of the weights in half precision (a few MB) as a SPIN-format checkpoint.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitting.regressor.hmr import load_checkpoint, save_checkpoint
from fitting.train.data import Augment, describe, load_synthetic, split
from fitting.train.evaluate import evaluate_levels, results_plot, results_table
from fitting.train.trainer import LossWeights, TrainConfig, train


@dataclass(frozen=True)
class BootstrapConfig:
    work: Path
    export: Path
    people: int = 5000
    test_people: int = 500
    minutes: float = 40.0
    seed: int = 1
    workers: int = 1
    device: str = "auto"


def _ensure_set(folder: Path, people: int, seed: int) -> None:
    from fitting.synth.generate import SynthConfig, generate

    meta = folder / "meta.json"
    if meta.is_file():
        done = json.loads(meta.read_text())
        if done["people"] == people and done["config"]["seed"] == seed:
            print(f"reusing {folder} ({people} people, seed {seed})")
            return
        raise SystemExit(
            f"{folder} holds another set ({done['people']} people, seed {done['config']['seed']})"
        )
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted earlier run
    result = generate(SynthConfig(people=people, seed=seed), folder)
    print(f"generated {result.people} people in {result.seconds / 60:.1f} min")


def export_half(checkpoint: Path, out: Path, extra: dict[str, Any]) -> None:
    """Rewrite a checkpoint with half-precision float weights and no optimiser state."""
    loaded = load_checkpoint(checkpoint)
    meta = {**loaded.meta.get("eft_meta", {}), **extra}
    save_checkpoint(
        out,
        loaded.model,
        epoch=int(loaded.meta.get("epoch", 0)),
        batch_size=int(loaded.meta.get("batch_size", 0)),
        total_step_count=int(loaded.meta.get("total_step_count", 0)),
        extra={"eft_meta": meta},
        half=True,
    )


def run_bootstrap(config: BootstrapConfig) -> dict[str, Any]:
    work = Path(config.work)
    train_dir, test_dir = work / "train", work / "test"
    _ensure_set(train_dir, config.people, config.seed)
    _ensure_set(test_dir, config.test_people, config.seed + 1)
    people = load_synthetic(train_dir)
    train_people, val_people = split(people, 0.05, config.seed)
    print(f"training on {describe(train_people)}, validating on {describe(val_people)}")
    train_config = TrainConfig(
        out=str(work / "run"),
        backbone="small",
        input_size=128,
        aux_keypoints=True,
        epochs=1000,  # the time budget ends the run
        batch_size=32,
        lr=2e-4,
        minutes=config.minutes,
        val_every=1000,
        checkpoint_every=1000,
        workers=config.workers,
        seed=config.seed,
        device=config.device,
        augment=Augment(),
        # Full SMPL and 3D truth here, so those terms weigh more than in SPIN (which often lacks them).
        losses=LossWeights(keypoints_2d=5.0, joints_3d=20.0, pose=10.0, betas=0.01),
    )
    result = train(train_config, train_people, val_people)
    best = work / "run" / "best.pt"
    checkpoint = load_checkpoint(best)
    test_people = load_synthetic(test_dir)
    levels = evaluate_levels(checkpoint, test_people, workers=config.workers)
    title = f"bootstrap regressor on {len(test_people)} held-out synthetic people"
    table = results_table(levels, title)
    (work / "evaluation.md").write_text(table)
    (work / "evaluation.json").write_text(json.dumps([vars(r) for r in levels], indent=2))
    results_plot(levels, work / "evaluation.png", title)
    print(table)
    export_half(
        best,
        config.export,
        {
            "bootstrap": {
                "train": describe(train_people),
                "evaluation": [vars(r) for r in levels],
                "training": {k: v for k, v in result.items() if k != "metrics"},
            }
        },
    )
    print(f"exported {config.export} ({config.export.stat().st_size / 1e6:.1f} MB)")
    return {"training": result, "evaluation": [vars(r) for r in levels]}
