"""Fits scored against known 3D truth: a synthetic set's ``truth.npz`` (or any file with the same
arrays), matched by annotation id.

``truth.npz`` holds ``annotation_id (N,)`` and ``joints_spin49 (N, 49, 3)`` (camera frame,
metres) and, when it has them, ``keypoints_coco17 (N, 17, 3)`` (the 2D labels, image pixels):
with those, each person's labels are checked against the file's, so that the truth of another set
(synthetic sets all number their people 1..N) is refused rather than scored. A fit is its SMPL
parameters: ``pose_rotmat (24, 3, 3)`` (global orientation first, in the camera frame of the
person's crop, HMR's) and ``betas (10,)``.

The scores are the paper's: PA-MPJPE and MPJPE on the 14 LSP joints, pelvis-centred, in
millimetres. PA-MPJPE aligns rotation and scale, so it measures the pose alone; MPJPE does not,
and for a person off the image's centre it also counts the angle between the crop's viewing ray
and the image's (the fit's frame is the crop's, the truth's the whole image's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fitting.joints import GT24_OFFSET

#: A person's labels are those of the truth row when their labelled points are this close (px).
LABELS_MATCH_PX = 2.0
#: The share of checked people whose labels may differ before the truth file is refused.
LABELS_MISMATCH_SHARE = 0.05


class TruthFileError(ValueError):
    """A truth file that cannot be read, lacks what scoring needs, or is another set's."""


@dataclass(frozen=True)
class Truth:
    joints: dict[str, NDArray[np.float64]]  # annotation id -> GT-24 joints (24, 3), metres
    keypoints: dict[str, NDArray[np.float64]] | None  # annotation id -> COCO-17 labels (17, 3)


@dataclass(frozen=True)
class FitToScore:
    key: str  # the person's annotation id, as the truth file writes it
    pose_rotmat: NDArray[np.float64]  # (24, 3, 3)
    betas: NDArray[np.float64]  # (10,)
    group: str = ""  # e.g. "kept" / "rejected": scored separately as well
    keypoints: NDArray[np.float64] | None = None  # the person's labels (K, 3), checked against the file's


@dataclass(frozen=True)
class TruthScore:
    people: int  # fits matched to a truth row and scored
    unmatched: list[str]  # keys without a truth row (not scored)
    pa_mpjpe: float  # mean, mm (nan when nothing was scored)
    pa_mpjpe_median: float
    mpjpe: float
    labels_checked: int = 0  # people whose labels were compared with the truth file's
    per_person: dict[str, float] = field(default_factory=dict)  # key -> PA-MPJPE mm
    by_group: dict[str, tuple[int, float]] = field(default_factory=dict)  # group -> (people, mean PA-MPJPE)

    def as_dict(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "unmatched": len(self.unmatched),
            "labels_checked": self.labels_checked,
            "pa_mpjpe_mm": self.pa_mpjpe,
            "pa_mpjpe_median_mm": self.pa_mpjpe_median,
            "mpjpe_mm": self.mpjpe,
            "by_group": {g: {"people": n, "pa_mpjpe_mm": v} for g, (n, v) in self.by_group.items()},
        }


def _key(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(value)


def load_truth(path: Path) -> Truth:
    """The truth file's joints (and labels, when it has them) by annotation id (as text)."""
    try:
        data = np.load(path)
    except FileNotFoundError as error:
        raise TruthFileError(f"{path}: no such file") from error
    except (OSError, ValueError) as error:
        raise TruthFileError(f"{path}: not a readable .npz file ({error})") from error
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise TruthFileError(f"{path}: a single array, not an .npz file of named arrays")
    with data:
        missing = [name for name in ("annotation_id", "joints_spin49") if name not in data.files]
        if missing:
            raise TruthFileError(
                f"{path}: needs the arrays annotation_id and joints_spin49 ({missing} missing)"
            )
        try:
            ids = np.asarray(data["annotation_id"])
            joints = np.asarray(data["joints_spin49"], dtype=np.float64)
            labels = (
                np.asarray(data["keypoints_coco17"], dtype=np.float64)
                if "keypoints_coco17" in data.files
                else None
            )
        except (OSError, ValueError) as error:
            raise TruthFileError(f"{path}: not a readable .npz file ({error})") from error
    if joints.ndim != 3 or joints.shape[1:] != (49, 3) or len(ids) != len(joints):
        raise TruthFileError(
            f"{path}: joints_spin49 must be (N, 49, 3) with one row per annotation_id; "
            f"got {joints.shape} for {len(ids)} ids"
        )
    try:
        keys = [_key(a) for a in ids]
    except (TypeError, ValueError) as error:
        raise TruthFileError(f"{path}: annotation_id must be numbers ({error})") from error
    usable = labels is not None and labels.shape == (len(ids), 17, 3)
    return Truth(
        joints={k: joints[i, GT24_OFFSET:] for i, k in enumerate(keys)},
        keypoints={k: labels[i] for i, k in enumerate(keys)} if usable and labels is not None else None,
    )


def _labels_differ(mine: NDArray[np.float64], theirs: NDArray[np.float64]) -> bool | None:
    """Whether a person's labelled points are elsewhere than the truth file's (None: not comparable)."""
    if mine.shape != (17, 3):
        return None
    both = (mine[:, 2] > 0) & (theirs[:, 2] > 0)
    if not both.any():
        return None
    return bool(np.linalg.norm(mine[both, :2] - theirs[both, :2], axis=1).mean() > LABELS_MATCH_PX)


def score_fits(fits: Iterable[FitToScore], truth: Truth, body: Any, batch: int = 256) -> TruthScore:
    """Each fit's joints from ``body`` (a ``BodyModel``) against its truth row, a batch at a time
    (only the per-person scores are kept). Raises ``TruthFileError`` when the people's labels are
    not the file's."""
    import torch

    from fitting.metrics import mpjpe_lsp14, pa_mpjpe_lsp14

    device = next((b.device for b in body.buffers()), torch.device("cpu"))
    unmatched: list[str] = []
    pa: dict[str, float] = {}
    plain: list[float] = []
    groups: dict[str, list[float]] = {}
    checked = differ = 0
    pending: list[FitToScore] = []

    def flush() -> None:
        if not pending:
            return
        pose = torch.as_tensor(np.stack([f.pose_rotmat for f in pending]), dtype=torch.float32, device=device)
        betas = torch.as_tensor(np.stack([f.betas for f in pending]), dtype=torch.float32, device=device)
        with torch.no_grad():
            fitted = body.joints_spin49(betas, pose)[:, GT24_OFFSET:].cpu()
        true = torch.as_tensor(np.stack([truth.joints[f.key] for f in pending]), dtype=torch.float32)
        for fit, value, whole in zip(
            pending, pa_mpjpe_lsp14(fitted, true).tolist(), mpjpe_lsp14(fitted, true).tolist(), strict=True
        ):
            pa[fit.key] = value
            plain.append(whole)
            if fit.group:
                groups.setdefault(fit.group, []).append(value)
        pending.clear()

    for fit in fits:
        if fit.key not in truth.joints:
            unmatched.append(fit.key)
            continue
        if truth.keypoints is not None and fit.keypoints is not None:
            verdict = _labels_differ(np.asarray(fit.keypoints, dtype=np.float64), truth.keypoints[fit.key])
            if verdict is not None:
                checked += 1
                differ += int(verdict)
        pending.append(fit)
        if len(pending) >= batch:
            flush()
    flush()
    if checked and differ > LABELS_MISMATCH_SHARE * checked:
        raise TruthFileError(
            f"{differ} of {checked} people's labelled keypoints are not where the truth file puts them "
            f"(more than {LABELS_MATCH_PX:g} px apart): it is the truth of another set"
        )
    values = list(pa.values())
    nan = float("nan")
    return TruthScore(
        people=len(values),
        unmatched=unmatched,
        pa_mpjpe=float(np.mean(values)) if values else nan,
        pa_mpjpe_median=float(np.median(values)) if values else nan,
        mpjpe=float(np.mean(plain)) if plain else nan,
        labels_checked=checked,
        per_person=pa,
        by_group={g: (len(v), float(np.mean(v))) for g, v in sorted(groups.items())},
    )
