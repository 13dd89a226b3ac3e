"""Sanity rules: whether a fit is kept, and which check rejected it and why.

- ``paper``: reject if max |beta| > 5 or the 2D keypoint loss > 0.01 (the paper's rule);
- ``exporter``: the reference exporter's stricter thresholds (> 3, > 0.0005);
- ``plausible``: the paper's rule, then three checks that see what it cannot:
  - the 2D error relative to the person's size (the keypoint loss is in crop units, so a small
    person and a large one are judged alike only this way);
  - joint limits: every joint's rotation against the pose distribution's clinical limits
    (``fitting.synth.poses.LIMITS_DEG``) widened by a margin: knees and elbows bent backwards,
    impossible twists;
  - self-intersection: a forearm, hand, shin or foot deep inside the torso.

Each verdict carries a ``code`` (``ok``, ``betas``, ``keypoint_loss``, ``relative_error``,
``joint_limits``, ``self_intersection``) for filtering, and a ``reason`` for people to read.
The thresholds of the plausible rule are calibrated on synthetic people with known truth
(``python -m fitting compare`` prints the rule's precision and recall against PA-MPJPE above
100 mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fitting.config import SanityRule
from fitting.joints import SMPL24_NAMES
from fitting.results import SanityVerdict

#: Verdict codes, in the order the checks run.
CODES = ("ok", "betas", "keypoint_loss", "relative_error", "joint_limits", "self_intersection")


@dataclass(frozen=True)
class PlausibleLimits:
    """The plausible rule's thresholds."""

    relative_error: float = 0.05  # mean 2D error over the person's box side
    limit_margin_deg: float = 15.0  # beyond the clinical range of any joint angle
    penetration: float = 0.55  # a limb point within this share of the torso's half-widths


PLAUSIBLE = PlausibleLimits()

_J = {name: i for i, name in enumerate(SMPL24_NAMES)}
#: (name, from joint, to joint): the limb segments tested against the torso.
LIMB_SEGMENTS = tuple(
    (f"{side} {part}", _J[f"{side}_{a}"], _J[f"{side}_{b}"])
    for side in ("left", "right")
    for part, a, b in (
        ("forearm", "elbow", "wrist"),
        ("hand", "wrist", "hand"),
        ("shin", "knee", "ankle"),
        ("foot", "ankle", "foot"),
    )
)
_TORSO_AXIS = (_J["pelvis"], _J["spine1"], _J["spine2"], _J["spine3"], _J["neck"])
#: Torso half-width (left-right) and half-depth (front-back) in metres for an average adult.
TORSO_HALF_WIDTH = 0.15
TORSO_HALF_DEPTH = 0.10
_SMPL_HIP_DISTANCE = 0.13  # metres between SMPL's hip joints for an average adult


def sanity_verdict(
    betas: object,
    keypoint_loss: float,
    rule: SanityRule,
    *,
    pose_rotmat: object | None = None,
    joints_smpl24: object | None = None,
    mean_error_px: float | None = None,
    person_size_px: float | None = None,
    limits: PlausibleLimits = PLAUSIBLE,
) -> SanityVerdict:
    """Judge one fit. ``betas`` any array-like; the plausible rule also needs the fitted
    ``pose_rotmat (24, 3, 3)``, the posed ``joints_smpl24 (24, 3)`` (metres), the mean 2D error
    and the person's size (crop box side), both in image pixels."""
    values = np.abs(np.asarray(_numpy(betas), dtype=np.float64))
    beta_limit, loss_limit = (3.0, 0.0005) if rule == "exporter" else (5.0, 0.01)
    largest = float(values.max())
    if largest > beta_limit:
        return SanityVerdict(False, f"max |beta| {largest:.2f} > {beta_limit}", rule, "betas")
    if keypoint_loss > loss_limit:
        return SanityVerdict(
            False, f"2D keypoint loss {keypoint_loss:.5f} > {loss_limit}", rule, "keypoint_loss"
        )
    if rule != "plausible":
        return SanityVerdict(True, "ok", rule)
    if pose_rotmat is None or joints_smpl24 is None or mean_error_px is None or not person_size_px:
        raise ValueError(
            "the plausible rule needs the pose, the posed joints, the 2D error and the person's size"
        )
    relative = mean_error_px / person_size_px
    if not np.isfinite(relative):
        return SanityVerdict(False, "no labelled joint to measure the 2D error on", rule, "relative_error")
    if relative > limits.relative_error:
        return SanityVerdict(
            False,
            f"2D error {relative:.1%} of the person's size > {limits.relative_error:.0%}",
            rule,
            "relative_error",
        )
    broken = limit_violation(_numpy(pose_rotmat), limits.limit_margin_deg)
    if broken:
        return SanityVerdict(False, broken, rule, "joint_limits")
    crossing = torso_crossing(_numpy(joints_smpl24), limits.penetration)
    if crossing:
        return SanityVerdict(False, crossing, rule, "self_intersection")
    return SanityVerdict(True, "ok", rule)


def _numpy(value: object) -> NDArray[np.float64]:
    detach = getattr(value, "detach", None)
    if detach is not None:
        value = detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


_AXES = "xyz"


def limit_violation(pose_rotmat: NDArray[np.floating], margin_deg: float) -> str:
    """The worst joint angle beyond its clinical range by more than ``margin_deg``, in words
    ("" when none is): knees and elbows bent backwards are named as such."""
    from fitting.synth.poses import ARM_JOINTS, LIMITS_DEG, rotmat_to_euler

    arm = np.array([j in ARM_JOINTS for j in range(1, 24)])
    euler = rotmat_to_euler(np.asarray(pose_rotmat, dtype=np.float64)[1:], arm)  # (23, 3)
    low, high = LIMITS_DEG[1:, :, 0], LIMITS_DEG[1:, :, 1]
    beyond = np.maximum(low - euler, euler - high)  # degrees outside the range (negative inside)
    joint, axis = np.unravel_index(int(np.argmax(beyond)), beyond.shape)
    if beyond[joint, axis] <= margin_deg:
        return ""
    name = SMPL24_NAMES[joint + 1].replace("_", " ")
    angle = euler[joint, axis]
    if name.endswith("knee") and axis == 0 and angle < low[joint, axis]:
        return f"{name} bent backwards by {-angle:.0f} degrees"
    if name.endswith("elbow") and axis == 1 and (angle > 0 if name.startswith("left") else angle < 0):
        return f"{name} bent backwards by {abs(angle):.0f} degrees"
    lo, hi = low[joint, axis], high[joint, axis]
    return (
        f"{name} turned {angle:.0f} degrees about {_AXES[axis]}, range {lo:.0f} to {hi:.0f} "
        f"(margin {margin_deg:g})"
    )


def torso_crossing(joints: NDArray[np.floating], penetration: float) -> str:
    """The first limb segment with a point deep inside the torso, in words ("" when none).

    The torso is a tube along pelvis, spine1..3 and neck with an elliptic section (half-width
    and half-depth scaled by the fitted hip distance); "deep" is within ``penetration`` of its
    half-axes, where a hand resting on the belly does not reach."""
    j = np.asarray(joints, dtype=np.float64)
    hip_distance = float(np.linalg.norm(j[_J["left_hip"]] - j[_J["right_hip"]]))
    if hip_distance < 0.01:  # no torso to speak of (a degenerate fit): nothing to test against
        return ""
    scale = hip_distance / _SMPL_HIP_DISTANCE
    half_w, half_d = float(TORSO_HALF_WIDTH * scale), float(TORSO_HALF_DEPTH * scale)
    axis_points = j[list(_TORSO_AXIS)]
    lateral_low = j[_J["left_hip"]] - j[_J["right_hip"]]
    lateral_high = j[_J["left_shoulder"]] - j[_J["right_shoulder"]]
    samples = np.linspace(0.0, 1.0, 6)
    for name, a, b in LIMB_SEGMENTS:
        points = j[a] + samples[:, None] * (j[b] - j[a])
        for point in points:
            depth = _inside(point, axis_points, lateral_low, lateral_high, half_w, half_d)
            if depth < penetration:
                return f"{name} through the torso ({depth:.0%} of its half-width from the spine)"
    return ""


def _inside(
    point: NDArray[np.float64],
    axis_points: NDArray[np.float64],
    lateral_low: NDArray[np.float64],
    lateral_high: NDArray[np.float64],
    half_w: float,
    half_d: float,
) -> float:
    """Elliptic distance of ``point`` from the torso's axis (1 on the surface), or infinity when
    it lies beyond the axis's ends."""
    best = np.inf
    segments = len(axis_points) - 1
    for k in range(segments):
        start, end = axis_points[k], axis_points[k + 1]
        along = end - start
        length2 = float(along @ along)
        if length2 < 1e-12:
            continue
        t = float((point - start) @ along / length2)
        if not 0.0 <= t <= 1.0:
            continue
        direction = along / np.sqrt(length2)
        height = (k + t) / segments
        lateral = (1 - height) * lateral_low + height * lateral_high
        lateral = lateral - (lateral @ direction) * direction
        norm = np.linalg.norm(lateral)
        if norm < 1e-9:
            continue
        lateral /= norm
        forward = np.cross(direction, lateral)
        offset = point - (start + t * along)
        radius = np.hypot(offset @ lateral / half_w, offset @ forward / half_d)
        best = min(best, float(radius))
    return best
