"""The fitting engine's command line: `python -m fitting <command> ...`.

Working output (synthetic sets, training runs, reports) goes under $EFT_WORK_DIR, else ./data
(resolved against the working directory when the command runs); files shipped with the package
(the bootstrap regressor, the pose prior) are in the package's data folder, wherever it is
installed. Defaults are the configuration dataclasses' own.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fitting.config import EFT_PRESETS, SANITY_RULES, THRESHOLD_UNITS, default_of
from fitting.datasets.filters import DEFAULT_FILTER, FILTERS


def _param_default(function: Callable[..., Any], name: str) -> Any:
    """The default of parameter ``name`` of ``function``."""
    default = inspect.signature(function).parameters[name].default
    if default is inspect.Parameter.empty:
        raise KeyError(f"{function.__name__} has no default for {name!r}")
    return default


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

    from fitting.synth.generate import HELDOUT_SETS, SynthConfig, generate
    from fitting.synth.preview import annotated_grid, pose_grid

    if args.heldout:
        config = HELDOUT_SETS[args.heldout]
        print(
            f"the {args.heldout} held-out set: {config.people} people, seed {config.seed}, "
            f"distribution {config.distribution}"
        )
    else:
        config = SynthConfig(
            people=args.people,
            seed=args.seed,
            width=args.size,
            height=args.size,
            max_people_per_image=args.max_per_image,
            truncation_rate=args.truncation,
            backgrounds=str(args.backgrounds) if args.backgrounds else None,
            distribution=args.distribution,
        )
    result = generate(config, args.out)
    print(
        f"wrote {result.people} people in {result.images} images to {args.out} in {result.seconds:.1f} s "
        f"({result.people / max(result.seconds, 1e-9):.1f} people/s; {result.dropped} dropped: under "
        f"{config.min_visible_keypoints} keypoints in the frame)"
    )
    if args.grid:
        Image.fromarray(annotated_grid(args.out, count=16)).save(args.out / "grid.png")
        poses = pose_grid(count=24, seed=config.seed, distribution=config.distribution)
        Image.fromarray(poses).save(args.out / "poses.png")
        print(f"pictures: {args.out / 'grid.png'} (images with keypoints), {args.out / 'poses.png'} (poses)")
    return 0


def _load_people(args: argparse.Namespace) -> list[Any]:
    from fitting.train.data import load_eft_json, load_synthetic

    people = []
    for folder in args.synthetic or []:
        people += load_synthetic(folder)
    if args.eft_json:
        if not args.images:
            raise SystemExit("--eft-json needs --images (the folder its imageName entries are relative to)")
        people += load_eft_json(args.eft_json, args.images)
    if not people:
        raise SystemExit("no training data: give --synthetic DIR and/or --eft-json FILE --images DIR")
    return people


def _train_config(args: argparse.Namespace) -> Any:
    from fitting.train.data import Augment
    from fitting.train.trainer import LossWeights, TrainConfig

    return TrainConfig(
        out=str(args.out),
        backbone=args.backbone,
        input_size=args.input_size,
        aux_keypoints=args.aux_keypoints,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        minutes=args.minutes,
        val_every=args.val_every,
        checkpoint_every=args.val_every,
        workers=args.workers,
        seed=args.seed,
        device=args.device,
        augment=Augment(
            crop_levels_prob=args.crop_aug,
            flip_prob=0.0 if args.no_flip else default_of(Augment, "flip_prob"),
            scale_range=args.scale_aug,
            colour=args.colour_aug,
        ),
        losses=LossWeights(
            keypoints_2d=args.loss_2d, joints_3d=args.loss_3d, pose=args.loss_pose, betas=args.loss_betas
        ),
        max_steps=args.max_steps,
        mean_params=str(args.mean_params) if args.mean_params else None,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from fitting.train.data import describe, split
    from fitting.train.trainer import train

    people = _load_people(args)
    train_people, val_people = split(people, args.val_fraction, args.seed)
    print(f"training on {describe(train_people)}, validating on {describe(val_people)}")
    result = train(_train_config(args), train_people, val_people, resume=args.resume, init=args.init)
    print(json.dumps(result, indent=2))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from fitting.device import resolve_device
    from fitting.regressor.hmr import load_checkpoint
    from fitting.train.evaluate import evaluate_levels, results_plot, results_table

    people = _load_people(args)
    checkpoint = load_checkpoint(args.checkpoint)
    results = evaluate_levels(checkpoint, people, device=resolve_device(args.device), workers=args.workers)
    title = f"{args.checkpoint.name} on {len(people)} people"
    table = results_table(results, title)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "evaluation.md").write_text(table)
        (args.out / "evaluation.json").write_text(json.dumps([vars(r) for r in results], indent=2))
        results_plot(results, args.out / "evaluation.png", title)
        print(f"wrote {args.out / 'evaluation.md'}, evaluation.json and evaluation.png")
    return 0


def _cmd_bootstrap(args: argparse.Namespace) -> int:
    from fitting.train.bootstrap import BootstrapConfig, run_bootstrap

    run_bootstrap(
        BootstrapConfig(
            work=args.work,
            export=args.export,
            people=args.people,
            minutes=args.minutes,
            workers=args.workers,
            device=args.device,
            distribution=args.distribution,
            init=args.init,
            baseline=args.baseline,
            rotate_prob=args.rotate,
            lr=args.lr,
            lr_schedule=args.lr_schedule,
            everyday_people=args.everyday_people,
        )
    )
    return 0


def _cmd_adapt(args: argparse.Namespace) -> int:
    from fitting.config import EftConfig
    from fitting.train.adapt import AdaptConfig, report_table, run_adaptation

    results = run_adaptation(
        AdaptConfig(
            work=args.work, start=args.start, target=args.target, people=args.people, rounds=args.rounds,
            steps=args.steps, lr=args.lr, batch_size=args.batch_size,
            eft=EftConfig(max_iterations=args.iterations), device=args.device, workers=args.workers,
            heldout_people=args.heldout_people,
        )
    )  # fmt: skip
    print(report_table(results))
    print(f"wrote {args.work / 'adapt.md'}, adapt.json and adapt.png")
    return 0


def _cmd_regressor_facts(args: argparse.Namespace) -> int:
    from fitting.regressor.facts import checkpoint_facts, write_facts

    facts = checkpoint_facts(args.checkpoint)
    out = args.out or args.checkpoint.with_suffix(".facts.json")
    write_facts(facts, out)
    print(
        f"{args.checkpoint}: {facts.backbone} backbone, {facts.input_size} px, {facts.in_channels} channels, "
        f"for the {facts.body_description}; wrote {out}"
    )
    return 0


def _cmd_pose_prior(args: argparse.Namespace) -> int:
    from fitting.smplify.prior import build_shipped_prior

    prior = build_shipped_prior(args.out, samples=args.samples, components=args.components, seed=args.seed)
    weights = prior.weights.round(3).tolist()
    print(f"wrote {args.out}: {prior.label}, {len(weights)} components, weights {weights}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import datetime
    import shlex

    import torch
    from tqdm import tqdm

    from fitting.body.model import BodyModel
    from fitting.compare import check_claims, default_methods, load_cases, run_comparison, write_report
    from fitting.device import resolve_device
    from fitting.fit import Regressor
    from fitting.smplify.prior import PosePrior
    from fitting.synth.generate import HELDOUT_SETS, generate

    device = resolve_device(args.device)
    folders: dict[str, Path] = {}
    if args.synthetic is not None:
        folders[""] = args.synthetic
    else:
        wanted_sets = [name.strip() for name in args.sets.split(",") if name.strip()]
        unknown_sets = sorted(set(wanted_sets) - set(HELDOUT_SETS))
        if unknown_sets or not wanted_sets:
            raise SystemExit(f"--sets: unknown {unknown_sets}; choose from {sorted(HELDOUT_SETS)}")
        for name in wanted_sets:
            held = HELDOUT_SETS[name]
            folder = args.work / f"heldout-{name}-{args.people}"
            if not folder.exists():
                # The first people of the fixed held-out set (a seed draws the same people first),
                # with a fifth more to make up for those with too few labels.
                print(f"making the {name} held-out set: {args.people} people, seed {held.seed} -> {folder}")
                generate(dataclasses.replace(held, people=args.people + args.people // 5), folder)
            folders[name] = folder
    regressor = Regressor.load(args.checkpoint, device)
    body = BodyModel.open_body().to(device)
    shipped = PosePrior.shipped()
    user = PosePrior.load(args.gmm) if args.gmm else None
    methods = default_methods(gamma=args.gamma, with_user_prior=user is not None)
    if args.methods:
        wanted = [k.strip() for k in args.methods.split(",") if k.strip()]
        known = {m.key for m in methods}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise SystemExit(f"--methods: unknown {unknown}; choose from {sorted(known)}")
        methods = [m for m in methods if m.key in wanted]
    bars: list[Any] = []

    def progress(name: str, total: int) -> Any:
        if bars:
            bars.pop().close()  # the previous method is done
        bar = tqdm(total=total, desc=f"{name:32s}", unit="person", leave=True)
        bars.append(bar)
        return lambda: bar.update(1)

    rows = []
    people = 0
    for set_name, folder in folders.items():
        cases = load_cases(folder, regressor, args.people)
        cases = dataclasses.replace(cases, truth_gt24=cases.truth_gt24.to(device))
        people += len(cases.targets)
        print(f"comparing {len(methods)} methods on {len(cases.targets)} people of {folder} on {device}")
        rows += run_comparison(
            regressor, body, cases, methods, shipped, user, eft_batch=args.eft_batch, progress=progress,
            set_name=set_name,
        )  # fmt: skip
        for bar in bars:
            bar.close()
        bars.clear()
    claims = check_claims(rows)
    meta = {
        "people": people,
        "set": ", ".join(str(f) for f in folders.values()),
        "sets": {name: str(folder) for name, folder in folders.items()},
        "checkpoint": regressor.checkpoint.path.name,
        "checkpoint_sha256": regressor.checkpoint.sha256,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "command": "python -m fitting " + shlex.join(sys.argv[1:] if args.argv is None else args.argv),
        "date": datetime.date.today().isoformat(),
    }
    write_report(args.out, rows, claims, meta)
    print((args.out / "comparison.md").read_text())
    print(f"wrote {args.out / 'comparison.md'}, comparison.json and comparison.png")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fitting.body.model import BodyModel
    from fitting.config import SmplifyConfig
    from fitting.datasets.coco import iter_coco
    from fitting.datasets.common import DatasetError, ReadStats
    from fitting.datasets.filters import get_filter
    from fitting.device import resolve_device
    from fitting.export import eft_entry, write_eft_json
    from fitting.fit import Regressor
    from fitting.pipeline import FitSettings, ImageError, fit_people
    from fitting.smplify.prior import PosePrior

    device = resolve_device(args.device)
    keep = get_filter(args.filter)
    stats = ReadStats()
    try:
        read = list(iter_coco(args.coco, stats))
    except DatasetError as exc:
        raise SystemExit(str(exc)) from exc
    kept = [p for p in read if keep.keep(p)]
    people = sorted(kept[: args.limit] if args.limit else kept, key=lambda p: p.image_name)
    skipped = ", ".join(f"{n} {reason}" for reason, n in stats.skipped.items()) or "none"
    print(
        f"{args.coco.name}: {stats.annotations} annotations, {len(read)} people ({skipped} skipped); "
        f"filter {keep.name} ({keep.description}) keeps {len(kept)}; fitting {len(people)} with "
        f"{args.method} on {device}"
    )
    regressor = Regressor.load(args.checkpoint, device)
    body = BodyModel.load(args.body_model, args.j_regressor_extra).to(device)
    settings = FitSettings(
        method=args.method,
        eft=dataclasses.replace(
            EFT_PRESETS[args.preset],
            **{
                name: value
                for name, value in (
                    ("max_iterations", args.iterations),
                    ("threshold_px", args.threshold_px),
                    ("threshold_units", args.threshold_units),
                    ("gamma", args.gamma),
                    ("shape_weight", args.shape_weight),
                    ("sanity", args.sanity),
                    ("upright_search", args.upright),
                )
                if value is not None
            },
        ),
        smplify=SmplifyConfig(),
        eft_batch=args.batch,
        skip_bad_images=args.skip_bad_images,
    )
    prior = PosePrior.load(args.gmm) if args.method == "smplify" else None
    with tqdm(total=len(people), unit="person", desc=args.method) as bar:

        def tick() -> None:
            bar.update(1)

        try:
            run = fit_people(
                people, args.images, regressor, body, settings, prior, args.pictures, on_person=tick,
                keys=range(len(people)),
            )  # fmt: skip
        except ImageError as exc:
            raise SystemExit(
                f"{exc}; nothing written (--skip-bad-images records such images and goes on)"
            ) from exc
    entries = [eft_entry(fit, people[int(str(fit.key))]) for fit in run.fits]
    write_eft_json(args.out, entries, dbname=args.dbname or args.coco.stem, rawname=args.coco.name)
    accepted = sum(1 for fit in run.fits if fit.verdict.ok)
    errors = [fit.mean_error_px for fit in run.fits]
    print(
        f"wrote {args.out}: {len(run.fits)} fits, {accepted} pass the {settings.eft.sanity} sanity rule, "
        f"mean 2D error {sum(errors) / max(len(errors), 1):.2f} px"
    )
    if run.pictures:
        print(f"pictures: {len(run.pictures)} in {args.pictures}")
    for failure in run.failures:
        annotations = [people[int(str(k))].annotation_id for k in failure.keys]
        print(f"skipped {failure.image_name} (annotations {annotations}): {failure.error}")
    return 1 if run.failures else 0


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    from fitting.train.trainer import TrainConfig

    parser.add_argument("--synthetic", type=Path, action="append", help="a synthetic set folder (repeatable)")
    parser.add_argument("--eft-json", type=Path, default=None, help="an EFT JSON export with SMPL parameters")
    parser.add_argument("--images", type=Path, default=None, help="image folder of the EFT JSON export")
    parser.add_argument("--device", default=default_of(TrainConfig, "device"))
    parser.add_argument(
        "--workers", type=int, default=default_of(TrainConfig, "workers"), help="data loading processes"
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser; paths under the working folder are resolved now ($EFT_WORK_DIR, else ./data)."""
    from fitting.assets import BOOTSTRAP_REGRESSOR_PATH, POSE_PRIOR_PATH, WORK_DIR_ENV, work_dir
    from fitting.compare import default_methods, run_comparison
    from fitting.config import EftConfig
    from fitting.pipeline import FitSettings
    from fitting.smplify.prior import build_shipped_prior
    from fitting.synth.generate import HELDOUT_SETS, SynthConfig
    from fitting.synth.poses import DISTRIBUTIONS
    from fitting.train.bootstrap import BootstrapConfig
    from fitting.train.data import Augment
    from fitting.train.trainer import LossWeights, TrainConfig

    work = work_dir()

    def in_work(name: str) -> str:
        return f"default: ${WORK_DIR_ENV}/{name}, or ./data/{name} when it is unset; now %(default)s"

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
    synth.add_argument("--people", type=int, default=default_of(SynthConfig, "people"))
    synth.add_argument("--seed", type=int, default=default_of(SynthConfig, "seed"))
    synth.add_argument(
        "--size", type=int, default=default_of(SynthConfig, "width"), help="image width and height in pixels"
    )
    synth.add_argument("--max-per-image", type=int, default=default_of(SynthConfig, "max_people_per_image"))
    synth.add_argument(
        "--truncation",
        type=float,
        default=default_of(SynthConfig, "truncation_rate"),
        help="share of people partly out of frame",
    )
    synth.add_argument("--backgrounds", type=Path, default=None, help="folder of photographs for backgrounds")
    synth.add_argument(
        "--distribution",
        choices=DISTRIBUTIONS,
        default=default_of(SynthConfig, "distribution"),
        help="pose and camera distribution: everyday (the original, default), wide (everyday + hard, "
        "what the bootstrap trains on), hard (inverted, horizontal, seated, squats, splits... only)",
    )
    synth.add_argument(
        "--heldout",
        choices=sorted(HELDOUT_SETS),
        default=None,
        help="make one of the fixed held-out test sets (its size, seed and distribution; "
        "--people/--seed/--distribution are ignored)",
    )
    synth.add_argument("--grid", action="store_true", help="also write grid.png and poses.png")
    synth.set_defaults(func=_cmd_synth)

    train = sub.add_parser("train", help="train HMR on sets with SMPL parameters (synthetic, EFT JSON)")
    _add_data_args(train)
    train.add_argument("--out", type=Path, required=True, help="folder for latest.pt and best.pt")
    train.add_argument(
        "--backbone",
        choices=["resnet50", "resnet18", "small", "tiny"],
        default=default_of(TrainConfig, "backbone"),
    )
    train.add_argument("--input-size", type=int, default=default_of(TrainConfig, "input_size"))
    train.add_argument("--aux-keypoints", action="store_true", help="3 extra input channels: the 2D skeleton")
    train.add_argument("--epochs", type=int, default=default_of(TrainConfig, "epochs"))
    train.add_argument("--batch-size", type=int, default=default_of(TrainConfig, "batch_size"))
    train.add_argument("--lr", type=float, default=default_of(TrainConfig, "lr"))
    train.add_argument(
        "--minutes",
        type=float,
        default=default_of(TrainConfig, "minutes"),
        help="stop after this much training time",
    )
    train.add_argument(
        "--max-steps",
        type=int,
        default=default_of(TrainConfig, "max_steps"),
        help="stop after this many optimiser steps",
    )
    train.add_argument(
        "--val-every",
        type=int,
        default=default_of(TrainConfig, "val_every"),
        help="steps between validations/checkpoints",
    )
    train.add_argument("--val-fraction", type=float, default=0.05)
    train.add_argument(
        "--crop-aug",
        type=float,
        default=default_of(Augment, "crop_levels_prob"),
        help="probability of a truncated box (paper: 0.3)",
    )
    train.add_argument("--scale-aug", type=float, default=default_of(Augment, "scale_range"))
    train.add_argument("--colour-aug", type=float, default=default_of(Augment, "colour"))
    train.add_argument("--no-flip", action="store_true")
    train.add_argument(
        "--loss-2d",
        type=float,
        default=default_of(LossWeights, "keypoints_2d"),
        help="weight of the 2D keypoint term (SPIN: 5)",
    )
    train.add_argument(
        "--loss-3d",
        type=float,
        default=default_of(LossWeights, "joints_3d"),
        help="weight of the 3D joint term (SPIN: 5)",
    )
    train.add_argument(
        "--loss-pose",
        type=float,
        default=default_of(LossWeights, "pose"),
        help="weight of the SMPL pose term (SPIN: 1)",
    )
    train.add_argument(
        "--loss-betas",
        type=float,
        default=default_of(LossWeights, "betas"),
        help="weight of the betas term (SPIN: 0.001)",
    )
    train.add_argument("--seed", type=int, default=default_of(TrainConfig, "seed"))
    train.add_argument(
        "--resume", type=Path, default=None, help="continue from a checkpoint (model + optimizer)"
    )
    train.add_argument("--init", type=Path, default=None, help="start from a checkpoint's weights")
    train.add_argument(
        "--mean-params", type=Path, default=None, help="SPIN's smpl_mean_params.npz (default: data mean)"
    )
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser("evaluate", help="MPJPE / PA-MPJPE / 2D error per crop level, table and plot")
    _add_data_args(evaluate)
    evaluate.add_argument("--checkpoint", type=Path, required=True)
    evaluate.add_argument("--out", type=Path, default=None, help="folder for evaluation.md/.json/.png")
    evaluate.set_defaults(func=_cmd_evaluate)

    boot = sub.add_parser("bootstrap", help="make the open body's regressor: synth, train, evaluate, export")
    boot.add_argument(
        "--work",
        type=Path,
        default=work / "bootstrap",
        help=f"sets, runs and the report ({in_work('bootstrap')})",
    )
    boot.add_argument(
        "--export",
        type=Path,
        default=BOOTSTRAP_REGRESSOR_PATH,
        help="the exported regressor (default: the package's shipped one, %(default)s)",
    )
    boot.add_argument("--people", type=int, default=default_of(BootstrapConfig, "people"))
    boot.add_argument(
        "--distribution",
        choices=DISTRIBUTIONS,
        default=default_of(BootstrapConfig, "distribution"),
        help="pose distribution of the training people",
    )
    boot.add_argument(
        "--init", type=Path, default=None, help="warm start from this checkpoint (default: from scratch)"
    )
    boot.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="the regressor the new one must beat to be exported (default: the shipped one)",
    )
    boot.add_argument(
        "--rotate",
        type=float,
        default=default_of(BootstrapConfig, "rotate_prob"),
        help="share of training crops turned in-plane by any angle",
    )
    boot.add_argument("--lr", type=float, default=default_of(BootstrapConfig, "lr"))
    boot.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        default=default_of(BootstrapConfig, "lr_schedule"),
        help="cosine: the rate falls to 5%% of --lr over the time budget",
    )
    boot.add_argument(
        "--everyday-people",
        type=int,
        default=default_of(BootstrapConfig, "everyday_people"),
        help="everyday people (seed 4, in WORK/train-everyday) mixed into a wide or hard training set "
        "so it keeps what it knows of everyday poses (0: none)",
    )
    boot.add_argument(
        "--minutes", type=float, default=default_of(BootstrapConfig, "minutes"), help="training time budget"
    )
    boot.add_argument("--workers", type=int, default=default_of(BootstrapConfig, "workers"))
    boot.add_argument("--device", default=default_of(BootstrapConfig, "device"))
    boot.set_defaults(func=_cmd_bootstrap)

    from fitting.train.adapt import AdaptConfig

    adapt = sub.add_parser(
        "adapt",
        help="the paper's loop on known truth: adapt a regressor to another pose distribution through EFT "
        "fits of its 2D labels, in rounds; before/after table and plot",
    )
    adapt.add_argument(
        "--work", type=Path, default=work / "adapt", help=f"sets and rounds ({in_work('adapt')})"
    )
    adapt.add_argument(
        "--start", type=Path, default=None, help="the regressor to adapt (default: the shipped one)"
    )
    adapt.add_argument("--target", choices=DISTRIBUTIONS, default=default_of(AdaptConfig, "target"))
    adapt.add_argument(
        "--people", type=int, default=default_of(AdaptConfig, "people"), help="target people fitted"
    )
    adapt.add_argument("--rounds", type=int, default=default_of(AdaptConfig, "rounds"))
    adapt.add_argument("--steps", type=int, default=default_of(AdaptConfig, "steps"), help="per round")
    adapt.add_argument("--lr", type=float, default=default_of(AdaptConfig, "lr"))
    adapt.add_argument("--batch-size", type=int, default=default_of(AdaptConfig, "batch_size"))
    adapt.add_argument(
        "--iterations", type=int, default=default_of(EftConfig, "max_iterations"), help="EFT's"
    )
    adapt.add_argument(
        "--heldout-people", type=int, default=None, help="fewer held-out people (a quick look)"
    )
    adapt.add_argument("--device", default=default_of(AdaptConfig, "device"))
    adapt.add_argument("--workers", type=int, default=default_of(AdaptConfig, "workers"))
    adapt.set_defaults(func=_cmd_adapt)

    facts = sub.add_parser(
        "regressor-facts",
        help="load a checkpoint strictly and write what it is (backbone, input, body model) beside it",
    )
    facts.add_argument("checkpoint", type=Path)
    facts.add_argument("--out", type=Path, default=None, help="default: CHECKPOINT with .facts.json")
    facts.set_defaults(func=_cmd_regressor_facts)

    fit = sub.add_parser("fit", help="fit every annotated person of a COCO keypoints file; write EFT JSON")
    fit.add_argument("--coco", type=Path, required=True, help="COCO person keypoints JSON")
    fit.add_argument("--images", type=Path, required=True, help="folder of the file_name entries")
    fit.add_argument("--out", type=Path, required=True, help="EFT JSON file to write")
    fit.add_argument(
        "--method", choices=["eft", "regressor", "smplify"], default=default_of(FitSettings, "method")
    )
    fit.add_argument(
        "--checkpoint", type=Path, default=None, help="HMR checkpoint (default: the shipped one)"
    )
    fit.add_argument("--body-model", type=Path, default=None, help="licensed SMPL .pkl (default: open body)")
    fit.add_argument("--j-regressor-extra", type=Path, default=None)
    fit.add_argument(
        "--preset",
        choices=sorted(EFT_PRESETS),
        default="paper",
        help="EFT settings to start from: paper (50 updates) or hard (the paper's 100 for hard data, "
        "e.g. OCHuman); the options below change single settings",
    )
    fit.add_argument(
        "--iterations",
        type=int,
        default=None,
        help=f"EFT iteration limit (paper: {default_of(EftConfig, 'max_iterations')}; 100 for OCHuman)",
    )
    fit.add_argument(
        "--threshold-px",
        type=float,
        default=None,
        help=f"EFT stops under this mean 2D error (default {default_of(EftConfig, 'threshold_px')})",
    )
    fit.add_argument(
        "--threshold-units",
        choices=THRESHOLD_UNITS,
        default=None,
        help="pixels of the 224 crop (crop224) or of the image "
        f"(default {default_of(EftConfig, 'threshold_units')})",
    )
    fit.add_argument("--gamma", type=float, default=None, help="EFT weight anchor (paper: 0)")
    fit.add_argument("--shape-weight", type=float, default=None, help="EFT lambda (paper: 0.001)")
    fit.add_argument(
        "--sanity", choices=SANITY_RULES, default=None, help=f"default {default_of(EftConfig, 'sanity')}"
    )
    fit.add_argument(
        "--upright",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the upright search: start from the crop turned 0/90/180/270 degrees the regressor reads best",
    )
    fit.add_argument("--gmm", type=Path, default=None, help="SMPLify pose prior (default: the shipped one)")
    fit.add_argument(
        "--batch",
        type=int,
        default=default_of(FitSettings, "eft_batch"),
        help="people per batched EFT run (GPU; 1 on a CPU)",
    )
    fit.add_argument(
        "--filter",
        choices=sorted(FILTERS),
        default=DEFAULT_FILTER,
        help=f"which people to fit (default {DEFAULT_FILTER}: {FILTERS[DEFAULT_FILTER].description})",
    )
    fit.add_argument("--limit", type=int, default=None, help="fit only the first N people")
    fit.add_argument("--pictures", type=Path, default=None, help="folder for a picture of every fit")
    fit.add_argument("--dbname", default=None, help="meta.dbname of the export (default: the file's stem)")
    fit.add_argument("--skip-bad-images", action="store_true", help="record unreadable images and go on")
    fit.add_argument("--device", default="auto")
    fit.set_defaults(func=_cmd_fit)

    prior = sub.add_parser(
        "pose-prior", help="fit the shipped SMPLify pose prior (GMM) to the pose distribution"
    )
    prior.add_argument(
        "--out",
        type=Path,
        default=POSE_PRIOR_PATH,
        help="the prior to write (default: the package's shipped one, %(default)s)",
    )
    prior.add_argument("--samples", type=int, default=_param_default(build_shipped_prior, "samples"))
    prior.add_argument("--components", type=int, default=_param_default(build_shipped_prior, "components"))
    prior.add_argument("--seed", type=int, default=_param_default(build_shipped_prior, "seed"))
    prior.set_defaults(func=_cmd_pose_prior)

    compare = sub.add_parser(
        "compare", help="regressor / EFT / SMPLify on held-out people with 3D truth: table, plot, claims"
    )
    compare.add_argument(
        "--out",
        type=Path,
        default=work / "compare",
        help=f"folder for comparison.md/.json/.png ({in_work('compare')})",
    )
    compare.add_argument(
        "--synthetic",
        type=Path,
        default=None,
        help="a synthetic set with truth (default: make one in --work)",
    )
    compare.add_argument(
        "--work",
        type=Path,
        default=work / "compare",
        help=f"where the held-out set is made, and reused ({in_work('compare')})",
    )
    compare.add_argument("--people", type=int, default=50, help="people per set (default 50)")
    compare.add_argument(
        "--sets",
        default=",".join(HELDOUT_SETS),
        help="the held-out sets to compare on when --synthetic is absent (default: %(default)s)",
    )
    compare.add_argument(
        "--checkpoint", type=Path, default=None, help="HMR checkpoint (default: the shipped one)"
    )
    compare.add_argument("--gmm", type=Path, default=None, help="SMPLify's gmm_08.pkl, for an extra row")
    compare.add_argument(
        "--gamma",
        type=float,
        default=_param_default(default_methods, "gamma"),
        help="gamma of the EFT row with gamma > 0",
    )
    compare.add_argument(
        "--eft-batch",
        type=int,
        default=_param_default(run_comparison, "eft_batch"),
        help="people per batched EFT run (1: one at a time)",
    )
    compare.add_argument(
        "--methods",
        default=None,
        help="comma-separated subset: "
        + ", ".join(m.key for m in default_methods(with_user_prior=True))
        + " (default: all)",
    )
    compare.add_argument("--device", default="auto")
    compare.set_defaults(func=_cmd_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(argv) if argv is not None else None
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
