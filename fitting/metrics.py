"""3D pose metrics: MPJPE and PA-MPJPE (Procrustes-aligned, with scale).

Inputs are joints ``(B, J, 3)`` in metres; results are per sample in millimetres. The paper's
protocol uses the 14 LSP joints (GT-24 indices 0..13), pelvis-centred (mid-hip).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fitting.joints import GT24_LSP14, GT24_NAMES

_RHIP, _LHIP = GT24_NAMES.index("Right Hip"), GT24_NAMES.index("Left Hip")


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.ndim != 3 or pred.shape[-1] != 3 or pred.shape != target.shape:
        raise ValueError(
            f"expected two (B, J, 3) tensors of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def procrustes_align(source: Tensor, target: Tensor) -> Tensor:
    """The similarity transform (scale, rotation, translation) of ``source`` that best fits ``target``.

    Both ``(B, J, 3)``; returns the aligned ``source`` ``(B, J, 3)``. Least squares (Umeyama), with
    the reflection case excluded so the result is a proper rotation.
    """
    _check_pair(source, target)
    mu_s = source.mean(dim=1, keepdim=True)
    mu_t = target.mean(dim=1, keepdim=True)
    xs, xt = source - mu_s, target - mu_t
    var_s = (xs**2).sum(dim=(1, 2))
    cov = xs.transpose(1, 2) @ xt  # (B, 3, 3)
    u, sigma, vh = torch.linalg.svd(cov)
    v = vh.transpose(1, 2)
    det = torch.det(v @ u.transpose(1, 2))
    fix = torch.ones_like(sigma)
    fix[:, -1] = torch.sign(det)
    rot = v @ torch.diag_embed(fix) @ u.transpose(1, 2)  # maps centred source onto target
    scale = (sigma * fix).sum(dim=1) / var_s.clamp_min(1e-12)
    aligned: Tensor = scale[:, None, None] * (xs @ rot.transpose(1, 2)) + mu_t
    return aligned


def mpjpe(pred: Tensor, target: Tensor) -> Tensor:
    """Mean per-joint position error ``(B,)`` in mm, after no alignment (inputs in metres)."""
    _check_pair(pred, target)
    error: Tensor = 1000.0 * (pred - target).norm(dim=-1).mean(dim=-1)
    return error


def pelvis_centered(joints_gt24: Tensor) -> Tensor:
    """GT-24 joints ``(B, 24, 3)`` minus the mid-hip point."""
    pelvis = 0.5 * (joints_gt24[:, _RHIP] + joints_gt24[:, _LHIP])
    return joints_gt24 - pelvis[:, None]


def mpjpe_lsp14(pred_gt24: Tensor, target_gt24: Tensor) -> Tensor:
    """MPJPE ``(B,)`` mm on the 14 LSP joints, both pelvis-centred."""
    return mpjpe(pelvis_centered(pred_gt24)[:, GT24_LSP14], pelvis_centered(target_gt24)[:, GT24_LSP14])


def pa_mpjpe(pred: Tensor, target: Tensor) -> Tensor:
    """MPJPE ``(B,)`` in mm after Procrustes alignment of ``pred`` to ``target``."""
    return mpjpe(procrustes_align(pred, target), target)


def pa_mpjpe_lsp14(pred_gt24: Tensor, target_gt24: Tensor) -> Tensor:
    """The paper's PA-MPJPE ``(B,)`` mm: 14 LSP joints of GT-24 layouts, pelvis-centred."""
    return pa_mpjpe(pelvis_centered(pred_gt24)[:, GT24_LSP14], pelvis_centered(target_gt24)[:, GT24_LSP14])
