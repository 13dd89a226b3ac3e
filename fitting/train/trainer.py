"""Training HMR with direct supervision: SMPL parameters, 3D joints and 2D reprojection (SPIN's losses).

``loss = 60 * (w2d * L2d + w3d * L3d + wpose * Lpose + wbeta * Lbeta + mean(exp(-10 s)^2))``:
- ``L2d``: confidence-weighted squared error of the SPIN-49 joints, projected with the predicted
  weak-perspective camera, in crop-normalised coordinates;
- ``L3d``: GT-24 joints, both sides pelvis-centred (mid-hip);
- ``Lpose``, ``Lbeta``: squared error of rotation matrices and betas where SMPL truth exists.
Checkpoints are SPIN's format (model, optimizer, epoch, batch_idx, batch_size, dataset_perm,
total_step_count) plus ``eft_meta`` (backbone, input size, input channels, body model, metrics).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from fitting.body.model import BodyModel
from fitting.geometry.camera import weak_perspective_project
from fitting.joints import GT24_LSP14, GT24_NAMES, GT24_OFFSET
from fitting.metrics import mpjpe, pa_mpjpe, pelvis_centered
from fitting.regressor.hmr import HMR, BackboneName, MeanParams, load_checkpoint, save_checkpoint
from fitting.regressor.inputs import AUX_CHANNELS, AUX_SKELETON
from fitting.train.data import Augment, Person, PersonDataset

_RHIP, _LHIP = GT24_NAMES.index("Right Hip"), GT24_NAMES.index("Left Hip")

LrSchedule = Literal["constant", "cosine"]
LR_FLOOR = 0.05  # the cosine schedule ends at this share of the base rate


@dataclass(frozen=True)
class LossWeights:
    keypoints_2d: float = 5.0
    joints_3d: float = 5.0
    pose: float = 1.0
    betas: float = 0.001
    overall: float = 60.0


@dataclass(frozen=True)
class TrainConfig:
    out: str
    backbone: BackboneName = "resnet50"
    input_size: int = 224
    aux_keypoints: bool = False  # three extra input channels with the labelled 2D skeleton
    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.0
    # "cosine": the rate falls from ``lr`` to ``LR_FLOOR * lr`` over the budget (minutes or
    # max_steps, whichever is nearer its end); "constant" (SPIN's) keeps it.
    lr_schedule: LrSchedule = "constant"
    clip_grad: float = 5.0  # max gradient norm; keeps a bad batch from throwing the camera scale negative
    minutes: float | None = None  # stop (and save) after this much training time
    max_steps: int | None = None  # or after this many optimiser steps
    mean_params: str | None = None  # SPIN's smpl_mean_params.npz; default: the training set's mean
    val_every: int = 500  # steps
    checkpoint_every: int = 500  # steps
    progress_every: int = 20  # steps between calls of ``on_progress``
    workers: int = 2
    seed: int = 0
    device: str = "auto"
    augment: Augment = field(default_factory=Augment)
    losses: LossWeights = field(default_factory=LossWeights)


def joints_loss_terms(
    body: BodyModel, pose_rotmat: Tensor, betas: Tensor, cam: Tensor
) -> tuple[Tensor, Tensor]:
    """Predicted SPIN-49 joints ``(B, 49, 3)`` and their crop-normalised projection ``(B, 49, 2)``."""
    joints = body.joints_spin49(betas, pose_rotmat)  # the joints alone: no mesh
    return joints, weak_perspective_project(joints, cam)


def hmr_loss(
    body: BodyModel, pred: Any, batch: dict[str, Tensor], weights: LossWeights
) -> tuple[Tensor, dict[str, float]]:
    joints, projected = joints_loss_terms(body, pred.pose_rotmat, pred.betas, pred.cam_weak)
    kp = batch["keypoints_2d"]
    conf = kp[..., 2:3]
    loss_2d = (conf * (projected - kp[..., :2]) ** 2).mean()
    has_3d = batch["has_3d"][:, None, None]
    pred_3d = pelvis_centered(joints[:, GT24_OFFSET:])
    gt_3d = pelvis_centered(batch["joints_3d"])
    loss_3d = (has_3d * (pred_3d - gt_3d) ** 2).mean()
    has_smpl = batch["has_smpl"]
    loss_pose = (has_smpl[:, None, None, None] * (pred.pose_rotmat - batch["pose_rotmat"]) ** 2).mean()
    loss_betas = (has_smpl[:, None] * (pred.betas - batch["betas"]) ** 2).mean()
    loss_cam = (torch.exp(-10.0 * pred.cam_weak[:, 0]) ** 2).mean()
    total = weights.overall * (
        weights.keypoints_2d * loss_2d
        + weights.joints_3d * loss_3d
        + weights.pose * loss_pose
        + weights.betas * loss_betas
        + loss_cam
    )
    parts = {
        "2d": loss_2d.item(),
        "3d": loss_3d.item(),
        "pose": loss_pose.item(),
        "betas": loss_betas.item(),
        "cam": loss_cam.item(),
    }
    return total, parts


@torch.no_grad()
def evaluate_model(
    model: HMR, body: BodyModel, loader: DataLoader[dict[str, Tensor]], device: torch.device
) -> dict[str, float]:
    """MPJPE / PA-MPJPE (mm, 14 LSP joints, pelvis-centred) and 2D error (crop px) of a regressor,
    with the mean pose (the regressor's starting point) as the baseline."""
    model.eval()
    errors: dict[str, list[Tensor]] = {"mpjpe": [], "pa_mpjpe": [], "mean_pose_pa_mpjpe": [], "px_2d": []}
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        pred = model(batch["image"])
        joints, projected = joints_loss_terms(body, pred.pose_rotmat, pred.betas, pred.cam_weak)
        mask = batch["has_3d"] > 0
        gt = pelvis_centered(batch["joints_3d"])[:, list(GT24_LSP14)]
        est = pelvis_centered(joints[:, GT24_OFFSET:])[:, list(GT24_LSP14)]
        if mask.any():
            errors["mpjpe"].append(mpjpe(est[mask], gt[mask]))
            errors["pa_mpjpe"].append(pa_mpjpe(est[mask], gt[mask]))
            batch_size = int(mask.sum())
            mean_rot = model.regress_mean(batch_size)
            mean_joints = body.joints_spin49(mean_rot.betas, mean_rot.pose_rotmat)
            mean_est = pelvis_centered(mean_joints[:, GT24_OFFSET:])[:, list(GT24_LSP14)]
            errors["mean_pose_pa_mpjpe"].append(pa_mpjpe(mean_est, gt[mask]))
        kp = batch["keypoints_2d"]
        vis = kp[:, GT24_OFFSET:, 2] > 0
        size = batch["image"].shape[-1]
        dist = (projected[:, GT24_OFFSET:] - kp[:, GT24_OFFSET:, :2]).norm(dim=-1) * size / 2
        errors["px_2d"].append(dist[vis])
    model.train()
    return {k: float(torch.cat(v).mean()) if v else math.nan for k, v in errors.items()}


def summary(metrics: dict[str, float]) -> str:
    return (
        f"val PA-MPJPE {metrics['pa_mpjpe']:.1f} mm (mean pose {metrics['mean_pose_pa_mpjpe']:.1f} mm), "
        f"MPJPE {metrics['mpjpe']:.1f} mm, 2D {metrics['px_2d']:.1f} px"
    )


def mean_params(people: list[Person]) -> MeanParams:
    """HMR's starting point from the training set (SPIN's smpl_mean_params, for this body)."""
    with_smpl = [p for p in people if p.pose_rotmat is not None and p.betas is not None]
    if not with_smpl:
        return MeanParams.builtin()
    poses = torch.as_tensor(np.stack([p.pose_rotmat for p in with_smpl]))  # type: ignore[misc]
    betas = torch.as_tensor(np.stack([p.betas for p in with_smpl]))  # type: ignore[misc]
    return MeanParams.from_poses(poses, betas)


@dataclass(frozen=True)
class TrainProgress:
    """What ``train`` reports to ``on_progress``: every ``progress_every`` steps and after each
    validation (``metrics`` set then)."""

    step: int
    max_steps: int | None
    epoch: int
    loss: float
    parts: dict[str, float]
    lr: float
    elapsed_s: float  # training time so far, over every resumed run
    budget_s: float | None  # the time budget (minutes), if any
    metrics: dict[str, float] | None = None

    @property
    def eta_s(self) -> float | None:
        """Seconds left: by the step budget at the rate so far, or by the time budget."""
        left: list[float] = []
        if self.max_steps and self.step > 0:
            left.append((self.max_steps - self.step) * self.elapsed_s / self.step)
        if self.budget_s:
            left.append(self.budget_s - self.elapsed_s)
        return max(0.0, min(left)) if left else None


def scheduled_lr(config: TrainConfig, elapsed_s: float, step: int) -> float:
    """The learning rate after ``elapsed_s`` seconds and ``step`` steps of this run."""
    if config.lr_schedule == "constant":
        return config.lr
    done = 0.0
    if config.minutes:
        done = max(done, elapsed_s / (60 * config.minutes))
    if config.max_steps:
        done = max(done, step / config.max_steps)
    if not config.minutes and not config.max_steps:
        raise ValueError("the cosine schedule needs a budget: minutes or max_steps")
    done = min(done, 1.0)
    return config.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * done)))


def _device(spec: str) -> torch.device:
    from fitting.device import resolve_device

    return resolve_device(spec)


def train(
    config: TrainConfig,
    train_people: list[Person],
    val_people: list[Person],
    *,
    resume: Path | None = None,
    init: Path | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    on_progress: Callable[[TrainProgress], bool] | None = None,
    on_checkpoint: Callable[[Path, int], None] | None = None,
    body: BodyModel | None = None,
) -> dict[str, Any]:
    """Train and write ``out/latest.pt`` (and ``out/best.pt`` by validation PA-MPJPE).

    ``on_progress`` is told how it goes (``TrainProgress``); it returns False to stop the run
    (cancelled: ``latest.pt`` is saved where it stopped). ``on_checkpoint`` is called with each
    ``latest.pt`` written (a job copies it where another worker can resume from it). Time spent
    before a resume counts against ``minutes`` and the learning-rate schedule. ``body``: the body
    model the people's parameters are for (default: the open body)."""
    torch.manual_seed(config.seed)
    device = _device(config.device)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    body = (body if body is not None else BodyModel.open_body()).to(device)
    in_channels = 3 + (AUX_CHANNELS if config.aux_keypoints else 0)
    if config.lr_schedule != "constant" and not config.minutes and not config.max_steps:
        raise ValueError("the cosine schedule needs a budget: minutes or max_steps")
    if init is not None:
        model = load_checkpoint(init).model
        if model.in_channels != in_channels:
            raise ValueError(
                f"{init}: has {model.in_channels} input channels, the config asks for {in_channels}"
            )
    else:
        start = (
            MeanParams.from_npz(Path(config.mean_params)) if config.mean_params else mean_params(train_people)
        )
        model = HMR(backbone=config.backbone, in_channels=in_channels, mean_params=start)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    train_set = PersonDataset(
        train_people, config.input_size, config.aux_keypoints, config.augment, seed=config.seed
    )
    val_set = PersonDataset(val_people, config.input_size, config.aux_keypoints, Augment.none(), level=7)
    val_loader = DataLoader(val_set, batch_size=config.batch_size, num_workers=config.workers)
    start_epoch, skip_batches, step = 0, 0, 0
    best = math.inf
    if resume is not None:
        raw = torch.load(resume, map_location=device, weights_only=True)
        model.load_state_dict(raw["model"], strict=True)
        optimizer.load_state_dict(raw["optimizer"])
        start_epoch, skip_batches, step = (
            int(raw["epoch"]),
            int(raw["batch_idx"]),
            int(raw["total_step_count"]),
        )
        # The best so far is only worth beating if its checkpoint is here (a resume on another host
        # has the saved step, not best.pt).
        best = (
            float(raw.get("eft_meta", {}).get("best_pa_mpjpe", math.inf))
            if (out / "best.pt").is_file()
            else math.inf
        )
        elapsed_before = float(raw.get("eft_meta", {}).get("elapsed_s", 0.0))
        log(f"resumed from {resume}: epoch {start_epoch}, batch {skip_batches}, step {step}")
    else:
        elapsed_before = 0.0
    started = time.perf_counter() - elapsed_before
    history: list[dict[str, float]] = []

    def meta(metrics: dict[str, float] | None) -> dict[str, Any]:
        return {
            "eft_meta": {
                "backbone": config.backbone,
                "input_size": config.input_size,
                "in_channels": in_channels,
                "aux": AUX_SKELETON if config.aux_keypoints else "none",
                "body_model": body.description,
                "body_sha256": body.sha256,
                "train_config": {k: v for k, v in asdict(config).items() if k not in {"augment", "losses"}},
                "metrics": metrics or {},
                "best_pa_mpjpe": best,
                "history": history[-50:],
                "elapsed_s": time.perf_counter() - started,
            }
        }

    def save(path: Path, epoch: int, batch_idx: int, perm: Tensor, metrics: dict[str, float] | None) -> None:
        save_checkpoint(
            path,
            model,
            optimizer,
            epoch=epoch,
            batch_idx=batch_idx,
            batch_size=config.batch_size,
            dataset_perm=perm,
            total_step_count=step,
            extra=meta(metrics),
        )
        if on_checkpoint is not None and path.name == "latest.pt":
            on_checkpoint(path, step)

    def report(
        epoch: int, loss: float, parts: dict[str, float], lr: float, val: dict[str, float] | None
    ) -> bool:
        if on_progress is None:
            return True
        budget = 60 * config.minutes if config.minutes else None
        return on_progress(
            TrainProgress(step=step, max_steps=config.max_steps, epoch=epoch, loss=loss, parts=parts, lr=lr,
                          elapsed_s=time.perf_counter() - started, budget_s=budget, metrics=val)
        )  # fmt: skip

    out_of_time = False
    cancelled = False
    epoch = start_epoch
    metrics: dict[str, float] | None = None
    bar = None
    for epoch in range(start_epoch, config.epochs):
        train_set.epoch = epoch
        perm = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(config.seed + epoch))
        order = perm[skip_batches * config.batch_size :].tolist()
        loader = DataLoader(
            torch.utils.data.Subset(train_set, order),
            batch_size=config.batch_size,
            num_workers=config.workers,
            drop_last=True,
            persistent_workers=False,
        )
        if progress:
            from tqdm import tqdm

            bar = tqdm(
                total=len(train_set) // config.batch_size,
                initial=skip_batches,
                desc=f"epoch {epoch + 1}/{config.epochs}",
                unit="batch",
            )
        for batch_idx, batch in enumerate(loader, start=skip_batches):
            if config.max_steps is not None and step >= config.max_steps:  # resumed at the budget
                out_of_time = True
                break
            batch = {k: v.to(device) for k, v in batch.items()}
            lr = scheduled_lr(config, time.perf_counter() - started, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            pred = model(batch["image"])
            loss, parts = hmr_loss(body, pred, batch, config.losses)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            optimizer.step()
            step += 1
            if bar is not None:
                bar.set_postfix(
                    loss=f"{loss.item():.3f}",
                    l2d=f"{parts['2d']:.4f}",
                    l3d=f"{parts['3d']:.4f}",
                    lr=f"{lr:.1e}",
                )
                bar.update(1)
            validated = None
            if step % config.val_every == 0:
                metrics = validated = evaluate_model(model, body, val_loader, device)
                history.append({"step": step, **metrics})
                log(f"step {step}: {summary(metrics)}")
                if metrics["pa_mpjpe"] < best:
                    best = metrics["pa_mpjpe"]
                    save(out / "best.pt", epoch, batch_idx + 1, perm, metrics)
            if step % config.checkpoint_every == 0:
                save(out / "latest.pt", epoch, batch_idx + 1, perm, metrics)
            if (validated is not None or step % config.progress_every == 0) and not report(
                epoch, loss.item(), parts, lr, validated
            ):
                cancelled = True
                save(out / "latest.pt", epoch, batch_idx + 1, perm, metrics)
                break
            timed_out = config.minutes is not None and time.perf_counter() - started > 60 * config.minutes
            if timed_out or (config.max_steps is not None and step >= config.max_steps):
                out_of_time = True
                save(out / "latest.pt", epoch, batch_idx + 1, perm, metrics)
                break
        if bar is not None:
            bar.close()
        skip_batches = 0
        if cancelled:
            log(f"cancelled at step {step}")
            return {"steps": step, "metrics": metrics or {}, "best_pa_mpjpe": best, "stopped": "cancelled",
                    "minutes": (time.perf_counter() - started) / 60, "history": history}  # fmt: skip
        if out_of_time:
            log(f"stopped at step {step} (time or step budget; resume with --resume {out / 'latest.pt'})")
            break
        save(out / "latest.pt", epoch + 1, 0, perm, metrics)
    metrics = evaluate_model(model, body, val_loader, device)
    history.append({"step": step, **metrics})
    if metrics["pa_mpjpe"] < best:
        best = metrics["pa_mpjpe"]
        save(out / "best.pt", config.epochs, 0, torch.arange(0), metrics)
    save(out / "latest.pt", config.epochs if not out_of_time else epoch, 0, torch.arange(0), metrics)
    minutes = (time.perf_counter() - started) / 60
    log(f"final: {summary(metrics)}; best {best:.1f} mm; {step} steps in {minutes:.1f} min")
    report(epoch, math.nan, {}, scheduled_lr(config, minutes * 60, step), metrics)
    return {
        "steps": step,
        "metrics": metrics,
        "best_pa_mpjpe": best,
        "minutes": (time.perf_counter() - started) / 60,
        "stopped": "budget" if out_of_time else "epochs",
        "history": history,
    }
