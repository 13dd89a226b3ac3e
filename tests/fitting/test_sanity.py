"""The sanity rules: the paper's, the exporter's and the plausible one, with a code per verdict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.joints import SMPL24_NAMES
from fitting.sanity import CODES, PLAUSIBLE, limit_violation, sanity_verdict, torso_crossing
from fitting.synth.poses import _ARM_MASK, euler_to_rotmat, sample_poses

J = {name: i for i, name in enumerate(SMPL24_NAMES)}


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.open_body()


def _judge(
    body: BodyModel, rot: np.ndarray, error_px: float = 4.0, size_px: float = 300.0
) -> tuple[bool, str, str]:
    pose = torch.as_tensor(rot, dtype=torch.float32)
    joints = body(torch.zeros(1, 10), pose[None]).joints_smpl24[0]
    verdict = sanity_verdict(
        torch.zeros(10), 0.001, "plausible", pose_rotmat=pose, joints_smpl24=joints,
        mean_error_px=error_px, person_size_px=size_px,
    )  # fmt: skip
    assert verdict.code in CODES
    return verdict.ok, verdict.code, verdict.reason


def _pose(**euler: tuple[float, float, float]) -> np.ndarray:
    angles = np.zeros((24, 3))
    for name, value in euler.items():
        angles[J[name]] = value
    rot: np.ndarray = euler_to_rotmat(angles, _ARM_MASK)
    return rot


def test_plausible_poses_pass(body: BodyModel) -> None:
    for distribution in ("everyday", "hard"):
        poses = sample_poses(40, np.random.default_rng(4), distribution=distribution)  # type: ignore[arg-type]
        rot = axis_angle_to_rotmat(torch.as_tensor(poses.axis_angle)).numpy()
        verdicts = [_judge(body, r) for r in rot]
        passed = sum(ok for ok, _, _ in verdicts)
        assert passed >= 38, [v for v in verdicts if not v[0]]  # a tucked flip may touch the torso


def test_a_knee_bent_backwards_is_a_joint_limit(body: BodyModel) -> None:
    ok, code, reason = _judge(body, _pose(left_knee=(-40.0, 0.0, 0.0)))
    assert (ok, code) == (False, "joint_limits")
    assert reason == "left knee bent backwards by 40 degrees"
    ok, code, reason = _judge(body, _pose(right_elbow=(0.0, -35.0, 0.0)))  # right elbow: +y bends it
    assert (ok, code, reason) == (False, "joint_limits", "right elbow bent backwards by 35 degrees")
    assert "about y" in limit_violation(_pose(left_knee=(30.0, 60.0, 0.0)), PLAUSIBLE.limit_margin_deg)
    # within the margin: a few degrees past the clinical range is a fitting's normal noise
    assert limit_violation(_pose(left_knee=(-10.0, 0.0, 0.0)), PLAUSIBLE.limit_margin_deg) == ""


def test_a_forearm_through_the_belly_is_a_self_intersection(body: BodyModel) -> None:
    rest = body(torch.zeros(1, 10), torch.eye(3).repeat(1, 24, 1, 1)).joints_smpl24[0].double().numpy()
    assert torso_crossing(rest, PLAUSIBLE.penetration) == ""
    crossed = rest.copy()
    belly = (rest[J["spine1"]] + rest[J["spine2"]]) / 2
    crossed[J["left_elbow"]] = belly + np.array([0.25, 0.0, 0.0])
    crossed[J["left_wrist"]] = belly - np.array([0.05, 0.0, 0.0])  # the forearm ends inside the belly
    assert torso_crossing(crossed, PLAUSIBLE.penetration).startswith("left forearm through the torso")
    resting = rest.copy()
    resting[J["left_wrist"]] = belly + np.array([0.0, 0.0, 0.14])  # a hand resting on the belly
    resting[J["left_elbow"]] = belly + np.array([0.2, 0.0, 0.1])
    assert torso_crossing(resting, PLAUSIBLE.penetration) == ""


def test_the_2d_error_is_judged_for_the_persons_size(body: BodyModel) -> None:
    upright = _pose()
    assert _judge(body, upright, error_px=12.0, size_px=400.0)[0]  # 3% of a large person
    ok, code, reason = _judge(body, upright, error_px=12.0, size_px=120.0)  # 10% of a small one
    assert (ok, code) == (False, "relative_error")
    assert reason == "2D error 10.0% of the person's size > 5%"


def test_the_papers_checks_come_first_and_the_plausible_rule_needs_its_inputs() -> None:
    big = torch.zeros(10)
    big[0] = 6.0
    assert sanity_verdict(big, 0.0, "plausible").code == "betas"
    assert sanity_verdict(torch.zeros(10), 0.02, "plausible").code == "keypoint_loss"
    with pytest.raises(ValueError, match="the plausible rule needs"):
        sanity_verdict(torch.zeros(10), 0.0, "plausible")
    assert sanity_verdict(torch.zeros(10), 0.0, "paper").code == "ok"


def test_the_plausible_rule_catches_gold_fits_broken_on_purpose(body: BodyModel) -> None:
    from fitting.synth.gold import pose_to_rotmat, wrong_pose

    poses = sample_poses(30, np.random.default_rng(8))
    rng = np.random.default_rng(0)
    for kind in ("forearm", "shin", "arm_behind"):  # a joint 55-85 degrees past its limit
        verdicts = [
            _judge(body, pose_to_rotmat(wrong_pose(axis_angle, kind, rng))) for axis_angle in poses.axis_angle
        ]
        assert sum(code == "joint_limits" for _, code, _ in verdicts) >= 27, (kind, verdicts)
    assert all(_judge(body, pose_to_rotmat(axis_angle))[0] for axis_angle in poses.axis_angle)
