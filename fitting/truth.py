"""Fits scored against known 3D truth: a synthetic set's ``truth.npz`` (or any file with the same
two arrays), matched by annotation id.

``truth.npz`` holds ``annotation_id (N,)`` and ``joints_spin49 (N, 49, 3)`` (camera frame,
metres). A fit is its SMPL parameters: ``pose_rotmat (24, 3, 3)`` (global orientation first, in
HMR's camera-aligned frame) and ``betas (10,)``. The scores are the paper's: PA-MPJPE and MPJPE
on the 14 LSP joints, pelvis-centred, in millimetres.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fitting.joints import GT24_OFFSET


class TruthFileError(ValueError):
    """A truth file that cannot be read or lacks what scoring needs."""


@dataclass(frozen=True)
class FitToScore:
    key: str  # the person's annotation id, as the truth file writes it
    pose_rotmat: NDArray[np.float64]  # (24, 3, 3)
    betas: NDArray[np.float64]  # (10,)
    group: str = ""  # e.g. "accepted" / "rejected": scored separately as well


@dataclass(frozen=True)
class TruthScore:
    people: int  # fits matched to a truth row and scored
    unmatched: list[str]  # keys without a truth row (not scored)
    pa_mpjpe: float  # mean, mm (nan when nothing was scored)
    pa_mpjpe_median: float
    mpjpe: float
    per_person: dict[str, float] = field(default_factory=dict)  # key -> PA-MPJPE mm
    by_group: dict[str, tuple[int, float]] = field(default_factory=dict)  # group -> (people, mean PA-MPJPE)

    def as_dict(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "unmatched": len(self.unmatched),
            "pa_mpjpe_mm": self.pa_mpjpe,
            "pa_mpjpe_median_mm": self.pa_mpjpe_median,
            "mpjpe_mm": self.mpjpe,
            "by_group": {g: {"people": n, "pa_mpjpe_mm": v} for g, (n, v) in self.by_group.items()},
        }


def load_truth(path: Path) -> dict[str, NDArray[np.float64]]:
    """Annotation id (as text) -> true GT-24 joints ``(24, 3)`` in metres."""
    try:
        with np.load(path) as data:
            ids = np.asarray(data["annotation_id"])
            joints = np.asarray(data["joints_spin49"], dtype=np.float64)
    except FileNotFoundError as error:
        raise TruthFileError(f"{path}: no such file") from error
    except KeyError as error:
        raise TruthFileError(
            f"{path}: needs the arrays annotation_id and joints_spin49 ({error} is missing)"
        ) from error
    except (OSError, ValueError) as error:
        raise TruthFileError(f"{path}: not a readable .npz file ({error})") from error
    if joints.ndim != 3 or joints.shape[1:] != (49, 3) or len(ids) != len(joints):
        raise TruthFileError(
            f"{path}: joints_spin49 must be (N, 49, 3) with one row per annotation_id; "
            f"got {joints.shape} for {len(ids)} ids"
        )
    return {str(int(a)) if np.issubdtype(ids.dtype, np.integer) else str(a): joints[i, GT24_OFFSET:]
            for i, a in enumerate(ids)}  # fmt: skip


def score_fits(fits: Iterable[FitToScore], truth: dict[str, NDArray[np.float64]], body: Any,
               batch: int = 256) -> TruthScore:  # fmt: skip
    """Each fit's joints from ``body`` (a ``BodyModel``) against its truth row."""
    import torch

    from fitting.metrics import mpjpe_lsp14, pa_mpjpe_lsp14

    matched: list[FitToScore] = []
    unmatched: list[str] = []
    for fit in fits:
        if fit.key in truth:
            matched.append(fit)
        else:
            unmatched.append(fit.key)
    pa: list[float] = []
    plain: list[float] = []
    device = next((b.device for b in body.buffers()), torch.device("cpu"))
    with torch.no_grad():
        for start in range(0, len(matched), batch):
            part = matched[start : start + batch]
            pose = torch.as_tensor(
                np.stack([f.pose_rotmat for f in part]), dtype=torch.float32, device=device
            )
            betas = torch.as_tensor(np.stack([f.betas for f in part]), dtype=torch.float32, device=device)
            fitted = body(betas, pose).joints_spin49[:, GT24_OFFSET:].cpu()
            true = torch.as_tensor(np.stack([truth[f.key] for f in part]), dtype=torch.float32)
            pa.extend(pa_mpjpe_lsp14(fitted, true).tolist())
            plain.extend(mpjpe_lsp14(fitted, true).tolist())
    groups: dict[str, list[float]] = {}
    for fit, value in zip(matched, pa, strict=True):
        if fit.group:
            groups.setdefault(fit.group, []).append(value)
    nan = float("nan")
    return TruthScore(
        people=len(pa),
        unmatched=unmatched,
        pa_mpjpe=float(np.mean(pa)) if pa else nan,
        pa_mpjpe_median=float(np.median(pa)) if pa else nan,
        mpjpe=float(np.mean(plain)) if plain else nan,
        per_person={f.key: v for f, v in zip(matched, pa, strict=True)},
        by_group={g: (len(v), float(np.mean(v))) for g, v in sorted(groups.items())},
    )
