"""The paper's claim tested on data with known truth: EFT pseudo ground truth trains a better
regressor (its Tables 2-3), here as domain adaptation.

A regressor trained on one synthetic pose distribution (the shipped one: everyday poses) is
adapted to a second one (``target``, the hard poses) through that set's **2D labels only**:

1. EFT (the paper's settings) fits every person of the target training set, starting from the
   current regressor; the fits the sanity rule keeps are the pseudo ground truth;
2. the current regressor is fine-tuned on them (SPIN's losses, the paper's crop augmentation;
   the 3D joints are the fits' own, from the body model), for a step budget;
3. the new regressor is evaluated on the held-out people of the target distribution, and of the
   everyday one (what it may forget), with their real 3D truth; and the pseudo ground truth itself
   is scored against the target people's truth (how good the labels it learnt from were).

A second round fits the target people again with the adapted regressor and trains on those
fits, as the paper's loop would. ``python -m fitting adapt`` writes ``adapt.md`` (the table),
``adapt.json`` and ``adapt.png``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fitting.config import EftConfig
from fitting.synth.poses import Distribution


@dataclass(frozen=True)
class AdaptConfig:
    work: Path
    start: Path | None = None  # the regressor to adapt (None: the shipped one)
    target: Distribution = "hard"
    people: int = 1000  # target training people (their 2D labels only are used)
    seed: int = 6  # not a held-out seed (2, 3), nor the bootstrap's (1, 4)
    rounds: int = 2
    steps: int = 1500  # fine-tuning steps per round
    lr: float = 5e-5  # SPIN's and EFT's fine-tuning rate
    batch_size: int = 32
    eft: EftConfig = field(default_factory=EftConfig)
    eft_batch: int = 16
    device: str = "auto"
    workers: int = 1
    heldout_people: int | None = None  # None: the fixed held-out sets (500 each); fewer for a quick look
    image_size: int = 384  # of the target people's pictures (the held-out sets' own)


@dataclass(frozen=True)
class RoundResult:
    round: int  # 0: the starting regressor
    checkpoint: str
    pseudo_gt_people: int  # fits kept as training people (0 for round 0)
    pseudo_gt_rejected: int
    pseudo_gt_pa_mpjpe: float  # the kept fits against the target people's truth (mm); nan for round 0
    heldout_pa_mpjpe: dict[str, float]  # full-box PA-MPJPE per held-out set (mm)
    steps: int
    minutes: float


def _sets(config: AdaptConfig) -> tuple[Path, dict[str, Path]]:
    from fitting.synth.generate import HELDOUT_SETS
    from fitting.train.bootstrap import ensure_set

    work = Path(config.work)
    target = work / f"target-{config.target}"
    ensure_set(target, config.people, config.seed, config.target, size=config.image_size)
    heldouts: dict[str, Path] = {}
    for name in sorted({config.target, "everyday"} & set(HELDOUT_SETS)):
        held = HELDOUT_SETS[name]
        count = config.heldout_people or held.people
        heldouts[name] = work / f"heldout-{name}-{count}"
        ensure_set(heldouts[name], count, held.seed, held.distribution, size=config.image_size)
    return target, heldouts


def pseudo_ground_truth(
    checkpoint: Path,
    target: Path,
    config: AdaptConfig,
    progress: Callable[[], None] | None = None,
) -> tuple[list[Any], int, float]:
    """EFT fits of the target set's people (2D labels only) from ``checkpoint``: the training
    people made from the fits the sanity rule keeps, how many it rejected, and the kept fits'
    PA-MPJPE (mm) against the people's truth."""
    import torch

    from fitting.body.model import BodyModel
    from fitting.datasets.coco import iter_coco
    from fitting.device import resolve_device
    from fitting.export import eft_entry
    from fitting.fit import Regressor
    from fitting.joints import GT24_OFFSET
    from fitting.metrics import pa_mpjpe_lsp14
    from fitting.pipeline import FitSettings, fit_people
    from fitting.train.data import person_from_eft_entry, with_body_joints

    device = resolve_device(config.device)
    regressor = Regressor.load(checkpoint, device)
    body = BodyModel.open_body().to(device)
    people = sorted(iter_coco(target / "annotations.json"), key=lambda p: p.image_name)
    settings = FitSettings(method="eft", eft=config.eft, eft_batch=config.eft_batch, skip_bad_images=True)
    run = fit_people(people, target / "images", regressor, body, settings, keys=range(len(people)),
                     on_person=progress)  # fmt: skip
    kept = [fit for fit in run.fits if fit.verdict.ok]
    groups: dict[str, int] = {}
    training = []
    for fit in kept:
        person = people[int(str(fit.key))]
        entry = eft_entry(fit, person)
        training.append(
            person_from_eft_entry(
                entry,
                target / "images" / person.image_name,
                groups.setdefault(person.image_name, len(groups)),
            )
        )
    training = with_body_joints(training, body.cpu())
    # How good the labels are: the kept fits' joints against the people's true joints.
    truth = np.load(target / "truth.npz")
    row_of = {int(a): i for i, a in enumerate(truth["annotation_id"])}
    rows = [row_of[int(people[int(str(fit.key))].annotation_id)] for fit in kept]
    if rows:
        true_joints = torch.as_tensor(truth["joints_spin49"][rows][:, GT24_OFFSET:], dtype=torch.float32)
        fitted = torch.as_tensor(np.stack([p.joints_gt24 for p in training]), dtype=torch.float32)  # type: ignore[misc]
        error = float(pa_mpjpe_lsp14(fitted, true_joints).mean())
    else:
        error = float("nan")
    return training, len(run.fits) - len(kept), error


def _full_box(checkpoint: Path, people: list[Any], workers: int) -> float:
    from fitting.regressor.hmr import load_checkpoint
    from fitting.train.evaluate import evaluate_levels

    return float(
        evaluate_levels(load_checkpoint(checkpoint), people, levels=(7,), workers=workers)[0].pa_mpjpe
    )


def run_adaptation(config: AdaptConfig, log: Callable[[str], None] = print) -> list[RoundResult]:
    from tqdm import tqdm

    from fitting.assets import BOOTSTRAP_REGRESSOR_PATH
    from fitting.regressor.hmr import load_checkpoint
    from fitting.regressor.inputs import checkpoint_input
    from fitting.train.data import Augment, load_synthetic, split
    from fitting.train.trainer import TrainConfig, train

    work = Path(config.work)
    target, heldouts = _sets(config)
    held_people = {name: load_synthetic(folder) for name, folder in heldouts.items()}
    current = Path(config.start or BOOTSTRAP_REGRESSOR_PATH)
    started = time.perf_counter()
    results = [
        RoundResult(0, str(current), 0, 0, float("nan"),
                    {n: _full_box(current, p, config.workers) for n, p in held_people.items()}, 0, 0.0)
    ]  # fmt: skip
    log(f"round 0 ({current.name}): {results[0].heldout_pa_mpjpe}")
    for round_ in range(1, config.rounds + 1):
        with tqdm(total=config.people, unit="person", desc=f"round {round_}: EFT") as bar:

            def tick() -> None:
                bar.update(1)

            training, rejected, label_error = pseudo_ground_truth(current, target, config, tick)
        log(
            f"round {round_}: {len(training)} fits kept, {rejected} rejected; "
            f"their PA-MPJPE {label_error:.1f} mm"
        )
        train_people, val_people = split(training, 0.05, config.seed + round_)
        meta = load_checkpoint(current).meta
        input_size, aux = checkpoint_input(meta)
        eft_meta = meta.get("eft_meta", {})
        run = work / f"round-{round_}"
        result = train(
            TrainConfig(
                out=str(run), backbone=eft_meta.get("backbone", "resnet50"), input_size=input_size,
                aux_keypoints=aux, epochs=1_000_000, batch_size=config.batch_size, lr=config.lr,
                max_steps=config.steps, val_every=max(1, config.steps // 5),
                checkpoint_every=max(1, config.steps // 5), workers=config.workers, seed=config.seed + round_,
                device=config.device, augment=Augment(),
            ),
            train_people, val_people, init=current, log=log,
        )  # fmt: skip
        current = run / "best.pt"
        results.append(
            RoundResult(
                round_,
                str(current),
                len(training),
                rejected,
                label_error,
                {n: _full_box(current, p, config.workers) for n, p in held_people.items()},
                int(result["steps"]),
                (time.perf_counter() - started) / 60,
            )
        )
        log(f"round {round_}: held-out full-box PA-MPJPE {results[-1].heldout_pa_mpjpe}")
    write_report(results, config, work)
    return results


def report_table(results: list[RoundResult]) -> str:
    names = sorted(results[0].heldout_pa_mpjpe)
    head = " | ".join(f"{n} held-out PA-MPJPE mm" for n in names)
    lines = [
        "| round | regressor | pseudo-GT people kept | rejected by the sanity rule | pseudo-GT PA-MPJPE mm "
        f"| {head} |",
        "|---|---|---|---|---|" + "---|" * len(names),
    ]
    for r in results:
        label = "-" if r.round == 0 else f"{r.pseudo_gt_pa_mpjpe:.1f}"
        figures = " | ".join(f"{r.heldout_pa_mpjpe[n]:.1f}" for n in names)
        kept = "-" if r.round == 0 else str(r.pseudo_gt_people)
        rejected = "-" if r.round == 0 else str(r.pseudo_gt_rejected)
        name = "start" if r.round == 0 else f"after round {r.round}"
        lines.append(f"| {r.round} | {name} | {kept} | {rejected} | {label} | {figures} |")
    return "\n".join(lines) + "\n"


def write_report(results: list[RoundResult], config: AdaptConfig, work: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = report_table(results)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(config).items()}
    (work / "adapt.md").write_text(
        f"Adapting {Path(results[0].checkpoint).name} to the {config.target} poses through EFT fits of "
        f"{config.people} people (2D labels only), {config.rounds} round(s) of {config.steps} steps."
        f"\n\n{table}"
    )
    (work / "adapt.json").write_text(
        json.dumps(
            {"config": settings, "rounds": [dataclasses.asdict(r) for r in results]}, indent=1, default=str
        )
    )
    names = sorted(results[0].heldout_pa_mpjpe)
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        values = [r.heldout_pa_mpjpe[name] for r in results]
        ax.bar([str(r.round) for r in results], values, color=["#888"] + ["#2b6cb0"] * (len(results) - 1))
        for x, value in enumerate(values):
            ax.text(x, value, f"{value:.1f}", ha="center", va="bottom")
        ax.set_title(f"{name} held-out, full box")
        ax.set_xlabel("round (0: the start)")
        ax.set_ylabel("PA-MPJPE mm")
    figure.tight_layout()
    figure.savefig(work / "adapt.png", dpi=90)
    plt.close(figure)
