"""Batched EFT: many people at once on one device, each with its own copy of the weights.

The trainable weights are stacked along a new leading axis (one slice per person) and the
regressor runs under ``torch.func.functional_call`` + ``vmap``. Adam works element by element, so
one Adam over the stacked weights is exactly one Adam per person. A person whose 2D error drops
under the threshold keeps the forward pass of that iteration, as in one-at-a-time EFT; the
others go on. Results match ``ExemplarFineTuner`` within floating-point tolerance (a test).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import torch
from torch import Tensor
from torch.func import functional_call, vmap

from fitting.body.model import BodyModel
from fitting.config import EftConfig
from fitting.eft.core import (
    EftResult,
    EftTarget,
    _trainable,
    eft_loss,
    joint_errors_px,
    stop_error,
)
from fitting.geometry.camera import weak_perspective_project
from fitting.regressor.hmr import HMR

#: bytes per trainable weight and person: the weight, its gradient and Adam's two moments (fp32)
BYTES_PER_WEIGHT = 16


def memory_per_person(model: HMR, input_size: int = 224) -> int:
    """A rough estimate, in bytes, of what one more person in a batch costs on the device:
    weights, gradients and Adam state, plus activations kept for the backward pass."""
    weights = sum(p.numel() for p in _trainable(model)) * BYTES_PER_WEIGHT
    # Activations: about 100 floats per input pixel and channel for ResNet-50 at 224 px (measured
    # order of magnitude, kept for backward), scaled by the input area.
    activations = 100 * 3 * input_size * input_size * 4
    return int(weights + activations)


class BatchedFineTuner:
    """EFT over a batch of people: ``fit(targets) -> list[EftResult]``."""

    def __init__(
        self, model: HMR, body: BodyModel, config: EftConfig | None = None, checkpoint_sha256: str = ""
    ) -> None:
        self.model = model.eval()
        self.body = body
        self.config = config or EftConfig()
        self.checkpoint_sha256 = checkpoint_sha256
        trainable = {id(p) for p in _trainable(model)}
        self._names = [n for n, p in model.named_parameters() if id(p) in trainable]
        self._fixed = {n: p.detach() for n, p in model.named_parameters() if id(p) not in trainable}
        self._fixed.update(dict(model.named_buffers()))

    def _forward(self, weights: dict[str, Tensor], images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        def one(w: dict[str, Tensor], image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            out = functional_call(self.model, {**self._fixed, **w}, (image[None],))
            return out.pose_rotmat[0], out.betas[0], out.cam_weak[0]

        result: tuple[Tensor, Tensor, Tensor] = vmap(one)(weights, images)
        return result

    def fit(self, targets: list[EftTarget]) -> list[EftResult]:
        cfg = self.config
        if not targets:
            return []
        started = time.perf_counter()
        count = len(targets)
        images = torch.stack([t.image for t in targets])
        keypoints = torch.stack([t.keypoints_2d for t in targets])
        labelled = keypoints[..., 2] > 0
        if not labelled.any(dim=1).all():
            raise ValueError("EFT needs at least one labelled keypoint per person")
        source = dict(self.model.named_parameters())
        weights = {
            n: source[n]
            .detach()
            .unsqueeze(0)
            .repeat(count, *[1] * source[n].ndim)
            .clone()
            .requires_grad_(True)
            for n in self._names
        }
        anchor = {n: w.detach().clone() for n, w in weights.items()} if cfg.gamma > 0 else {}
        optimizer = torch.optim.Adam(list(weights.values()), lr=cfg.lr)
        results: list[EftResult | None] = [None] * count
        loss_before = torch.full((count,), float("nan"))
        iterations = 0
        while True:
            pose, betas, cam = self._forward(weights, images)
            joints = self.body.joints_spin49(betas, pose)  # the joints alone: no mesh
            projected = weak_perspective_project(joints, cam)
            per_person, loss_2d = eft_loss(projected, betas, cam, keypoints, cfg)
            if cfg.gamma > 0:
                per_person = per_person + cfg.gamma * sum(
                    ((weights[n] - anchor[n]) ** 2).flatten(1).sum(dim=1) for n in self._names
                )
            if iterations == 0:
                loss_before = per_person.detach().clone()
            for i, target in enumerate(targets):
                if results[i] is not None:
                    continue
                errors = joint_errors_px(projected[i].detach(), target.keypoints_2d, target.box)
                mean_error = float(errors[labelled[i]].mean())
                stop = stop_error(mean_error, target.box, cfg.threshold_units)
                if stop < cfg.threshold_px or iterations >= cfg.max_iterations:
                    results[i] = EftResult(
                        pose_rotmat=pose[i].detach(),
                        betas=betas[i].detach(),
                        cam_weak=cam[i].detach(),
                        joint_error_px=errors,
                        mean_error_px=mean_error,
                        keypoint_loss=loss_2d[i].item(),
                        iterations=iterations,
                        loss_before=loss_before[i].item(),
                        loss_after=per_person[i].item(),
                        seconds=0.0,
                        config=asdict(cfg),
                        checkpoint_sha256=self.checkpoint_sha256,
                    )
            if all(r is not None for r in results):
                break
            active = torch.tensor(
                [r is None for r in results], dtype=per_person.dtype, device=per_person.device
            )
            optimizer.zero_grad(set_to_none=True)
            (per_person * active).sum().backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            iterations += 1
        elapsed = time.perf_counter() - started
        done: list[EftResult] = []
        for r in results:
            assert r is not None
            r.seconds = elapsed / count
            done.append(r)
        return done
