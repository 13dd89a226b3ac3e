"""A pose distribution for synthetic people, within anatomical joint limits.

Where it comes from:
- **Joint limits**: clinical active ranges of motion (the American Academy of Orthopaedic
  Surgeons' normal values, as tabulated in physiotherapy goniometry references: hip flexion
  0-120, extension 0-30, abduction 0-45, rotation +-45; knee flexion 0-135; ankle dorsiflexion
  20, plantarflexion 50; shoulder flexion 180, abduction 180; elbow flexion 150, forearm
  rotation 80 each way; wrist flexion 80, extension 70; cervical and thoraco-lumbar spine ranges
  split over SMPL's neck/head and three spine joints), written as Euler angles of each joint's
  local rotation in the body frame (x the person's left, y up, z forward; T-pose is zero).
- **Key poses**: hand-built families that cover everyday activity (standing, walking, running,
  sitting, reaching, crouching, kneeling, bending to pick up) and harder poses (sports: kicking,
  throwing, a lunge, a jumping jack; lying on the back, front or side; arms over the head;
  a one-leg balance). Each family is a parametric template (e.g. a walking phase) with its own
  spread; every joint then gets Gaussian noise, and every angle is clipped to the limits.

A pose is ``axis_angle (24, 3)``: SMPL's joint order, index 0 the global orientation in the
world frame (y up). Euler convention: ``R = Rx(a) @ Ry(b) @ Rz(c)`` with angles in degrees in
LIMITS (``Rz @ Rx @ Ry`` for the arms, see ARM_JOINTS); the right side mirrors the left (y and z
negated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from fitting.joints import SMPL24_NAMES

Angles = dict[str, tuple[float, float, float]]

# Left-side and central joints: (min, max) degrees about x, y, z. Signs in the body frame:
# +x on a leg swings it back (hip extension) / bends the knee; -x at the hip is flexion.
# +z on the left arm raises it; -y on the left arm swings it forward; -y bends the left elbow.
_LIMITS_LEFT: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "left_hip": ((-125.0, 30.0), (-45.0, 45.0), (-25.0, 50.0)),
    "left_knee": ((0.0, 145.0), (-15.0, 15.0), (-5.0, 5.0)),
    "left_ankle": ((-25.0, 50.0), (-20.0, 20.0), (-25.0, 25.0)),
    "left_foot": ((-35.0, 25.0), (-5.0, 5.0), (-5.0, 5.0)),
    "spine1": ((-25.0, 50.0), (-30.0, 30.0), (-25.0, 25.0)),
    "spine2": ((-15.0, 35.0), (-25.0, 25.0), (-20.0, 20.0)),
    "spine3": ((-10.0, 30.0), (-25.0, 25.0), (-15.0, 15.0)),
    "neck": ((-40.0, 45.0), (-55.0, 55.0), (-30.0, 30.0)),
    "head": ((-30.0, 30.0), (-30.0, 30.0), (-20.0, 20.0)),
    "left_collar": ((-15.0, 15.0), (-25.0, 20.0), (-10.0, 35.0)),
    "left_shoulder": ((-80.0, 80.0), (-120.0, 50.0), (-95.0, 100.0)),
    "left_elbow": ((-80.0, 80.0), (-150.0, 0.0), (-5.0, 5.0)),
    "left_wrist": ((-15.0, 15.0), (-25.0, 35.0), (-80.0, 70.0)),
    "left_hand": ((-10.0, 10.0), (-10.0, 10.0), (-90.0, 15.0)),
}


def _mirror_limits(
    limits: tuple[tuple[float, float], tuple[float, float], tuple[float, float]],
) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    (ax, bx), (ay, by), (az, bz) = limits
    return (ax, bx), (-by, -ay), (-bz, -az)


def _build_limits() -> NDArray[np.float64]:
    table = np.zeros((24, 3, 2))
    for name, limits in _LIMITS_LEFT.items():
        table[SMPL24_NAMES.index(name)] = limits
        if name.startswith("left_"):
            table[SMPL24_NAMES.index("right_" + name[5:])] = _mirror_limits(limits)
    return table


#: (24, 3, 2) degrees: min and max Euler angle about x, y, z for every joint but the root (row 0).
LIMITS_DEG: NDArray[np.float64] = _build_limits()


def _rx(a: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


#: Joints whose Euler angles compose as ``Rz @ Rx @ Ry`` (the arms: their large ranges are about
#: y and z, so x, whose range stays under 90 degrees, goes in the middle). All others use
#: ``Rx @ Ry @ Rz`` (their middle angle, about y, stays under 90 degrees). Either way the
#: decomposition back to angles is unique, so limits can be checked on any rotation.
ARM_JOINTS: frozenset[int] = frozenset(
    SMPL24_NAMES.index(f"{side}_{part}")
    for side in ("left", "right")
    for part in ("collar", "shoulder", "elbow", "wrist", "hand")
)
_ARM_MASK = np.array([j in ARM_JOINTS for j in range(24)])


def euler_to_rotmat(
    euler_deg: NDArray[np.floating], arm: bool | NDArray[np.bool_] = False
) -> NDArray[np.float64]:
    """``(..., 3)`` degrees about x, y, z to rotations ``(..., 3, 3)``.

    ``Rx Ry Rz``, or ``Rz Rx Ry`` where ``arm`` is true.
    """
    e = np.deg2rad(np.asarray(euler_deg, dtype=np.float64))
    rx, ry, rz = _rx(e[..., 0]), _ry(e[..., 1]), _rz(e[..., 2])
    default = rx @ ry @ rz
    arm_order = rz @ rx @ ry
    mask = np.broadcast_to(np.asarray(arm), e.shape[:-1])[..., None, None]
    rot: NDArray[np.float64] = np.where(mask, arm_order, default)
    return rot


def rotmat_to_euler(rot: NDArray[np.floating], arm: bool | NDArray[np.bool_] = False) -> NDArray[np.float64]:
    """Inverse of ``euler_to_rotmat`` (middle angle in (-90, 90) degrees): ``(..., 3, 3)`` to ``(..., 3)``."""
    r = np.asarray(rot, dtype=np.float64)
    # R = Rx(a) Ry(b) Rz(c)
    b1 = np.arcsin(np.clip(r[..., 0, 2], -1.0, 1.0))
    a1 = np.arctan2(-r[..., 1, 2], r[..., 2, 2])
    c1 = np.arctan2(-r[..., 0, 1], r[..., 0, 0])
    # R = Rz(c) Rx(a) Ry(b)
    a2 = np.arcsin(np.clip(r[..., 2, 1], -1.0, 1.0))
    b2 = np.arctan2(-r[..., 2, 0], r[..., 2, 2])
    c2 = np.arctan2(-r[..., 0, 1], r[..., 1, 1])
    mask = np.broadcast_to(np.asarray(arm), r.shape[:-2])[..., None]
    out = np.where(mask, np.stack([a2, b2, c2], axis=-1), np.stack([a1, b1, c1], axis=-1))
    return np.rad2deg(out)


def rotmat_to_axis_angle_np(rot: NDArray[np.floating]) -> NDArray[np.float64]:
    """Rotation matrices ``(..., 3, 3)`` to axis-angle ``(..., 3)`` (numpy; via fitting.geometry)."""
    import torch

    from fitting.geometry.rotations import rotmat_to_axis_angle

    out: NDArray[np.float64] = rotmat_to_axis_angle(
        torch.as_tensor(np.asarray(rot, dtype=np.float64))
    ).numpy()
    return out


# --- pose families ------------------------------------------------------------------------
Family = Callable[[np.random.Generator], tuple[Angles, str]]


def _sym(
    angles: Angles,
    name: str,
    left: tuple[float, float, float],
    right: tuple[float, float, float] | None = None,
) -> None:
    """Set left_<name> and right_<name>; right defaults to the mirror of left."""
    angles[f"left_{name}"] = left
    rx, ry, rz = right if right is not None else (left[0], -left[1], -left[2])
    angles[f"right_{name}"] = (rx, ry, rz)


def _arms_down(angles: Angles, rng: np.random.Generator, spread: float = 10.0) -> None:
    for side, sign in (("left", 1.0), ("right", -1.0)):
        angles[f"{side}_shoulder"] = (
            rng.normal(0, 15),
            sign * rng.normal(-10, spread),
            sign * rng.normal(-72, spread),
        )
        angles[f"{side}_elbow"] = (rng.normal(0, 20), sign * -abs(rng.normal(15, 12)), 0.0)


def _standing(rng: np.random.Generator) -> tuple[Angles, str]:
    a: Angles = {}
    _arms_down(a, rng)
    _sym(a, "hip", (rng.normal(0, 5), rng.normal(0, 8), rng.normal(4, 4)))
    _sym(a, "knee", (abs(rng.normal(3, 4)), 0.0, 0.0))
    a["neck"] = (rng.normal(0, 8), rng.normal(0, 20), rng.normal(0, 6))
    return a, "standing"


def _walking(rng: np.random.Generator, run: bool = False) -> tuple[Angles, str]:
    phase = rng.uniform(0, 2 * np.pi)
    amp = 40.0 if run else 25.0
    a: Angles = {}
    for side, shift in (("left", 0.0), ("right", np.pi)):
        sign = 1.0 if side == "left" else -1.0
        swing = np.sin(phase + shift)
        a[f"{side}_hip"] = (-amp * swing - (15 if run else 0), 0.0, sign * 3.0)
        a[f"{side}_knee"] = (max(0.0, (70 if run else 35) * np.sin(phase + shift - 1.2)) + 5, 0.0, 0.0)
        arm = np.sin(phase + shift + np.pi)  # arms swing against the legs
        a[f"{side}_shoulder"] = (0.0, sign * (-(amp * 0.9) * arm), sign * -70.0)
        a[f"{side}_elbow"] = (0.0, sign * -(80.0 if run else 20.0 + 15 * max(arm, 0)), 0.0)
    a["spine1"] = (8.0 if run else 3.0, rng.normal(0, 5), 0.0)
    return a, "running" if run else "walking"


def _sitting(rng: np.random.Generator) -> tuple[Angles, str]:
    a: Angles = {}
    _arms_down(a, rng, spread=15.0)
    _sym(a, "hip", (rng.normal(-88, 8), rng.normal(0, 8), rng.normal(8, 6)))
    _sym(a, "knee", (rng.normal(90, 12), 0.0, 0.0))
    for side, sign in (("left", 1.0), ("right", -1.0)):  # hands on the lap
        a[f"{side}_shoulder"] = (rng.normal(0, 10), sign * rng.normal(-35, 10), sign * rng.normal(-60, 8))
        a[f"{side}_elbow"] = (0.0, sign * rng.normal(-60, 15), 0.0)
    a["spine1"] = (rng.normal(5, 8), 0.0, 0.0)
    return a, "sitting"


def _crouching(rng: np.random.Generator) -> tuple[Angles, str]:
    a: Angles = {}
    depth = rng.uniform(0.6, 1.0)
    _sym(a, "hip", (-115 * depth, rng.normal(0, 8), rng.normal(15, 8)))
    _sym(a, "knee", (140 * depth, 0.0, 0.0))
    _sym(a, "ankle", (-20 * depth, 0.0, 0.0))
    a["spine1"] = (rng.normal(30, 10), 0.0, 0.0)
    a["spine2"] = (rng.normal(15, 8), 0.0, 0.0)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_shoulder"] = (0.0, sign * rng.normal(-70, 15), sign * rng.normal(-40, 15))
        a[f"{side}_elbow"] = (0.0, sign * rng.normal(-50, 20), 0.0)
    return a, "crouching"


def _reaching(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = _standing(rng)
    side, sign = ("left", 1.0) if rng.random() < 0.5 else ("right", -1.0)
    a[f"{side}_shoulder"] = (rng.normal(0, 20), sign * rng.uniform(-110, -20), sign * rng.uniform(-20, 60))
    a[f"{side}_elbow"] = (rng.normal(0, 20), sign * -abs(rng.normal(10, 10)), 0.0)
    a["spine1"] = (rng.normal(10, 8), sign * rng.normal(10, 8), 0.0)
    return a, "reaching"


def _bending(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = _standing(rng)
    a["spine1"] = (rng.uniform(30, 50), rng.normal(0, 8), 0.0)
    a["spine2"] = (rng.uniform(15, 35), 0.0, 0.0)
    a["spine3"] = (rng.uniform(10, 25), 0.0, 0.0)
    _sym(a, "hip", (rng.uniform(-70, -30), 0.0, 5.0))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_shoulder"] = (0.0, sign * rng.normal(-60, 15), sign * rng.normal(-60, 10))
    return a, "bending"


def _kneeling(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = _standing(rng)
    side = "left" if rng.random() < 0.5 else "right"
    other = "right" if side == "left" else "left"
    a[f"{side}_hip"] = (rng.normal(-90, 8), 0.0, 0.0)
    a[f"{side}_knee"] = (rng.normal(90, 8), 0.0, 0.0)
    a[f"{other}_hip"] = (rng.normal(10, 5), 0.0, 0.0)
    a[f"{other}_knee"] = (rng.normal(95, 8), 0.0, 0.0)
    return a, "kneeling"


def _arms_overhead(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = _standing(rng)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_shoulder"] = (rng.normal(0, 20), sign * rng.normal(-10, 15), sign * rng.uniform(60, 95))
        a[f"{side}_elbow"] = (0.0, sign * -abs(rng.normal(15, 25)), 0.0)
    return a, "arms overhead"


def _kicking(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = _standing(rng)
    side, sign = ("left", 1.0) if rng.random() < 0.5 else ("right", -1.0)
    a[f"{side}_hip"] = (rng.uniform(-110, -50), 0.0, sign * rng.uniform(0, 25))
    a[f"{side}_knee"] = (rng.uniform(0, 60), 0.0, 0.0)
    for s, sg in (("left", 1.0), ("right", -1.0)):
        a[f"{s}_shoulder"] = (0.0, sg * rng.normal(0, 30), sg * rng.uniform(-30, 20))
    a["spine1"] = (rng.normal(-10, 8), 0.0, 0.0)
    return a, "kicking"


def _throwing(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = _walking(rng)
    side, sign = ("left", 1.0) if rng.random() < 0.5 else ("right", -1.0)
    a[f"{side}_shoulder"] = (
        sign * rng.uniform(-60, 0),
        sign * rng.uniform(-20, 40),
        sign * rng.uniform(50, 95),
    )
    a[f"{side}_elbow"] = (0.0, sign * rng.uniform(-120, -40), 0.0)
    a["spine1"] = (0.0, sign * rng.uniform(-30, 30), rng.normal(0, 8))
    return a, "throwing"


def _lunge(rng: np.random.Generator) -> tuple[Angles, str]:
    a: Angles = {}
    _arms_down(a, rng, spread=20)
    front, back = ("left", "right") if rng.random() < 0.5 else ("right", "left")
    a[f"{front}_hip"] = (rng.normal(-80, 10), 0.0, 0.0)
    a[f"{front}_knee"] = (rng.normal(85, 10), 0.0, 0.0)
    a[f"{back}_hip"] = (rng.normal(25, 5), 0.0, 0.0)
    a[f"{back}_knee"] = (rng.normal(60, 15), 0.0, 0.0)
    return a, "lunge"


def _jumping_jack(rng: np.random.Generator) -> tuple[Angles, str]:
    a: Angles = {}
    openness = rng.uniform(0, 1)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_shoulder"] = (0.0, 0.0, sign * (-70 + 160 * openness))
        a[f"{side}_hip"] = (0.0, 0.0, sign * 35 * openness)
    return a, "jumping jack"


def _balance(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = _arms_overhead(rng) if rng.random() < 0.5 else _standing(rng)
    side, sign = ("left", 1.0) if rng.random() < 0.5 else ("right", -1.0)
    a[f"{side}_hip"] = (rng.uniform(-60, 10), sign * rng.uniform(0, 40), sign * rng.uniform(10, 50))
    a[f"{side}_knee"] = (rng.uniform(60, 140), 0.0, 0.0)
    return a, "one-leg balance"


def _lying(rng: np.random.Generator) -> tuple[Angles, str]:
    a, _ = [_standing, _jumping_jack, _arms_overhead, _kneeling][int(rng.integers(4))](rng)
    return a, "lying"


FAMILIES: dict[str, tuple[Family, float]] = {
    # name: (generator, weight). Everyday poses dominate, as in COCO; harder ones are frequent
    # enough to be learnt.
    "standing": (_standing, 0.14),
    "walking": (_walking, 0.14),
    "running": (lambda rng: _walking(rng, run=True), 0.07),
    "sitting": (_sitting, 0.09),
    "crouching": (_crouching, 0.07),
    "reaching": (_reaching, 0.09),
    "bending": (_bending, 0.06),
    "kneeling": (_kneeling, 0.05),
    "arms overhead": (_arms_overhead, 0.07),
    "kicking": (_kicking, 0.05),
    "throwing": (_throwing, 0.05),
    "lunge": (_lunge, 0.04),
    "jumping jack": (_jumping_jack, 0.03),
    "one-leg balance": (_balance, 0.03),
    "lying": (_lying, 0.02),
}


Root = tuple[float, float, float]
RootFamily = Callable[[np.random.Generator], tuple[Angles, str, Root | None, str]]


def _root(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> Root:
    return (float(x), float(y), float(z))


def _arms_up(a: Angles, rng: np.random.Generator, spread: float = 0.0) -> None:
    """Both arms straight over the head (``spread`` degrees apart from vertical, each side)."""
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_shoulder"] = (
            rng.normal(0, 8),
            sign * rng.normal(0, 10),
            sign * (95 - spread + rng.normal(0, 5)),
        )
        a[f"{side}_elbow"] = (0.0, sign * -abs(rng.normal(5, 6)), 0.0)


# Every family below returns (joint angles, family, root Euler (x, y, z) in degrees or None for
# upright, occluder). The root turns the body frame before the heading: Rx(+90) lies face down,
# Rx(-90) on the back, Rz(180) stands on the head facing the same way. Occluder: "" none, "chair",
# "wheelchair" or "stool" (a seat drawn under the person and in front of the legs).


def _handstand(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _arms_up(a, rng)
    kind = rng.integers(3)  # legs together, split front-back, straddle
    if kind == 0:
        _sym(a, "hip", (rng.normal(5, 8), 0.0, rng.normal(3, 3)))
    elif kind == 1:
        front, back = ("left", "right") if rng.random() < 0.5 else ("right", "left")
        a[f"{front}_hip"] = (rng.uniform(-110, -50), 0.0, 0.0)
        a[f"{back}_hip"] = (rng.uniform(10, 30), 0.0, 0.0)
        a[f"{back}_knee"] = (rng.uniform(0, 90), 0.0, 0.0)
    else:
        _sym(a, "hip", (rng.normal(-10, 8), 0.0, rng.uniform(25, 50)))
    a["spine1"] = (rng.uniform(-25, 5), 0.0, 0.0)  # back arched
    a["neck"] = (rng.uniform(-40, 0), 0.0, 0.0)  # looking at the floor
    return a, "handstand", _root(rng.normal(0, 12), 0.0, 180 + rng.normal(0, 12)), ""


def _cartwheel(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _arms_up(a, rng, spread=rng.uniform(10, 40))
    _sym(a, "hip", (rng.normal(0, 8), 0.0, rng.uniform(30, 50)))
    _sym(a, "knee", (abs(rng.normal(5, 8)), 0.0, 0.0))
    turn = rng.uniform(45, 180) * rng.choice([-1.0, 1.0])  # on one hand, on both, coming down
    return a, "cartwheel", _root(rng.normal(0, 10), 0.0, turn), ""


def _walkover(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _arms_up(a, rng, spread=rng.uniform(0, 20))
    lead, trail = ("left", "right") if rng.random() < 0.5 else ("right", "left")
    a[f"{lead}_hip"] = (rng.uniform(-125, -70), 0.0, 0.0)
    a[f"{trail}_hip"] = (rng.uniform(15, 30), 0.0, 0.0)
    a[f"{trail}_knee"] = (rng.uniform(0, 60), 0.0, 0.0)
    a["spine1"] = (rng.uniform(-25, -10), 0.0, 0.0)  # bridge: spine extended
    a["spine2"] = (rng.uniform(-15, -5), 0.0, 0.0)
    a["spine3"] = (rng.uniform(-10, 0), 0.0, 0.0)
    a["neck"] = (rng.uniform(-40, -10), 0.0, 0.0)
    back = rng.random() < 0.5  # backwalkover (face up) or front walkover
    pitch = -rng.uniform(100, 200) if back else rng.uniform(100, 200)
    return a, "walkover", _root(pitch, rng.normal(0, 10), rng.normal(0, 10)), ""


def _flip(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    shape = rng.integers(3)  # tuck, pike, layout
    if shape == 0:
        _sym(a, "hip", (rng.uniform(-125, -100), 0.0, rng.normal(8, 5)))
        _sym(a, "knee", (rng.uniform(110, 145), 0.0, 0.0))
        for side, sign in (("left", 1.0), ("right", -1.0)):  # hands on the shins
            a[f"{side}_shoulder"] = (0.0, sign * rng.normal(-80, 10), sign * rng.normal(-40, 10))
            a[f"{side}_elbow"] = (0.0, sign * rng.uniform(-110, -60), 0.0)
        a["spine1"] = (rng.uniform(30, 50), 0.0, 0.0)
        a["spine2"] = (rng.uniform(15, 30), 0.0, 0.0)
    elif shape == 1:
        _sym(a, "hip", (rng.uniform(-125, -90), 0.0, rng.normal(4, 4)))
        for side, sign in (("left", 1.0), ("right", -1.0)):
            a[f"{side}_shoulder"] = (0.0, sign * rng.normal(-90, 15), sign * rng.normal(-50, 15))
        a["spine1"] = (rng.uniform(20, 45), 0.0, 0.0)
    else:
        _arms_up(a, rng, spread=rng.uniform(0, 60))
        a["spine1"] = (rng.uniform(-20, 5), 0.0, 0.0)
    name = ("tuck", "pike", "layout")[int(shape)]
    return a, f"flip ({name})", _root(rng.uniform(-180, 180), rng.normal(0, 15), rng.normal(0, 15)), ""


def _dive(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _arms_up(a, rng, spread=rng.uniform(0, 25))
    _sym(a, "hip", (rng.uniform(-30, 10), 0.0, rng.normal(3, 3)))
    a["spine1"] = (rng.uniform(-20, 10), 0.0, 0.0)
    # horizontal (a save, a dive into water or onto a base) to head first and down
    return a, "diving", _root(rng.uniform(60, 150), rng.normal(0, 10), rng.normal(0, 15)), ""


def _slide(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    lead, fold = ("left", "right") if rng.random() < 0.5 else ("right", "left")
    a[f"{lead}_hip"] = (rng.uniform(-70, -30), 0.0, 0.0)
    a[f"{lead}_knee"] = (rng.uniform(0, 30), 0.0, 0.0)
    a[f"{fold}_hip"] = (rng.uniform(-60, -20), 0.0, rng.uniform(0, 30) * (1 if fold == "left" else -1))
    a[f"{fold}_knee"] = (rng.uniform(80, 130), 0.0, 0.0)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_shoulder"] = (0.0, sign * rng.uniform(-60, 20), sign * rng.uniform(-30, 90))
    a["spine1"] = (rng.uniform(10, 40), 0.0, 0.0)  # torso raised off the ground
    return a, "sliding", _root(-rng.uniform(45, 80), rng.normal(0, 10), rng.normal(0, 10)), ""


def _plank(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):  # arms under the shoulders
        a[f"{side}_shoulder"] = (0.0, sign * rng.normal(-85, 8), sign * rng.normal(-15, 8))
        a[f"{side}_elbow"] = (
            0.0,
            sign * (-rng.uniform(0, 20) if rng.random() < 0.5 else -rng.uniform(70, 100)),
            0.0,
        )
    _sym(a, "ankle", (rng.uniform(15, 45), 0.0, 0.0))  # on the toes
    if rng.random() < 0.3:  # a side plank
        return a, "plank", _root(rng.normal(75, 8), 0.0, rng.uniform(60, 90) * rng.choice([-1.0, 1.0])), ""
    return a, "plank", _root(rng.normal(78, 6), 0.0, rng.normal(0, 5)), ""


def _lying_wide(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a, _ = [_standing, _jumping_jack, _arms_overhead, _kneeling, _balance][int(rng.integers(5))](rng)
    how = int(rng.integers(4))
    root = [(-90.0, 0.0, 0.0), (90.0, 0.0, 0.0), (0.0, 0.0, 90.0), (0.0, 0.0, -90.0)][how]
    return a, "lying", _root(root[0] + rng.normal(0, 8), rng.normal(0, 10), root[2] + rng.normal(0, 8)), ""


def _seated(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a, _ = _sitting(rng)
    seat = ["chair", "wheelchair", "stool"][int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
    if rng.random() < 0.4:  # legs crossed or stretched out
        a["left_knee"] = (rng.uniform(20, 90), 0.0, 0.0)
    if rng.random() < 0.4:  # arms on a table, a phone, a wheel
        for side, sign in (("left", 1.0), ("right", -1.0)):
            a[f"{side}_shoulder"] = (
                rng.normal(0, 10),
                sign * rng.uniform(-90, -30),
                sign * rng.uniform(-70, -20),
            )
            a[f"{side}_elbow"] = (0.0, sign * rng.uniform(-120, -30), 0.0)
    a["spine1"] = (rng.uniform(-10, 30), rng.normal(0, 8), 0.0)
    family = {"chair": "seated on a chair", "wheelchair": "in a wheelchair", "stool": "seated on a stool"}[
        seat
    ]
    return a, family, None, seat


def _ground_sitting(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _arms_down(a, rng, spread=20)
    kind = rng.integers(3)  # legs out, cross-legged, knees up
    if kind == 0:
        _sym(a, "hip", (rng.uniform(-100, -80), rng.normal(0, 8), rng.uniform(0, 20)))
        _sym(a, "knee", (rng.uniform(0, 20), 0.0, 0.0))
    elif kind == 1:
        _sym(a, "hip", (rng.uniform(-100, -70), rng.uniform(-45, -25), rng.uniform(35, 50)))
        _sym(a, "knee", (rng.uniform(120, 145), 0.0, 0.0))
    else:
        _sym(a, "hip", (rng.uniform(-125, -105), 0.0, rng.uniform(0, 20)))
        _sym(a, "knee", (rng.uniform(100, 140), 0.0, 0.0))
        for side, sign in (("left", 1.0), ("right", -1.0)):  # arms round the knees
            a[f"{side}_shoulder"] = (0.0, sign * rng.normal(-70, 10), sign * rng.normal(-50, 10))
            a[f"{side}_elbow"] = (0.0, sign * rng.uniform(-90, -40), 0.0)
    a["spine1"] = (rng.uniform(0, 35), 0.0, 0.0)
    lean = rng.uniform(-30, 10)  # leaning back on the hands, or forward
    return a, "seated on the ground", _root(lean, 0.0, rng.normal(0, 5)), ""


def _deep_squat(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _sym(a, "hip", (rng.uniform(-125, -110), rng.normal(0, 8), rng.uniform(15, 40)))
    _sym(a, "knee", (rng.uniform(130, 145), 0.0, 0.0))
    _sym(a, "ankle", (rng.uniform(-25, -15), 0.0, 0.0))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_shoulder"] = (0.0, sign * rng.uniform(-100, -40), sign * rng.uniform(-60, 0))
        a[f"{side}_elbow"] = (0.0, sign * rng.uniform(-100, 0), 0.0)
    a["spine1"] = (rng.uniform(10, 45), 0.0, 0.0)
    return a, "deep squat", _root(rng.uniform(0, 25), 0.0, rng.normal(0, 5)), ""


def _kneeling_both(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _arms_down(a, rng, spread=25)
    if rng.random() < 0.5:  # upright on both knees
        _sym(a, "hip", (rng.normal(0, 10), 0.0, rng.normal(5, 4)))
        _sym(a, "knee", (rng.normal(90, 8), 0.0, 0.0))
        return a, "kneeling", None, ""
    _sym(a, "hip", (rng.uniform(-60, -20), 0.0, rng.normal(8, 5)))  # sitting back on the heels
    _sym(a, "knee", (rng.uniform(135, 145), 0.0, 0.0))
    a["spine1"] = (rng.uniform(0, 45), 0.0, 0.0)
    return a, "kneeling", _root(rng.uniform(0, 40), 0.0, 0.0), ""


def _splits(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a: Angles = {}
    _arms_up(a, rng, spread=rng.uniform(0, 90)) if rng.random() < 0.5 else _arms_down(a, rng, spread=25)
    if rng.random() < 0.5:  # front split, as far as clinical limits allow (about 155 degrees)
        front, back = ("left", "right") if rng.random() < 0.5 else ("right", "left")
        a[f"{front}_hip"] = (rng.uniform(-125, -100), 0.0, 0.0)
        a[f"{back}_hip"] = (rng.uniform(20, 30), 0.0, 0.0)
        root = _root(rng.uniform(-20, 20), 0.0, 0.0)
    else:  # side split / straddle
        _sym(a, "hip", (rng.uniform(-20, 0), rng.uniform(-20, 0), rng.uniform(40, 50)))
        root = _root(rng.uniform(0, 60), 0.0, 0.0)  # torso upright or folded forward
    return a, "splits", root, ""


def _high_kick(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
    a, _ = _standing(rng)
    side, sign = ("left", 1.0) if rng.random() < 0.5 else ("right", -1.0)
    if rng.random() < 0.5:  # front kick
        a[f"{side}_hip"] = (rng.uniform(-125, -90), 0.0, sign * rng.uniform(0, 20))
        a[f"{side}_knee"] = (rng.uniform(0, 40), 0.0, 0.0)
        root = _root(rng.uniform(-30, -5), 0.0, 0.0)  # leaning back
    else:  # side kick: the body tips away from the kicking leg
        a[f"{side}_hip"] = (rng.uniform(-40, 0), 0.0, sign * rng.uniform(35, 50))
        a[f"{side}_knee"] = (rng.uniform(0, 30), 0.0, 0.0)
        root = _root(0.0, 0.0, -sign * rng.uniform(20, 60))
    for s, sg in (("left", 1.0), ("right", -1.0)):
        a[f"{s}_shoulder"] = (0.0, sg * rng.uniform(-90, 0), sg * rng.uniform(-60, 30))
        a[f"{s}_elbow"] = (0.0, sg * rng.uniform(-130, -20), 0.0)
    return a, "high kick", root, ""


def _lift(family: Family, name: str) -> RootFamily:
    """An everyday family in the root-aware form: upright, no occluder."""

    def sample(rng: np.random.Generator) -> tuple[Angles, str, Root | None, str]:
        angles, _ = family(rng)
        return angles, name, None, ""

    return sample


#: The poses that sports and everyday datasets hold beyond the everyday mixture (LSPet, MPII's
#: sports, COCO's seated people): inverted, horizontal, seated with a seat in front of the legs,
#: on the ground, deep squats, kneeling, splits and high kicks.
HARD_FAMILIES: dict[str, tuple[RootFamily, float]] = {
    "handstand": (_handstand, 0.08),
    "cartwheel": (_cartwheel, 0.08),
    "walkover": (_walkover, 0.07),
    "flip": (_flip, 0.08),
    "diving": (_dive, 0.07),
    "sliding": (_slide, 0.05),
    "plank": (_plank, 0.06),
    "lying": (_lying_wide, 0.08),
    "seated": (_seated, 0.12),
    "seated on the ground": (_ground_sitting, 0.08),
    "deep squat": (_deep_squat, 0.06),
    "kneeling": (_kneeling_both, 0.05),
    "splits": (_splits, 0.05),
    "high kick": (_high_kick, 0.04),
    "lunge": (_lift(_lunge, "lunge"), 0.015),
    "throwing": (_lift(_throwing, "throwing"), 0.015),
    "kicking": (_lift(_kicking, "kicking"), 0.01),
}

Distribution = Literal["everyday", "wide", "hard"]
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)
#: Share of the hard families in the "wide" mixture (the rest is the everyday one).
WIDE_HARD_SHARE = 0.45


@dataclass(frozen=True)
class PoseSample:
    axis_angle: NDArray[np.float64]  # (N, 24, 3); index 0 the global orientation, world frame
    family: list[str]
    occluder: list[str] = field(default_factory=list)  # "" or the seat drawn with each person


def sample_poses(
    count: int, rng: np.random.Generator, noise_deg: float = 6.0, distribution: Distribution = "everyday"
) -> PoseSample:
    """``count`` poses, Gaussian joint noise, clipped to LIMITS_DEG.

    ``everyday``: the original mixture (FAMILIES), upright or lying, as every earlier set was made
    (the same seed gives the same poses); ``hard``: HARD_FAMILIES only, with their own root
    orientations (inverted, horizontal, tumbling); ``wide``: both, WIDE_HARD_SHARE of them hard."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown pose distribution {distribution!r}; choose from {list(DISTRIBUTIONS)}")
    if distribution != "everyday":
        return _sample_rooted(count, rng, noise_deg, distribution)
    names = list(FAMILIES)
    weights = np.array([FAMILIES[n][1] for n in names])
    picks = rng.choice(len(names), size=count, p=weights / weights.sum())
    euler = np.zeros((count, 24, 3))
    families: list[str] = []
    for i, pick in enumerate(picks):
        angles, family = FAMILIES[names[pick]][0](rng)
        for joint, value in angles.items():
            euler[i, SMPL24_NAMES.index(joint)] = value
        families.append(family)
    euler[:, 1:] += rng.normal(0.0, noise_deg, size=(count, 23, 3))
    euler[:, 1:] = np.clip(euler[:, 1:], LIMITS_DEG[1:, :, 0], LIMITS_DEG[1:, :, 1])
    rot = euler_to_rotmat(euler, _ARM_MASK)
    rot[:, 0] = _global_orientation(rng, families)
    return PoseSample(axis_angle=rotmat_to_axis_angle_np(rot), family=families, occluder=[""] * count)


def _sample_rooted(count: int, rng: np.random.Generator, noise_deg: float, distribution: str) -> PoseSample:
    table: list[tuple[RootFamily, float]] = [(f, w) for f, w in HARD_FAMILIES.values()]
    if distribution == "wide":
        hard_total = sum(w for _, w in table)
        every_total = sum(w for _, w in FAMILIES.values())
        table = [(f, w * WIDE_HARD_SHARE / hard_total) for f, w in table] + [
            (_lift(f, name), w * (1 - WIDE_HARD_SHARE) / every_total) for name, (f, w) in FAMILIES.items()
        ]
    weights = np.array([w for _, w in table])
    picks = rng.choice(len(table), size=count, p=weights / weights.sum())
    euler = np.zeros((count, 24, 3))
    families: list[str] = []
    occluders: list[str] = []
    roots: list[Root | None] = []
    for i, pick in enumerate(picks):
        angles, family, root, occluder = table[pick][0](rng)
        for joint, value in angles.items():
            euler[i, SMPL24_NAMES.index(joint)] = value
        families.append(family)
        occluders.append(occluder)
        roots.append(root)
    euler[:, 1:] += rng.normal(0.0, noise_deg, size=(count, 23, 3))
    euler[:, 1:] = np.clip(euler[:, 1:], LIMITS_DEG[1:, :, 0], LIMITS_DEG[1:, :, 1])
    rot = euler_to_rotmat(euler, _ARM_MASK)
    yaw = euler_to_rotmat(np.stack([np.zeros(count), rng.uniform(-180, 180, count), np.zeros(count)], -1))
    lean = euler_to_rotmat(np.stack([rng.normal(0, 6, count), np.zeros(count), rng.normal(0, 6, count)], -1))
    for i, root in enumerate(roots):
        if root is None:
            rot[i, 0] = yaw[i] @ lean[i]
        else:  # rooted families: Rz Rx Ry order, so a large turn about z (cartwheel) stays a turn
            rot[i, 0] = yaw[i] @ euler_to_rotmat(np.array(root), arm=True)
    return PoseSample(axis_angle=rotmat_to_axis_angle_np(rot), family=families, occluder=occluders)


def _global_orientation(rng: np.random.Generator, families: list[str]) -> NDArray[np.float64]:
    """World-frame root rotations: upright with a random heading, or lying on back, front or side."""
    count = len(families)
    yaw = euler_to_rotmat(np.stack([np.zeros(count), rng.uniform(-180, 180, count), np.zeros(count)], -1))
    lean = euler_to_rotmat(np.stack([rng.normal(0, 4, count), np.zeros(count), rng.normal(0, 4, count)], -1))
    rot: NDArray[np.float64] = yaw @ lean
    for i, family in enumerate(families):
        if family == "lying":
            how = int(rng.integers(3))  # back, front, side
            down = euler_to_rotmat(np.array([[-90.0, 0, 0], [90.0, 0, 0], [0, 0, 90.0]])[how])
            rot[i] = yaw[i] @ down
    return rot


def within_limits(axis_angle: NDArray[np.floating], tolerance_deg: float = 1e-3) -> NDArray[np.bool_]:
    """``(N, 23)``: whether each non-root joint's rotation lies inside LIMITS_DEG."""
    import torch

    from fitting.geometry.rotations import axis_angle_to_rotmat

    rot = axis_angle_to_rotmat(torch.as_tensor(np.asarray(axis_angle, dtype=np.float64))).numpy()
    euler = rotmat_to_euler(rot[:, 1:], _ARM_MASK[1:])
    low, high = LIMITS_DEG[1:, :, 0] - tolerance_deg, LIMITS_DEG[1:, :, 1] + tolerance_deg
    inside = ((euler >= low) & (euler <= high)).all(axis=-1)
    return np.asarray(inside, dtype=bool)
