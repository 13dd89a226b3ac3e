import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.joints import SMPL24_NAMES
from fitting.synth.poses import (
    _ARM_MASK,
    FAMILIES,
    LIMITS_DEG,
    euler_to_rotmat,
    rotmat_to_axis_angle_np,
    rotmat_to_euler,
    sample_poses,
    within_limits,
)


def test_sampled_poses_respect_the_joint_limits() -> None:
    poses = sample_poses(600, np.random.default_rng(0))
    assert poses.axis_angle.shape == (600, 24, 3)
    assert within_limits(poses.axis_angle).all()
    assert set(poses.family) == set(FAMILIES)  # every family is drawn


def test_the_limit_check_catches_a_pose_outside() -> None:
    euler = np.zeros((1, 24, 3))
    knee = SMPL24_NAMES.index("left_knee")
    euler[0, knee, 0] = -20.0  # a knee bent forwards: outside (0, 145)
    rot = euler_to_rotmat(euler, _ARM_MASK)
    inside = within_limits(rotmat_to_axis_angle_np(rot))
    assert not inside[0, knee - 1]
    assert inside[0, [j - 1 for j in range(1, 24) if j != knee]].all()


def test_euler_round_trip_in_both_orders() -> None:
    rng = np.random.default_rng(1)
    euler = rng.uniform(-85, 85, size=(200, 3))
    for arm in (False, True):
        assert np.allclose(rotmat_to_euler(euler_to_rotmat(euler, arm), arm), euler, atol=1e-9)


def test_right_side_limits_mirror_the_left() -> None:
    left, right = SMPL24_NAMES.index("left_shoulder"), SMPL24_NAMES.index("right_shoulder")
    assert np.array_equal(LIMITS_DEG[right, 0], LIMITS_DEG[left, 0])
    assert np.array_equal(LIMITS_DEG[right, 1], -LIMITS_DEG[left, 1, ::-1])
    assert np.array_equal(LIMITS_DEG[right, 2], -LIMITS_DEG[left, 2, ::-1])


def test_deterministic_for_a_seed() -> None:
    a = sample_poses(50, np.random.default_rng(7))
    b = sample_poses(50, np.random.default_rng(7))
    assert np.array_equal(a.axis_angle, b.axis_angle)
    assert a.family == b.family


@pytest.mark.parametrize("family", ["standing", "sitting", "lying"])
def test_families_look_like_their_names(family: str) -> None:
    rng = np.random.default_rng(3)
    poses = sample_poses(300, rng)
    chosen = [i for i, f in enumerate(poses.family) if f == family][:5]
    assert chosen
    body = BodyModel.open_body()
    aa = torch.as_tensor(poses.axis_angle[chosen], dtype=torch.float32)
    joints = body(torch.zeros(len(chosen), 10), axis_angle_to_rotmat(aa)).joints_smpl24
    head, pelvis = joints[:, SMPL24_NAMES.index("head")], joints[:, 0]
    knee, hip = joints[:, SMPL24_NAMES.index("left_knee")], joints[:, SMPL24_NAMES.index("left_hip")]
    up = (head - pelvis)[:, 1]
    if family == "lying":
        assert (up.abs() < 0.35).all()  # the body is horizontal
    else:
        assert (up > 0.4).all()  # upright
    if family == "sitting":
        assert ((hip - knee)[:, 1].abs() < 0.2).all()  # thighs roughly horizontal


def _up_axis(axis_angle: np.ndarray) -> np.ndarray:
    """The world-frame direction of each body's up axis (y of the root)."""
    root = axis_angle_to_rotmat(torch.as_tensor(axis_angle[:, 0])).numpy()
    up: np.ndarray = root[:, :, 1]
    return up


def test_hard_and_wide_poses_respect_the_limits_and_draw_every_family() -> None:
    hard = sample_poses(1500, np.random.default_rng(0), distribution="hard")
    assert within_limits(hard.axis_angle).all()
    drawn = {f.split(" (")[0] for f in hard.family}
    expected = {"handstand", "cartwheel", "walkover", "flip", "diving", "sliding", "plank", "lying",
                "seated on a chair", "in a wheelchair", "seated on a stool", "seated on the ground",
                "deep squat", "kneeling", "splits", "high kick", "lunge", "throwing", "kicking"}  # fmt: skip
    assert expected <= drawn
    assert set(hard.occluder) == {"", "chair", "wheelchair", "stool"}
    for family, occluder in zip(hard.family, hard.occluder, strict=True):
        assert bool(occluder) == (family in ("seated on a chair", "in a wheelchair", "seated on a stool"))
    wide = sample_poses(1500, np.random.default_rng(1), distribution="wide")
    assert within_limits(wide.axis_angle).all()
    assert set(FAMILIES) <= set(wide.family)
    assert "handstand" in wide.family


def test_hard_poses_are_often_inverted_or_horizontal_and_everyday_ones_never_inverted() -> None:
    hard = _up_axis(sample_poses(1000, np.random.default_rng(2), distribution="hard").axis_angle)[:, 1]
    everyday = _up_axis(sample_poses(1000, np.random.default_rng(2)).axis_angle)[:, 1]
    assert (everyday < -0.5).mean() == 0.0  # the original mixture is never upside down
    assert (hard < -0.5).mean() > 0.15  # handstands, flips, walkovers, cartwheels
    assert (np.abs(hard) < 0.5).mean() > 0.2  # lying, diving, planks, sliding


def test_handstands_stand_on_their_hands() -> None:
    poses = sample_poses(400, np.random.default_rng(5), distribution="hard")
    chosen = [i for i, f in enumerate(poses.family) if f == "handstand"][:6]
    assert chosen
    body = BodyModel.open_body()
    aa = torch.as_tensor(poses.axis_angle[chosen], dtype=torch.float32)
    joints = body(torch.zeros(len(chosen), 10), axis_angle_to_rotmat(aa)).joints_smpl24
    wrists = joints[:, [SMPL24_NAMES.index("left_wrist"), SMPL24_NAMES.index("right_wrist")], 1].mean(dim=1)
    ankles = joints[:, [SMPL24_NAMES.index("left_ankle"), SMPL24_NAMES.index("right_ankle")], 1].mean(dim=1)
    assert (wrists < joints[:, 0, 1]).all()
    assert (ankles > joints[:, 0, 1]).all()


def test_the_everyday_distribution_is_the_default_and_unknown_ones_are_refused() -> None:
    a = sample_poses(40, np.random.default_rng(9))
    b = sample_poses(40, np.random.default_rng(9), distribution="everyday")
    assert np.array_equal(a.axis_angle, b.axis_angle)
    assert a.occluder == [""] * 40
    with pytest.raises(ValueError, match="unknown pose distribution 'sporty'"):
        sample_poses(1, np.random.default_rng(0), distribution="sporty")  # type: ignore[arg-type]
