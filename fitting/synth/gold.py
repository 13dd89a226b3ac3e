"""Gold fits for crowd quality control: synthetic people whose right fit is known.

A gold fit is stored and drawn like any fit, ``(pose_rotmat (24, 3, 3), betas (10,), cam_weak (3,))``,
and carries the answer a careful worker gives: the truth of a synthetic person ("accept"), or
the truth made wrong on purpose in one way a worker can see and name ("reject", see
WRONG_KINDS).

Conventions (the ones the pipeline and the renderer use, so a gold fit looks like a real one):

- **Body.** ``BodyModel(betas, pose_rotmat)`` without ``transl``: neither root-centred nor
  translated. The global orientation (index 0) turns the body about its pelvis joint, which
  stays where the shape puts it; ``fitting.pipeline`` projects these joints and
  ``webapp.fits.renders`` draws these vertices.
- **Camera.** ``cam_weak = [s, tx, ty]`` maps a body point ``(X, Y, Z)`` (x right, y down) to the
  normalised crop, ``x_n = s X + tx``, ``y_n = s Y + ty`` (``fitting.geometry.camera``), and
  ``u = cx + 100 * scale * x_n`` in image pixels for the crop box ``(cx, cy, scale)``.
- **Crop box.** EFT's box as the web app makes it (``webapp.datasets.selectors.person_box``):
  from the annotation's ``bbox`` when it has one, else around the labelled keypoints; read
  here through ``fitting.datasets.coco.iter_coco`` and ``SourcePerson.box``, the same code the
  import stores those fields with.
- **Pose frames.** ``truth.npz`` holds ``pose_axis_angle (N, 24, 3)`` with the global orientation
  in the camera frame (``fitting.synth.generate``); joints 1-23 are local rotations in the body
  frame of ``fitting.synth.poses`` (x the person's left, y up, z forward), where the joint
  limits ``LIMITS_DEG`` are written.

The right fit (``truth_view``) is the truth as the crop shows it: a person off the optical axis
is seen obliquely, so its global orientation is turned by the rotation from the optical axis to
the ray through the crop's centre (``crop_view_rotation``; what a regressor fed the crop
predicts; joints 1-23 are the truth's own). Its weak camera is fitted by linear least squares:
the truth's vertices, placed by its translation and projected by its perspective camera, give
the pixels the weak camera must reproduce. On a synthetic set of 40 people this lays the
truth's joints on their pixels 1.3% of the crop's side away on average (2.1% without the
turn); what is left is perspective a weak camera cannot show (a limb reaching towards a
wide-angle camera). Wrong fits keep the truth's betas and camera, so the wrong body stands
where the person is.

A gold set must be drawn with the body model that made the synthetic people (the open body,
``BodyModel.open_body``): betas mean another shape in another model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.body.model import NUM_BETAS, BodyModel
from fitting.datasets.coco import iter_coco
from fitting.geometry.camera import CropBox
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.joints import SMPL24_NAMES
from fitting.synth.generate import project
from fitting.synth.poses import (
    ARM_JOINTS,
    LIMITS_DEG,
    euler_to_rotmat,
    rotmat_to_axis_angle_np,
    rotmat_to_euler,
)

Answer = Literal["accept", "reject"]

#: Kind of a wrong gold fit -> the reason a worker should reject it, in their words.
WRONG_KINDS: dict[str, str] = {
    "forearm": "A forearm bends backwards at the elbow, further than an elbow can bend.",
    "shin": "A shin bends forwards at the knee, further than a knee can bend.",
    "legs_swapped": "The legs are swapped: each leg is posed the way the other leg is in the picture.",
    "turned": "The body is turned to face another way than the person in the picture.",
    "arm_behind": "An arm is pushed behind the back, further than a shoulder can turn.",
}
TRUTH_KIND = "truth"
TRUTH_REASON = "The body lies on the person: the same pose, facing the same way."

#: How far past a joint limit (degrees) a broken limb is bent: tens of degrees, so that it is
#: plain in a picture, and never near the limit, where a real pose could be.
BEYOND_LIMIT_DEG = (55.0, 85.0)
#: The turn of "turned" (degrees, either way): at least 70 so the body plainly faces elsewhere,
#: at most 150 so it is not a near-mirror image that looks right from the front.
TURN_DEG = (70.0, 150.0)
#: A wrong fit moves at least one SMPL-24 joint this far (metres) from the truth's, or another
#: wrong is drawn (legs swapped on a symmetric stance changes almost nothing). 15 cm is about
#: a hand's length, some 7% of the crop's side for a whole standing person (the box rule's
#: crop spans 1.2 times the body).
MIN_CHANGE_M = 0.15
#: Draws of one kind tried before moving on to the next kind.
_TRIES_PER_KIND = 3

# Mirror of the body frame in its sagittal plane (x is the person's left).
_MIRROR = np.diag([-1.0, 1.0, 1.0])
_LEG_PARTS = ("hip", "knee", "ankle", "foot")


def _joint(name: str) -> int:
    return SMPL24_NAMES.index(name)


# (part, Euler axis, which limit the left side is pushed past). The right side mirrors the
# left: its y and z limits are the left's negated, so the other limit is passed there.
_BREAKS: dict[str, tuple[str, int, Literal["min", "max"]]] = {
    "forearm": ("elbow", 1, "max"),  # +y on the left elbow straightens it, past 0 bends it back
    "shin": ("knee", 0, "min"),  # +x bends the knee, below 0 the shin swings forwards
    "arm_behind": ("shoulder", 1, "max"),  # +y on the left shoulder swings the arm back
}
# Middle angle of the arm order (x, the upper arm's roll) kept this small on a shoulder pushed
# back: with a large roll the swing would go up or down instead of behind.
_ARM_BEHIND_ROLL_DEG = 30.0


@dataclass(frozen=True)
class GoldFit:
    """One gold item: a fit of a synthetic person and the answer a careful worker gives.

    ``pose_rotmat (24, 3, 3)`` (index 0 the global orientation, camera frame), ``betas (10,)``
    and ``cam_weak (3,)`` are float64 and drawn like a ``fitting.results.PersonFit``.
    ``kind`` is ``"truth"`` or a key of WRONG_KINDS; ``reason`` says why in a worker's words.
    """

    annotation_id: int
    pose_rotmat: NDArray[np.float64]
    betas: NDArray[np.float64]
    cam_weak: NDArray[np.float64]
    answer: Answer
    kind: str
    reason: str
    camera_error: float = 0.0  # the truth's, as TruthView.camera_error

    def __post_init__(self) -> None:
        for name, shape in (("pose_rotmat", (24, 3, 3)), ("betas", (NUM_BETAS,)), ("cam_weak", (3,))):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"GoldFit.{name}: expected {shape}, got {np.shape(getattr(self, name))}")
        if self.kind != TRUTH_KIND and self.kind not in WRONG_KINDS:
            raise ValueError(
                f"GoldFit.kind: {self.kind!r} is neither {TRUTH_KIND!r} nor one of {list(WRONG_KINDS)}"
            )
        expected = "accept" if self.kind == TRUTH_KIND else "reject"
        if self.answer != expected:
            raise ValueError(
                f"GoldFit.answer: a {self.kind!r} fit is answered {expected!r}, got {self.answer!r}"
            )


# --- poses ----------------------------------------------------------------------------------
def _check_pose(pose_axis_angle: NDArray[np.floating]) -> NDArray[np.float64]:
    pose = np.asarray(pose_axis_angle, dtype=np.float64)
    if pose.shape != (24, 3):
        raise ValueError(f"pose_axis_angle: expected shape (24, 3), got {pose.shape}")
    return pose


def pose_to_rotmat(pose_axis_angle: NDArray[np.floating]) -> NDArray[np.float64]:
    """Axis-angle ``(24, 3)`` to rotation matrices ``(24, 3, 3)`` (float64)."""
    pose = _check_pose(pose_axis_angle)
    rot: NDArray[np.float64] = axis_angle_to_rotmat(torch.as_tensor(pose)).numpy()
    return rot


def _break_limb(rot: NDArray[np.float64], kind: str, rng: np.random.Generator) -> None:
    part, axis, past = _BREAKS[kind]
    left = bool(rng.random() < 0.5)
    joint = _joint(f"{'left' if left else 'right'}_{part}")
    if not left and axis != 0:
        past = "min" if past == "max" else "max"
    arm = joint in ARM_JOINTS
    euler = rotmat_to_euler(rot[joint], arm)
    margin = rng.uniform(*BEYOND_LIMIT_DEG)
    low, high = LIMITS_DEG[joint, axis]
    euler[axis] = high + margin if past == "max" else low - margin
    if kind == "forearm":
        euler[0] = 0.0  # no twist at the elbow: the hinge bends straight back in the upper arm's frame
    elif kind == "arm_behind":
        euler[0] = float(np.clip(euler[0], -_ARM_BEHIND_ROLL_DEG, _ARM_BEHIND_ROLL_DEG))
    rot[joint] = euler_to_rotmat(euler, arm)


def swap_legs(rot: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(24, 3, 3)`` local rotations with each leg joint's rotation mirrored onto the other side.

    The mirror of a rotation ``R`` in the sagittal plane is ``M R M`` with ``M = diag(-1, 1, 1)``
    (Euler angles about y and z negated, as poses.py mirrors its limits), so a pose within the
    limits stays within them. Its own inverse: swapping twice gives the pose back.
    """
    out = np.array(rot, dtype=np.float64, copy=True)
    for part in _LEG_PARTS:
        left, right = _joint(f"left_{part}"), _joint(f"right_{part}")
        out[left] = _MIRROR @ rot[right] @ _MIRROR
        out[right] = _MIRROR @ rot[left] @ _MIRROR
    return out


def wrong_pose(
    pose_axis_angle: NDArray[np.floating], kind: str, rng: np.random.Generator
) -> NDArray[np.float64]:
    """The pose ``(24, 3)`` (axis-angle, global orientation in the camera frame) made wrong on purpose.

    - ``forearm``: one elbow (left or right at random) bent backwards 55-85 degrees past its limit.
    - ``shin``: one knee bent so the shin swings forwards 55-85 degrees past its limit.
    - ``arm_behind``: one shoulder swung back 55-85 degrees past its limit.
    - ``legs_swapped``: ``swap_legs`` (within the limits, but the wrong leg forward).
    - ``turned``: the global orientation turned 70-150 degrees (either way) about the body's own
      vertical axis (its y axis, in the camera frame ``R0 @ e_y``): ``R0 -> R0 @ Ry(angle)``.
      The body turns about its pelvis joint, which stays in place.

    Returns a new array; the input is not changed.
    """
    if kind not in WRONG_KINDS:
        raise ValueError(f"unknown wrong kind {kind!r}; expected one of {list(WRONG_KINDS)}")
    rot = pose_to_rotmat(pose_axis_angle)
    if kind in _BREAKS:
        _break_limb(rot, kind, rng)
    elif kind == "legs_swapped":
        rot = swap_legs(rot)
    else:  # turned
        angle = rng.uniform(*TURN_DEG) * (1.0 if rng.random() < 0.5 else -1.0)
        rot[0] = rot[0] @ euler_to_rotmat(np.array([0.0, angle, 0.0]))
    return rotmat_to_axis_angle_np(rot)


# --- camera ---------------------------------------------------------------------------------
def weak_camera(
    points_body: NDArray[np.floating], points_px: NDArray[np.floating], box: CropBox
) -> NDArray[np.float64]:
    """The weak camera ``[s, tx, ty]`` that best maps body points to their pixels in ``box``.

    ``points_body (N, 3)``: the body model's output without translation (as the renderer draws
    it); ``points_px (N, 2)``: where those points are in the image. Linear least squares of
    ``s X + tx = x_n`` and ``s Y + ty = y_n`` in the normalised crop of ``box``.
    """
    body = np.asarray(points_body, dtype=np.float64)
    px = np.asarray(points_px, dtype=np.float64)
    if body.ndim != 2 or body.shape[1] != 3 or len(body) < 2:
        raise ValueError(f"points_body: expected shape (N >= 2, 3), got {body.shape}")
    if px.shape != (len(body), 2):
        raise ValueError(f"points_px: expected shape ({len(body)}, 2), got {px.shape}")
    target = (px - np.array([box.center_x, box.center_y])) / (100.0 * box.scale)
    count = len(body)
    design = np.zeros((2 * count, 3))
    design[:count, 0], design[:count, 1] = body[:, 0], 1.0
    design[count:, 0], design[count:, 2] = body[:, 1], 1.0
    solution, *_ = np.linalg.lstsq(design, np.concatenate([target[:, 0], target[:, 1]]), rcond=None)
    cam: NDArray[np.float64] = np.asarray(solution, dtype=np.float64)
    if not cam[0] > 0:
        raise ValueError(f"weak camera: the least-squares scale is {cam[0]:.4g}, not positive")
    return cam


def weak_project(
    points_body: NDArray[np.floating], cam_weak: NDArray[np.floating], box: CropBox
) -> NDArray[np.float64]:
    """Body points ``(N, 3)`` to image pixels ``(N, 2)`` through ``cam_weak`` and ``box``."""
    s, tx, ty = (float(v) for v in np.asarray(cam_weak, dtype=np.float64).reshape(3))
    p = np.asarray(points_body, dtype=np.float64)
    normalised = np.stack([s * p[:, 0] + tx, s * p[:, 1] + ty], axis=1)
    return np.asarray(
        np.array([box.center_x, box.center_y]) + 100.0 * box.scale * normalised, dtype=np.float64
    )


def crop_view_rotation(box: CropBox, focal: float, principal: tuple[float, float]) -> NDArray[np.float64]:
    """``(3, 3)``: the rotation taking the camera's optical axis onto the ray through the box centre.

    A body off the optical axis is seen obliquely; the crop shows it as a camera looking down
    that ray would, so the global orientation the crop shows is ``R.T @ R0`` (what a regressor
    fed the crop predicts). Rodrigues' formula for the shortest turn from ``e_z`` to the ray.
    """
    ray = np.array([(box.center_x - principal[0]) / focal, (box.center_y - principal[1]) / focal, 1.0])
    ray /= np.linalg.norm(ray)
    axis = np.cross([0.0, 0.0, 1.0], ray)  # |axis| = sin of the angle; the ray's z > 0, so no flip
    skew = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    rot: NDArray[np.float64] = np.eye(3) + skew + skew @ skew / (1.0 + ray[2])
    return rot


@dataclass(frozen=True)
class TruthView:
    """The truth of one synthetic person as the crop shows it, drawable like a fit.

    ``pose_rotmat (24, 3, 3)``: the truth with its global orientation turned to the crop's view
    (``crop_view_rotation``; joints 1-23 untouched); ``cam_weak (3,)``; ``camera_error``: the
    largest distance between the truth's SMPL-24 joints in the image (perspective, as rendered)
    and the same joints through ``cam_weak``, as a share of the crop's side.
    """

    pose_rotmat: NDArray[np.float64]
    cam_weak: NDArray[np.float64]
    camera_error: float


def _device(body: BodyModel) -> tuple[torch.dtype, torch.device]:
    buffer = body.j_regressor_extra
    return buffer.dtype, buffer.device


def truth_view(
    body: BodyModel,
    betas: NDArray[np.floating],
    pose_axis_angle: NDArray[np.floating],
    transl: NDArray[np.floating],
    focal: float,
    principal: tuple[float, float],
    box: CropBox,
    image_size: tuple[int, int] | None = None,
) -> TruthView:
    """The right fit of a synthetic person: its pose seen from the crop, and the weak camera
    (``weak_camera`` over every vertex) that lays it on the person's pixels in ``box``.

    ``betas (10,)``, ``pose_axis_angle (24, 3)`` (global orientation in the camera frame),
    ``transl (3,)``, ``focal`` and ``principal`` are a row of ``truth.npz``; ``image_size``
    (width, height) limits ``camera_error`` to the joints inside the image.
    """
    shape = np.asarray(betas, dtype=np.float64)
    if shape.shape != (NUM_BETAS,):
        raise ValueError(f"betas: expected shape ({NUM_BETAS},), got {shape.shape}")
    seen = pose_to_rotmat(pose_axis_angle)
    truth = seen.copy()
    seen[0] = crop_view_rotation(box, focal, principal).T @ truth[0]
    dtype, device = _device(body)
    with torch.no_grad():
        out = body(
            torch.as_tensor(np.stack([shape, shape]), dtype=dtype, device=device),
            torch.as_tensor(np.stack([truth, seen]), dtype=dtype, device=device),
        )
    vertices = out.vertices.double().cpu().numpy()
    joints = out.joints_smpl24.double().cpu().numpy()
    offset = np.asarray(transl, dtype=np.float64).reshape(1, 3)
    cam = weak_camera(vertices[1], project(vertices[0] + offset, focal, principal), box)
    joints_px = project(joints[0] + offset, focal, principal)
    inside = np.ones(len(joints_px), dtype=bool)
    if image_size is not None:
        width, height = image_size
        inside = (
            (joints_px[:, 0] >= 0)
            & (joints_px[:, 0] < width)
            & (joints_px[:, 1] >= 0)
            & (joints_px[:, 1] < height)
        )
        if not inside.any():
            inside[:] = True
    miss = np.linalg.norm(weak_project(joints[1], cam, box) - joints_px, axis=1)[inside]
    return TruthView(pose_rotmat=seen, cam_weak=cam, camera_error=float(miss.max() / box.side))


# --- gold sets ------------------------------------------------------------------------------
def gold_plan(count: int, rng: np.random.Generator, share_right: float = 0.4) -> list[str]:
    """The kind of each of ``count`` gold items: ``round(share_right * count)`` truths at seeded
    places, the others wrong, going round WRONG_KINDS in a seeded order from a seeded start."""
    if not 0.0 <= share_right <= 1.0:
        raise ValueError(f"share_right must lie in [0, 1], got {share_right}")
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    right = set(rng.permutation(count)[: round(share_right * count)].tolist())
    kinds = [str(k) for k in rng.permutation(list(WRONG_KINDS))]
    plan: list[str] = []
    wrong = 0
    for i in range(count):
        if i in right:
            plan.append(TRUTH_KIND)
        else:
            plan.append(kinds[wrong % len(kinds)])
            wrong += 1
    return plan


def joint_change(
    body: BodyModel, betas: NDArray[np.floating], pose_a: NDArray[np.floating], pose_b: NDArray[np.floating]
) -> float:
    """The largest distance (metres) an SMPL-24 joint moves between two poses ``(24, 3)`` of one body."""
    shape = np.asarray(betas, dtype=np.float64)
    dtype, device = _device(body)
    with torch.no_grad():
        out = body(
            torch.as_tensor(np.stack([shape, shape]), dtype=dtype, device=device),
            torch.as_tensor(
                np.stack([pose_to_rotmat(pose_a), pose_to_rotmat(pose_b)]), dtype=dtype, device=device
            ),
        )
    joints = out.joints_smpl24.double().cpu().numpy()
    return float(np.linalg.norm(joints[0] - joints[1], axis=-1).max())


def _visible_wrong(
    body: BodyModel,
    betas: NDArray[np.float64],
    pose: NDArray[np.float64],
    kind: str,
    rng: np.random.Generator,
) -> tuple[str, NDArray[np.float64]]:
    """A wrong pose of ``kind`` that moves a joint MIN_CHANGE_M or more, else one of the next kinds."""
    order = list(WRONG_KINDS)
    start = order.index(kind)
    for k in order[start:] + order[:start]:
        for _ in range(1 if k == "legs_swapped" else _TRIES_PER_KIND):  # the swap draws nothing
            wrong = wrong_pose(pose, k, rng)
            if joint_change(body, betas, pose, wrong) >= MIN_CHANGE_M:
                return k, wrong
    # Not reached in practice: a turn of 70 degrees or more moves each shoulder about 20 cm.
    raise ValueError(f"no wrong kind moves a joint {MIN_CHANGE_M} m from this pose")


def gold_fits(
    folder: Path,
    rng_seed: int,
    share_right: float = 0.4,
    body: BodyModel | None = None,
    max_camera_error: float | None = None,
) -> list[GoldFit]:
    """Gold fits of the synthetic set in ``folder`` (``annotations.json`` and ``truth.npz`` of
    ``python -m fitting synth``): one per person, in the order of ``truth.npz``.

    ``round(share_right * N)`` of them are the truth (``truth_view``, "accept"); the others are
    wrong (``wrong_pose`` of the truth view, "reject"), their kinds going round WRONG_KINDS,
    each moving some joint MIN_CHANGE_M or more (else the next kind is drawn). Every fit of a
    person has the truth's betas and weak camera, in the crop box the web app uses for it.
    People whose truth the weak camera cannot lay on them closer than ``max_camera_error``
    (share of the crop side; None keeps everyone) get no gold fit: a wide-angle view of a body
    reaching towards the camera is not a weak-perspective picture (0.05 kept 35 of a 40-person
    set, 0.08 all but one). ``body`` is the model that made the set (default: the open body, float64). The
    same folder and seed give the same list.

    Gold sets are best made whole: ``SynthConfig(truncation_rate=0.0, max_people_per_image=1)``.
    A person's box is their visible silhouette's, so a person cut by the frame or hidden by
    another is judged from a crop that shows a part of them only.
    """
    folder = Path(folder)
    body = body if body is not None else BodyModel.open_body(dtype=torch.float64)
    with np.load(folder / "truth.npz") as data:
        truth = {key: np.asarray(data[key]) for key in data.files}
    people = {int(p.annotation_id): p for p in iter_coco(folder / "annotations.json")}
    ids = [int(i) for i in truth["annotation_id"]]
    missing = sorted(set(ids) - set(people))
    if missing:
        raise ValueError(f"{folder}: truth.npz has annotations missing from annotations.json: {missing[:10]}")
    rng = np.random.default_rng(rng_seed)
    plan = gold_plan(len(ids), rng, share_right)
    fits: list[GoldFit] = []
    for i, (annotation_id, kind) in enumerate(zip(ids, plan, strict=True)):
        person = people[annotation_id]
        betas = np.asarray(truth["betas"][i], dtype=np.float64)
        principal = (float(truth["principal"][i][0]), float(truth["principal"][i][1]))
        view = truth_view(
            body, betas, truth["pose_axis_angle"][i], truth["transl"][i], float(truth["focal"][i]),
            principal, person.box(), person.image_size,
        )  # fmt: skip
        if max_camera_error is not None and view.camera_error > max_camera_error:
            continue
        answer: Answer = "accept"
        reason = TRUTH_REASON
        rot = view.pose_rotmat
        if kind != TRUTH_KIND:
            kind, wrong = _visible_wrong(body, betas, rotmat_to_axis_angle_np(rot), kind, rng)
            answer, reason, rot = "reject", WRONG_KINDS[kind], pose_to_rotmat(wrong)
        fits.append(
            GoldFit(annotation_id, rot, betas, view.cam_weak, answer, kind, reason, view.camera_error)
        )
    return fits
