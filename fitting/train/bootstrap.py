"""The bootstrap regressor for the open body: synthetic sets, training, evaluation, export.

``python -m fitting bootstrap`` runs, on a CPU in about an hour and a half:
1. 5,000 synthetic training people (seed 1, the "wide" pose distribution) and the two fixed
   held-out sets (``HELDOUT_SETS``: "everyday", 500 people, seed 2, the set every earlier figure
   was measured on; "hard", 500 people, seed 3); a set already made with the same size, seed and
   distribution is reused;
2. HMR training: the small backbone, 128 px crops, RGB plus the three skeleton channels drawn from
   the 2D keypoints (EFT always has them), crop augmentation as in the paper, in-plane rotation,
   for a time budget; from scratch or warm-started from a checkpoint (``init``);
3. the truncation-protocol evaluation of the best checkpoint on both held-out sets, beside the
   baseline (the regressor it would replace);
4. the gate: the new regressor is exported (half precision, SPIN's checkpoint format) only if its
   full-box PA-MPJPE is lower on the hard set and not higher on the everyday set than the
   baseline's; otherwise it stays in ``work/candidate.pt`` and the report says why.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitting.regressor.facts import checkpoint_facts, write_facts
from fitting.regressor.hmr import load_checkpoint, save_checkpoint
from fitting.synth.poses import Distribution
from fitting.train.data import Augment, describe, load_synthetic, split
from fitting.train.evaluate import LevelResult, evaluate_levels, results_plot, results_table
from fitting.train.trainer import LossWeights, LrSchedule, TrainConfig, train


@dataclass(frozen=True)
class BootstrapConfig:
    work: Path
    export: Path
    people: int = 5000
    minutes: float = 40.0
    seed: int = 1
    workers: int = 1
    device: str = "auto"
    distribution: Distribution = "wide"
    init: Path | None = None  # warm start from these weights (None: from scratch)
    baseline: Path | None = None  # the regressor to beat (None: the shipped one)
    rotate_prob: float = 0.3  # in-plane rotation augmentation
    lr: float = 2e-4
    lr_schedule: LrSchedule = "cosine"
    # Everyday people (the original distribution, its camera) added to a wide or hard training set,
    # so that learning the hard poses does not cost the everyday ones (0: none).
    everyday_people: int = 5000


EVERYDAY_MIX_SEED = 4  # not the training (1) nor a held-out seed (2, 3)


def ensure_set(
    folder: Path, people: int, seed: int, distribution: Distribution, size: int | None = None
) -> None:
    """Make the synthetic set in ``folder`` unless it already holds this size, seed and
    distribution (a set from before distributions existed is "everyday")."""
    from fitting.synth.generate import SynthConfig, generate

    meta = folder / "meta.json"
    if meta.is_file():
        done = json.loads(meta.read_text())
        held = (done["people"], done["config"]["seed"], done["config"].get("distribution", "everyday"))
        if held == (people, seed, distribution):
            print(f"reusing {folder} ({people} people, seed {seed}, {distribution})")
            return
        raise SystemExit(f"{folder} holds another set ({held[0]} people, seed {held[1]}, {held[2]})")
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted earlier run
    config = SynthConfig(people=people, seed=seed, distribution=distribution)
    if size:
        config = dataclasses.replace(config, width=size, height=size)
    result = generate(config, folder)
    print(f"generated {result.people} people in {result.seconds / 60:.1f} min")


def training_sets(config: BootstrapConfig) -> list[tuple[Path, int, int, Distribution]]:
    """The training sets (folder, people, seed, distribution): the chosen distribution's, and for
    a wide or hard one the everyday mix."""
    work = Path(config.work)
    sets: list[tuple[Path, int, int, Distribution]] = [
        (work / "train", config.people, config.seed, config.distribution)
    ]
    if config.distribution != "everyday" and config.everyday_people > 0:
        sets.append((work / "train-everyday", config.everyday_people, EVERYDAY_MIX_SEED, "everyday"))
    return sets


def full_box(levels: list[LevelResult]) -> float:
    """PA-MPJPE (mm) on the full box (level 7)."""
    return next(r.pa_mpjpe for r in levels if r.level == 7)


def gate(before: dict[str, list[LevelResult]], after: dict[str, list[LevelResult]]) -> tuple[bool, str]:
    """Ship only if the hard set improves and the everyday set does not get worse (full box)."""
    hard_b, hard_a = full_box(before["hard"]), full_box(after["hard"])
    every_b, every_a = full_box(before["everyday"]), full_box(after["everyday"])
    figures = (
        f"hard {hard_b:.1f} -> {hard_a:.1f} mm, everyday {every_b:.1f} -> {every_a:.1f} mm "
        "(full-box PA-MPJPE)"
    )
    if not hard_a < hard_b:  # written so that a NaN (a run that diverged) fails too
        return False, f"not shipped: no gain on the hard set; {figures}"
    if not every_a <= every_b:
        return False, f"not shipped: worse on the everyday set; {figures}"
    return True, f"shipped: {figures}"


def comparison_table(before: dict[str, list[LevelResult]], after: dict[str, list[LevelResult]]) -> str:
    lines = [
        "| held-out set | crop level | people | PA-MPJPE before mm | PA-MPJPE after mm | MPJPE before mm "
        "| MPJPE after mm |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in before:
        for b, a in zip(before[name], after[name], strict=True):
            lines.append(
                f"| {name} | {b.level} | {b.people} | {b.pa_mpjpe:.1f} | {a.pa_mpjpe:.1f} | {b.mpjpe:.1f} "
                f"| {a.mpjpe:.1f} |"
            )
    return "\n".join(lines) + "\n"


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
    from fitting.assets import BOOTSTRAP_REGRESSOR_PATH
    from fitting.synth.generate import HELDOUT_SETS

    work = Path(config.work)
    tests = {name: work / ("test" if name == "everyday" else f"test-{name}") for name in HELDOUT_SETS}
    sets = training_sets(config)
    for folder, count, seed, distribution in sets:
        ensure_set(folder, count, seed, distribution)
    for name, folder in tests.items():
        held = HELDOUT_SETS[name]
        ensure_set(folder, held.people, held.seed, held.distribution)
    people = [person for folder, *_ in sets for person in load_synthetic(folder)]
    mix = sets[1][1] if len(sets) > 1 else 0
    # The validation people (which pick the best checkpoint) come from both sets alike.
    train_people, val_people = split(people, 0.05, config.seed)
    print(f"training on {describe(train_people)}, validating on {describe(val_people)}")
    train_config = TrainConfig(
        out=str(work / "run"),
        backbone="small",
        input_size=128,
        aux_keypoints=True,
        epochs=1000,  # the time budget ends the run
        batch_size=32,
        lr=config.lr,
        lr_schedule=config.lr_schedule,
        minutes=config.minutes,
        val_every=1000,
        checkpoint_every=1000,
        workers=config.workers,
        seed=config.seed,
        device=config.device,
        augment=Augment(rotate_prob=config.rotate_prob),
        # Full SMPL and 3D truth here, so those terms weigh more than in SPIN (which often lacks them).
        losses=LossWeights(keypoints_2d=5.0, joints_3d=20.0, pose=10.0, betas=0.01),
    )
    baseline_path = config.baseline or BOOTSTRAP_REGRESSOR_PATH
    baseline = load_checkpoint(baseline_path)  # before training: a bad path fails now, not in an hour
    result = train(train_config, train_people, val_people, init=config.init)
    best = work / "run" / "best.pt"
    checkpoint = load_checkpoint(best)
    before: dict[str, list[LevelResult]] = {}
    after: dict[str, list[LevelResult]] = {}
    report = []
    for name, folder in tests.items():
        test_people = load_synthetic(folder)
        before[name] = evaluate_levels(baseline, test_people, workers=config.workers)
        after[name] = evaluate_levels(checkpoint, test_people, workers=config.workers)
        title = f"new regressor on {len(test_people)} held-out synthetic people ({name})"
        report.append(results_table(after[name], title))
        results_plot(after[name], work / f"evaluation-{name}.png", title)
    ship, why = gate(before, after)
    table = comparison_table(before, after)
    (work / "evaluation.md").write_text(
        f"baseline {baseline_path.name} (sha256 {baseline.sha256[:12]}) -> new\n\n{table}\n{why}\n\n"
        + "\n".join(report)
    )
    evaluation = {name: [vars(r) for r in after[name]] for name in after}
    (work / "evaluation.json").write_text(
        json.dumps(
            {
                "before": {n: [vars(r) for r in v] for n, v in before.items()},
                "after": evaluation,
                "verdict": why,
            },
            indent=2,
        )
    )
    print(table)
    print(why)
    meta = {
        "bootstrap": {
            "train": {
                **describe(train_people),
                "distribution": config.distribution,
                "seed": config.seed,
                "everyday_mix": {"people": mix, "seed": EVERYDAY_MIX_SEED} if mix else None,
            },
            "init": str(config.init) if config.init else None,
            "lr": config.lr,
            "lr_schedule": config.lr_schedule,
            "rotate_prob": config.rotate_prob,
            "evaluation": evaluation,
            "training": {k: v for k, v in result.items() if k not in ("metrics", "history")},
        }
    }
    target = config.export if ship else work / "candidate.pt"
    export_half(best, target, meta)
    # Its facts beside it: the web app registers a shipped regressor without importing torch.
    facts_path = target.with_suffix(".facts.json")
    write_facts(checkpoint_facts(target), facts_path)
    print(f"exported {target} ({target.stat().st_size / 1e6:.1f} MB) and {facts_path.name}")
    return {"training": result, "evaluation": evaluation, "shipped": ship, "verdict": why}
