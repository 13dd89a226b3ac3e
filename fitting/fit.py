"""One entry point for fitting people with any HMR checkpoint: regressor only, EFT, SMPLify.

EFT works as post-processing of any regressor (paper, section 6.5): load a checkpoint (SPIN's,
EFT's model zoo, or one trained here), build each person's input the way that checkpoint was
trained (input size, auxiliary skeleton channels: read from its metadata), and either read the
regressor's answer or fine-tune it per person. SMPLify starts from the same regressor (or from
its mean pose) so the methods can be compared on equal terms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from fitting.assets import BOOTSTRAP_REGRESSOR_PATH
from fitting.body.model import BodyModel
from fitting.config import EftConfig, SmplifyConfig
from fitting.eft.batched import BatchedFineTuner
from fitting.eft.core import (
    EftResult,
    EftTarget,
    ExemplarFineTuner,
    eft_loss,
    joint_errors_px,
)
from fitting.eft.inputs import make_target
from fitting.eft.upright import choose_turns, turn_back, turn_target
from fitting.geometry.camera import CropBox, weak_perspective_project
from fitting.regressor.hmr import LoadedCheckpoint, load_checkpoint
from fitting.regressor.inputs import AUX_CHANNELS, checkpoint_input
from fitting.smplify.core import Initial, Smplify, SmplifyResult
from fitting.smplify.prior import PosePrior

T = TypeVar("T")


class FitOutcome(Protocol):
    """What every method returns per person."""

    pose_rotmat: Tensor
    betas: Tensor
    cam_weak: Tensor
    joint_error_px: Tensor
    mean_error_px: float
    iterations: int
    loss_before: float
    loss_after: float
    seconds: float


@dataclass(frozen=True)
class Regressor:
    """A checkpoint and the input it expects."""

    checkpoint: LoadedCheckpoint
    input_size: int
    aux_channels: bool

    @classmethod
    def load(cls, path: Path | None = None, device: torch.device | None = None) -> Regressor:
        """``path`` None is the shipped bootstrap regressor. SPIN / EFT checkpoints carry no
        metadata: they take 224-pixel RGB crops, which is the default here."""
        checkpoint = load_checkpoint(path or BOOTSTRAP_REGRESSOR_PATH, map_location=device or "cpu")
        input_size, aux = checkpoint_input(checkpoint.meta)
        channels = int(checkpoint.model.conv1.weight.shape[1])
        if channels != (3 + AUX_CHANNELS if aux else 3):
            raise ValueError(
                f"regressor checkpoint {checkpoint.path}: {channels} input channels but its metadata "
                f"says aux={checkpoint.meta.get('eft_meta', {}).get('aux', 'none')!r}"
            )
        checkpoint.model.eval()
        return cls(checkpoint, input_size, aux)

    @property
    def model(self) -> torch.nn.Module:
        return self.checkpoint.model

    @property
    def device(self) -> torch.device:
        return next(self.checkpoint.model.parameters()).device

    def target(
        self, image_rgb: NDArray[np.uint8], labels_gt24_px: NDArray[np.floating], box: CropBox
    ) -> EftTarget:
        """One person's input: image, GT-24 labels ``(24, 3)`` in image pixels, crop box."""
        made = make_target(image_rgb, labels_gt24_px, box, self.input_size, self.aux_channels)
        return EftTarget(made.image.to(self.device), made.keypoints_2d.to(self.device), box)

    def predict(self, targets: list[EftTarget]) -> Initial:
        with torch.no_grad():
            out = self.checkpoint.model(torch.stack([t.image for t in targets]))
        return Initial(out.pose_rotmat, out.betas, out.cam_weak)

    def predict_tuple(self, targets: list[EftTarget]) -> tuple[Tensor, Tensor, Tensor]:
        start = self.predict(targets)
        return start.pose_rotmat, start.betas, start.cam_weak

    def mean(self, count: int) -> Initial:
        """The regressor's starting point before any image (its mean parameters)."""
        with torch.no_grad():
            out = self.checkpoint.model.regress_mean(count)
        return Initial(out.pose_rotmat, out.betas, out.cam_weak)


def regress(
    regressor: Regressor, body: BodyModel, targets: list[EftTarget], config: EftConfig | None = None
) -> list[EftResult]:
    """Regressor only: one forward pass per person, reported like an EFT result with 0 iterations."""
    cfg = config or EftConfig()
    if not targets:
        return []
    started = time.perf_counter()
    turns, targets = _upright(regressor, body, targets, cfg)
    initial = regressor.predict(targets)
    keypoints = torch.stack([t.keypoints_2d for t in targets])
    with torch.no_grad():
        joints = body.joints_spin49(initial.betas, initial.pose_rotmat)
        projected = weak_perspective_project(joints, initial.cam_weak)
        loss, loss_2d = eft_loss(projected, initial.betas, initial.cam_weak, keypoints, cfg)
    per_person = (time.perf_counter() - started) / len(targets)
    results = []
    for i, target in enumerate(targets):
        errors = joint_errors_px(projected[i], target.keypoints_2d, target.box).cpu()
        labelled = target.keypoints_2d[:, 2].cpu() > 0
        results.append(
            EftResult(
                pose_rotmat=initial.pose_rotmat[i].cpu(),
                betas=initial.betas[i].cpu(),
                cam_weak=initial.cam_weak[i].cpu(),
                joint_error_px=errors,
                mean_error_px=float(errors[labelled].mean()),
                keypoint_loss=loss_2d[i].item(),
                iterations=0,
                loss_before=loss[i].item(),
                loss_after=loss[i].item(),
                seconds=per_person,
                config={**asdict(cfg), "max_iterations": 0},
                checkpoint_sha256=regressor.checkpoint.sha256,
            )
        )
    return _turn_back(results, turns, body)


def _upright(
    regressor: Regressor, body: BodyModel, targets: list[EftTarget], config: EftConfig
) -> tuple[list[int], list[EftTarget]]:
    """The upright search's turn per target and the turned targets (none without the option)."""
    if not config.upright_search:
        return [0] * len(targets), targets
    turns = choose_turns(regressor.predict_tuple, body, targets)
    return turns, [turn_target(t, d) for t, d in zip(targets, turns, strict=True)]


def _turn_back(results: list[EftResult], turns: list[int], body: BodyModel) -> list[EftResult]:
    for result, degrees in zip(results, turns, strict=True):
        if degrees:
            device = body.j_regressor_extra.device  # results may sit on the CPU, the body on a GPU
            with torch.no_grad():
                posed = body(result.betas[None].to(device), result.pose_rotmat[None].to(device))
                pelvis = posed.joints_smpl24[0, 0]
            result.pose_rotmat, result.cam_weak = turn_back(
                result.pose_rotmat, result.cam_weak, pelvis.to(result.cam_weak.device), degrees
            )
            result.turn_deg = degrees
    return results


def eft(
    regressor: Regressor,
    body: BodyModel,
    targets: list[EftTarget],
    config: EftConfig | None = None,
    batch_size: int = 1,
    on_person: Callable[[], None] | None = None,
) -> list[EftResult]:
    """EFT as post-processing of ``regressor``: one at a time (``batch_size`` 1) or batched."""
    cfg = config or EftConfig()
    results: list[EftResult] = []
    turns, targets = _upright(regressor, body, targets, cfg)
    if batch_size <= 1:
        tuner = ExemplarFineTuner(regressor.checkpoint.model, body, cfg, regressor.checkpoint.sha256)
        for target in targets:
            results.append(tuner.fit(target))
            if on_person:
                on_person()
        return _turn_back(results, turns, body)
    batched = BatchedFineTuner(regressor.checkpoint.model, body, cfg, regressor.checkpoint.sha256)
    for chunk in _chunks(targets, batch_size):
        results += batched.fit(chunk)
        if on_person:
            for _ in chunk:
                on_person()
    return _turn_back(results, turns, body)


def smplify(
    regressor: Regressor,
    body: BodyModel,
    targets: list[EftTarget],
    prior: PosePrior | None,
    config: SmplifyConfig | None = None,
    init: str = "regressor",
    batch_size: int = 32,
    on_person: Callable[[], None] | None = None,
) -> list[SmplifyResult]:
    """SMPLify started from the regressor's prediction (``init="regressor"``) or its mean pose."""
    if init not in ("regressor", "mean"):
        raise ValueError(f"init must be 'regressor' or 'mean', not {init!r}")
    fitter = Smplify(body, prior, config)
    results: list[SmplifyResult] = []
    for chunk in _chunks(targets, batch_size):
        start = regressor.predict(chunk) if init == "regressor" else regressor.mean(len(chunk))
        results += fitter.fit(chunk, start)
        if on_person:
            for _ in chunk:
                on_person()
    return results


def _chunks(items: Iterable[T], size: int) -> Iterable[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
