"""The comparison of fitting methods on people with 3D truth (``python -m fitting compare``).

Every method fits the same people from the same 2D labels (the COCO-17 annotations of a held-out
synthetic set, as a dataset would give them) and the same regressor:

- the regressor alone, with and without the upright search;
- EFT (20 / 50 / 100 iterations; gamma 0 and > 0; lambda 0.001 and 0; the stop threshold in
  image or 224-crop pixels; with the upright search);
- SMPLify (SPIN's settings; with and without the multi-stage trick and the priors; started from
  the regressor and from its mean pose).

By default on both fixed held-out sets (``HELDOUT_SETS``: everyday and hard poses). Reported per
set and method: mean 2D error of the labelled keypoints (original pixels), the share of people
under 3 px, the share that stopped under the threshold in its own units, PA-MPJPE (mm, 14 LSP
joints) against the 3D truth, mean iterations, persons per second; and for each sanity rule, the
share of fits it rejects and its precision and recall against "PA-MPJPE above 100 mm". The
paper's claims are then checked on these figures, set by set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from fitting.body.model import BodyModel
from fitting.config import EftConfig, SanityRule, SmplifyConfig
from fitting.eft.core import EftTarget, eft_loss, stop_error
from fitting.fit import FitOutcome, Regressor, eft, regress, smplify
from fitting.geometry.camera import CropBox, weak_perspective_project
from fitting.joints import GT24_OFFSET
from fitting.metrics import pa_mpjpe_lsp14
from fitting.sanity import sanity_verdict
from fitting.smplify.prior import PosePrior
from fitting.train.data import Person, load_synthetic

MIN_LABELLED = 6  # the paper's "COCO-All": persons with at least 6 labelled keypoints
BAD_FIT_MM = 100.0  # a fit whose PA-MPJPE is above this is one a sanity rule should reject
JUDGED_RULES: tuple[SanityRule, ...] = ("paper", "plausible")


@dataclass(frozen=True)
class Method:
    key: str  # short name for --methods
    name: str
    kind: str  # "regressor", "eft" or "smplify"
    eft: EftConfig | None = None
    smplify: SmplifyConfig | None = None
    init: str = "regressor"  # SMPLify's starting point
    prior: str = ""  # SMPLify's prior: "" none, "shipped" or "user"


def default_methods(gamma: float = 100.0, with_user_prior: bool = False) -> list[Method]:
    base = replace(EftConfig(), upright_search=False)  # the paper's EFT: no upright search
    upright = replace(base, upright_search=True)
    methods = [
        Method("regressor", "regressor only", "regressor", eft=base),
        Method("regressor-upright", "regressor, upright search", "regressor", eft=upright),
        Method("eft20", "EFT 20 it", "eft", eft=replace(base, max_iterations=20)),
        Method("eft50", "EFT 50 it (paper)", "eft", eft=base),
        Method("eft100", "EFT 100 it (hard preset)", "eft", eft=replace(base, max_iterations=100)),
        Method("eft50-upright", "EFT 50 it, upright search", "eft", eft=upright),
        Method(
            "eft100-upright", "EFT 100 it, upright search", "eft", eft=replace(upright, max_iterations=100)
        ),
        Method(
            "eft50-image",
            "EFT 50 it, 3 px of the image",
            "eft",
            eft=replace(base, threshold_units="image"),
        ),
        Method("eft-gamma", f"EFT 50 it, gamma {gamma:g}", "eft", eft=replace(base, gamma=gamma)),
        Method("eft-lambda0", "EFT 50 it, lambda 0", "eft", eft=replace(base, shape_weight=0.0)),
        Method("smplify", "SMPLify M+D+P", "smplify", smplify=SmplifyConfig(), prior="shipped"),
        Method(
            "smplify-dp", "SMPLify D+P", "smplify", smplify=SmplifyConfig(multistage=False), prior="shipped"
        ),
        Method(
            "smplify-d",
            "SMPLify D (no priors)",
            "smplify",
            smplify=SmplifyConfig(multistage=False, priors=False),
        ),
        Method(
            "smplify-mean",
            "SMPLify M+D+P from mean pose",
            "smplify",
            smplify=SmplifyConfig(),
            init="mean",
            prior="shipped",
        ),
    ]
    if with_user_prior:
        methods.append(
            Method(
                "smplify-user", "SMPLify M+D+P, user's GMM", "smplify", smplify=SmplifyConfig(), prior="user"
            )
        )
    return methods


@dataclass(frozen=True)
class Row:
    key: str
    method: str
    people: int
    mean_px: float
    under_3px: float  # share of people
    pa_mpjpe: float  # mm
    iterations: float
    persons_per_s: float
    prior: str = ""
    set_name: str = ""
    passed_threshold: float = float("nan")  # share stopped under the threshold, in its own units
    bad: float = float("nan")  # share of people with PA-MPJPE above BAD_FIT_MM
    # per sanity rule (JUDGED_RULES): share rejected, precision and recall against "bad"
    rejected: dict[str, float] = field(default_factory=dict)
    precision: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Cases:
    people: list[Person]
    targets: list[EftTarget]
    truth_gt24: Tensor  # (N, 24, 3)


def load_cases(folder: Path, regressor: Regressor, limit: int | None = None) -> Cases:
    """People of a synthetic set with at least MIN_LABELLED labels, as the regressor's inputs."""
    from PIL import Image

    people = [p for p in load_synthetic(folder) if int((p.labels_gt24[:, 2] > 0).sum()) >= MIN_LABELLED]
    people = people[:limit] if limit else people
    if not people:
        raise ValueError(f"{folder}: no person with {MIN_LABELLED} or more labelled keypoints")
    targets = []
    cache: dict[Path, NDArray[np.uint8]] = {}
    for person in people:
        if person.image_path not in cache:
            cache = {person.image_path: np.asarray(Image.open(person.image_path).convert("RGB"))}
        targets.append(
            regressor.target(cache[person.image_path], person.labels_gt24, CropBox.from_bbox(*person.bbox))
        )
    truth = torch.tensor(
        np.stack([p.joints_gt24 for p in people if p.joints_gt24 is not None]), dtype=torch.float32
    )
    if truth.shape[0] != len(people):
        raise ValueError(f"{folder}: every person needs 3D truth for the comparison")
    return Cases(people, targets, truth)


def summarise(
    key: str,
    name: str,
    outcomes: Sequence[FitOutcome],
    body: BodyModel,
    truth: Tensor,
    seconds: float,
    prior: str = "",
    cases: Cases | None = None,
    config: EftConfig | None = None,
    set_name: str = "",
) -> Row:
    """A method's figures; with ``cases``, also the stop threshold's pass rate (in ``config``'s
    units) and each sanity rule's precision and recall against PA-MPJPE above BAD_FIT_MM."""
    errors = np.array([o.mean_error_px for o in outcomes])
    cfg = config or EftConfig()
    with torch.no_grad():
        betas = torch.stack([o.betas for o in outcomes]).to(truth.device)
        pose = torch.stack([o.pose_rotmat for o in outcomes]).to(truth.device)
        posed = body.to(truth.device)(betas, pose)
        per_person = pa_mpjpe_lsp14(posed.joints_spin49[:, GT24_OFFSET:], truth).cpu().numpy()
    row = Row(
        key=key,
        method=name,
        people=len(outcomes),
        mean_px=float(errors.mean()),
        under_3px=float((errors < 3.0).mean()),
        pa_mpjpe=float(per_person.mean()),
        iterations=float(np.mean([o.iterations for o in outcomes])),
        persons_per_s=len(outcomes) / max(seconds, 1e-9),
        prior=prior,
        set_name=set_name,
    )
    if cases is None:
        return row
    boxes = [t.box for t in cases.targets]
    passed = [
        stop_error(e, b, cfg.threshold_units) < cfg.threshold_px for e, b in zip(errors, boxes, strict=True)
    ]
    bad = per_person > BAD_FIT_MM
    with torch.no_grad():
        cams = torch.stack([o.cam_weak for o in outcomes]).to(truth.device)
        projected = weak_perspective_project(posed.joints_spin49, cams)
        keypoints = torch.stack([t.keypoints_2d for t in cases.targets]).to(truth.device)
        _, loss_2d = eft_loss(projected, betas, cams, keypoints, cfg)
    rejected: dict[str, float] = {}
    precision: dict[str, float] = {}
    recall: dict[str, float] = {}
    for rule in JUDGED_RULES:
        no = np.array([
            not sanity_verdict(
                o.betas, float(loss_2d[i]), rule, pose_rotmat=o.pose_rotmat,
                joints_smpl24=posed.joints_smpl24[i], mean_error_px=float(o.mean_error_px),
                person_size_px=boxes[i].side,
            ).ok
            for i, o in enumerate(outcomes)
        ])  # fmt: skip
        caught = int((no & bad).sum())
        rejected[rule] = float(no.mean())
        precision[rule] = caught / int(no.sum()) if no.any() else float("nan")
        recall[rule] = caught / int(bad.sum()) if bad.any() else float("nan")
    return replace(
        row,
        passed_threshold=float(np.mean(passed)),
        bad=float(bad.mean()),
        rejected=rejected,
        precision=precision,
        recall=recall,
    )


def run_comparison(
    regressor: Regressor,
    body: BodyModel,
    cases: Cases,
    methods: Sequence[Method],
    shipped_prior: PosePrior | None = None,
    user_prior: PosePrior | None = None,
    eft_batch: int = 1,
    progress: Callable[[str, int], Callable[[], None]] | None = None,
    set_name: str = "",
) -> list[Row]:
    """Run every method on every person; ``progress(method, people)`` returns a per-person tick."""
    rows = []
    truth = cases.truth_gt24
    for method in methods:
        tick = progress(method.name, len(cases.targets)) if progress else None
        started = time.perf_counter()
        outcomes: Sequence[FitOutcome]
        prior_label = ""
        if method.kind == "regressor":
            outcomes = regress(regressor, body, cases.targets, method.eft)
            if tick:
                for _ in cases.targets:
                    tick()
        elif method.kind == "eft":
            outcomes = eft(regressor, body, cases.targets, method.eft, batch_size=eft_batch, on_person=tick)
        elif method.kind == "smplify":
            prior = {"shipped": shipped_prior, "user": user_prior}.get(method.prior)
            if method.prior and prior is None:
                raise ValueError(f"{method.name}: no {method.prior} pose prior given")
            results = smplify(
                regressor, body, cases.targets, prior, method.smplify, init=method.init, on_person=tick
            )
            prior_label = results[0].prior if results else ""
            outcomes = results
        else:
            raise ValueError(f"unknown method kind {method.kind!r}")
        seconds = time.perf_counter() - started
        rows.append(
            summarise(
                method.key,
                method.name,
                outcomes,
                body,
                truth,
                seconds,
                prior_label,
                cases,
                method.eft,
                set_name,
            )
        )
    return rows


@dataclass(frozen=True)
class Claim:
    text: str
    holds: bool
    evidence: str


def check_claims(rows: Sequence[Row], threshold_px: float = 3.0) -> list[Claim]:
    """The paper's claims (sections 3 and 6.5) and the product's options, judged set by set on the
    rows by name; with several sets each claim names its set."""
    sets = list(dict.fromkeys(r.set_name for r in rows))
    claims: list[Claim] = []
    for name in sets:
        judged = _claims_of_set([r for r in rows if r.set_name == name], threshold_px)
        if len(sets) > 1:
            judged = [replace(c, text=f"{name} set: {c.text}") for c in judged]
        claims += judged
    return claims


def _claims_of_set(rows: Sequence[Row], threshold_px: float) -> list[Claim]:
    by = {r.key: r for r in rows}
    reg = by.get("regressor")
    eft50 = by.get("eft50")
    claims: list[Claim] = []
    if reg is None or eft50 is None:
        return claims  # the claims compare EFT with the regressor: both rows are needed
    claims.append(
        Claim(
            "EFT lowers the 2D error to near the threshold",
            eft50.mean_px < reg.mean_px and eft50.mean_px < 2 * threshold_px,
            f"regressor {reg.mean_px:.2f} px -> EFT {eft50.mean_px:.2f} px of the image, "
            f"{eft50.under_3px:.0%} of people under {threshold_px:g} image px; "
            f"{_share(eft50.passed_threshold)} stopped under the threshold in its own units",
        )
    )
    efts = [r for r in rows if r.key.startswith("eft") and "upright" not in r.key]
    worst = max(efts, key=lambda r: r.pa_mpjpe)
    claims.append(
        Claim(
            "EFT does not raise PA-MPJPE over the regressor (every EFT setting)",
            worst.pa_mpjpe <= reg.pa_mpjpe,
            f"regressor {reg.pa_mpjpe:.1f} mm; EFT settings {min(r.pa_mpjpe for r in efts):.1f}-"
            f"{worst.pa_mpjpe:.1f} mm (worst: {worst.method})",
        )
    )
    if "smplify" in by and "smplify-mean" in by:
        good, bad = by["smplify"], by["smplify-mean"]
        claims.append(
            Claim(
                "SMPLify depends on its initialisation",
                bad.pa_mpjpe > good.pa_mpjpe * 1.1,
                f"from the regressor {good.pa_mpjpe:.1f} mm, from the mean pose {bad.pa_mpjpe:.1f} mm",
            )
        )
    smplifies = [r for r in rows if r.key.startswith("smplify") and r.key != "smplify-mean"]
    if smplifies:
        best = min(smplifies, key=lambda r: r.pa_mpjpe)
        claims.append(
            Claim(
                "EFT (paper settings) is at least as accurate in 3D as SMPLify from the same start "
                "(the paper's Table 5 and A/B study)",
                eft50.pa_mpjpe <= best.pa_mpjpe,
                f"EFT {eft50.pa_mpjpe:.1f} mm; best SMPLify ({best.method}) {best.pa_mpjpe:.1f} mm",
            )
        )
    upright = by.get("eft50-upright")
    if upright is not None:
        claims.append(
            Claim(
                "(this product) the upright search lowers EFT's PA-MPJPE by more than 1 mm",
                upright.pa_mpjpe < eft50.pa_mpjpe - 1.0,
                f"EFT 50 it {eft50.pa_mpjpe:.1f} mm, with the upright search {upright.pa_mpjpe:.1f} mm",
            )
        )
    if eft50.recall and not np.isnan(eft50.recall.get("plausible", np.nan)):
        paper_r, plaus_r = eft50.recall["paper"], eft50.recall["plausible"]
        claims.append(
            Claim(
                f"(this product) the plausible sanity rule catches more EFT fits with PA-MPJPE above "
                f"{BAD_FIT_MM:g} mm than the paper's rule",
                plaus_r > paper_r,
                f"recall {paper_r:.0%} (paper) -> {plaus_r:.0%} (plausible), precision "
                f"{_share(eft50.precision['paper'])} -> {_share(eft50.precision['plausible'])}",
            )
        )
    return claims


def _share(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.0%}"


def to_markdown(rows: Sequence[Row], claims: Sequence[Claim], meta: dict[str, Any]) -> str:
    sets = list(dict.fromkeys(r.set_name for r in rows))
    where = meta.get("sets") or {"": meta["set"]}
    lines = [
        "# Fitting methods compared",
        "",
        f"Held-out synthetic people ({'; '.join(f'{k} {v}' if k else v for k, v in where.items())}), "
        f"regressor `{meta['checkpoint']}` (sha256 {meta['checkpoint_sha256'][:12]}), "
        f"device {meta['device']}, "
        f"{meta['threads']} CPU threads. Generated by `{meta['command']}` on {meta['date']}.",
        "",
    ]
    for name in sets:
        mine = [r for r in rows if r.set_name == name]
        if name:
            lines += [f"## {name} set ({mine[0].people} people)", ""]
        lines += [
            "| method | people | mean 2D error px | under 3 px | stopped under threshold | PA-MPJPE mm "
            "| iterations | persons/s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in mine:
            lines.append(
                f"| {r.method} | {r.people} | {r.mean_px:.2f} | {r.under_3px:.0%} | "
                f"{_share(r.passed_threshold)} | {r.pa_mpjpe:.1f} | {r.iterations:.1f} | "
                f"{r.persons_per_s:.2f} |"
            )
        judged = [r for r in mine if r.rejected]
        if judged:
            lines += [
                "",
                f'Sanity rules against "PA-MPJPE above {BAD_FIT_MM:g} mm" (rejected share; precision: '
                "of the rejected, the share that is bad; recall: of the bad, the share rejected):",
                "",
                "| method | bad fits | "
                + " | ".join(f"{rule}: rejected / precision / recall" for rule in JUDGED_RULES)
                + " |",
                "|---|---|" + "---|" * len(JUDGED_RULES),
            ]
            for r in judged:
                cells = " | ".join(
                    f"{r.rejected[rule]:.0%} / {_share(r.precision[rule])} / {_share(r.recall[rule])}"
                    for rule in JUDGED_RULES
                )
                lines.append(f"| {r.method} | {_share(r.bad)} | {cells} |")
        lines.append("")
    priors = sorted({r.prior for r in rows if r.prior})
    lines += [
        "",
        "2D error: mean over each person's labelled keypoints, in original-image pixels, against the "
        "labels the methods fit; PA-MPJPE: 14 LSP joints after Procrustes alignment, against the 3D "
        'truth. "Stopped under threshold": the share whose final error is under 3 px in the '
        "method's own units (pixels of a 224-pixel crop of the person's box, the default; image "
        "pixels for the `3 px of the image` row). EFT iterations are updates made; SMPLify's are its "
        "two stages of 100 (SPIN's settings).",
        "",
        "SMPLify pose priors used: " + ("; ".join(priors) if priors else "none") + ". The product's "
        "own prior is fitted to the same pose distribution the synthetic people are drawn from, "
        "which favours SMPLify here; real photographs are harder on it.",
        "",
        "## The paper's claims on these figures",
        "",
    ]
    for c in claims:
        lines.append(f"- **{'holds' if c.holds else 'does not hold'}**: {c.text}. {c.evidence}.")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[Row], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(dict.fromkeys(r.set_name for r in rows))
    per_set = max(sum(r.set_name == s for r in rows) for s in sets)
    fig, axes = plt.subplots(
        len(sets), 2, figsize=(12, 1.2 + 0.42 * per_set * len(sets)), squeeze=False, sharey="row"
    )
    for (left, right), name in zip(axes, sets, strict=True):
        mine = [r for r in rows if r.set_name == name]
        names = [r.method for r in mine]
        y = np.arange(len(mine))
        colours = [{"r": "#777777", "e": "#1f77b4"}.get(r.key[0], "#d62728") for r in mine]
        left.barh(y, [r.mean_px for r in mine], color=colours)
        left.axvline(3.0, color="black", linestyle="--", linewidth=1, label="3 px threshold")
        left.set_xlabel("mean 2D error (px, original image)")
        left.set_yticks(y, names)
        left.invert_yaxis()
        left.legend(loc="lower right")
        right.barh(y, [r.pa_mpjpe for r in mine], color=colours)
        right.axvline(mine[0].pa_mpjpe, color="#777777", linestyle=":", linewidth=1)
        right.set_xlabel("PA-MPJPE (mm, 14 LSP joints)")
        if name:
            left.set_title(f"{name} set", loc="left")
        for axis in (left, right):
            axis.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out: Path, rows: Sequence[Row], claims: Sequence[Claim], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.md").write_text(to_markdown(rows, claims, meta))
    (out / "comparison.json").write_text(
        json.dumps(
            {"meta": meta, "rows": [asdict(r) for r in rows], "claims": [asdict(c) for c in claims]}, indent=2
        )
    )
    plot(rows, out / "comparison.png", f"held-out synthetic people, regressor {meta['checkpoint']}")
