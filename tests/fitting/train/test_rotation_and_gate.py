"""Training's in-plane rotation (the picture, the labels and the 3D truth turn together) and the
bootstrap's gate (ship only a regressor that is better on the hard set and no worse on the rest)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.synth.poses import sample_poses
from fitting.train.bootstrap import comparison_table, ensure_set, gate
from fitting.train.data import rotate_sample
from fitting.train.evaluate import LevelResult


def test_a_rotated_sample_turns_its_truth_with_its_picture() -> None:
    size = 41
    centre = (size - 1) / 2
    crop = np.zeros((size, size, 3))
    crop[8, 30] = 1.0  # one bright pixel with a keypoint on it (x 30, y 8)
    keypoints = np.array([[30.0, 8.0, 1.0], [centre, centre, 1.0]])
    body = BodyModel.open_body()
    aa = sample_poses(1, np.random.default_rng(1)).axis_angle[0]
    pose = axis_angle_to_rotmat(torch.as_tensor(aa)).numpy()
    joints = body(torch.zeros(1, 10), torch.as_tensor(pose[None], dtype=torch.float32)).joints_smpl24[0]
    joints = joints.double().numpy()
    for degrees in (90.0, -90.0, 180.0, 37.0):
        turned, moved, labels, new_pose, new_joints = rotate_sample(
            crop, keypoints, keypoints.copy(), pose, joints, degrees
        )
        row, col = np.unravel_index(np.argmax(turned[..., 0]), turned.shape[:2])
        assert abs(moved[0, 0] - col) <= 1.0
        assert abs(moved[0, 1] - row) <= 1.0
        np.testing.assert_allclose(moved[1, :2], [centre, centre], atol=1e-9)  # the centre stays
        np.testing.assert_allclose(labels, moved)
        # counter-clockwise as seen (y down): (x, y) -> (c x + s y, -s x + c y) about the centre
        c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
        turn = np.array([[c, s], [-s, c]])
        np.testing.assert_allclose(moved[0, :2] - centre, turn @ (keypoints[0, :2] - centre), atol=1e-6)
        assert new_pose is not None
        assert new_joints is not None
        np.testing.assert_allclose(new_pose[1:], pose[1:])
        np.testing.assert_allclose(new_joints[:, :2], joints[:, :2] @ turn.T, atol=1e-9)
        # The turned global orientation poses the body as the turned joints (about the pelvis).
        posed = body(torch.zeros(1, 10), torch.as_tensor(new_pose[None], dtype=torch.float32))
        relative = posed.joints_smpl24[0].double().numpy()
        np.testing.assert_allclose(relative - relative[0], new_joints - new_joints[0], atol=1e-4)


def _levels(*full_box_and_cropped: float) -> list[LevelResult]:
    return [
        LevelResult(level, 500, pa + 40, pa, 150.0, 9.0)
        for level, pa in zip((1, 7), full_box_and_cropped, strict=True)
    ]


def test_the_gate_ships_only_a_better_regressor() -> None:
    before = {"everyday": _levels(120.0, 80.0), "hard": _levels(170.0, 140.0)}
    better = {"everyday": _levels(118.0, 79.5), "hard": _levels(150.0, 110.0)}
    ship, why = gate(before, better)
    assert ship
    assert why == "shipped: hard 140.0 -> 110.0 mm, everyday 80.0 -> 79.5 mm (full-box PA-MPJPE)"
    worse_everyday = {"everyday": _levels(118.0, 81.0), "hard": _levels(150.0, 110.0)}
    assert gate(before, worse_everyday) == (
        False, "not shipped: worse on the everyday set; hard 140.0 -> 110.0 mm, everyday 80.0 -> 81.0 mm "
        "(full-box PA-MPJPE)",
    )  # fmt: skip
    assert not gate(before, {"everyday": _levels(100.0, 70.0), "hard": _levels(170.0, 140.0)})[0]
    table = comparison_table(before, better)
    assert "| hard | 7 | 500 | 140.0 | 110.0 |" in table


def test_a_set_of_another_distribution_is_not_reused(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "meta.json").write_text(
        json.dumps({"people": 10, "config": {"seed": 2}})
    )  # made before distributions
    ensure_set(folder, 10, 2, "everyday")  # reused: no distribution recorded means everyday
    with pytest.raises(SystemExit, match="holds another set \\(10 people, seed 2, everyday\\)"):
        ensure_set(folder, 10, 2, "hard")


def test_a_wide_training_set_is_mixed_with_everyday_people(tmp_path: Path) -> None:
    from fitting.train.bootstrap import EVERYDAY_MIX_SEED, BootstrapConfig, training_sets

    wide = BootstrapConfig(work=tmp_path, export=tmp_path / "out.pt", people=300, everyday_people=200)
    assert training_sets(wide) == [
        (tmp_path / "train", 300, 1, "wide"),
        (tmp_path / "train-everyday", 200, EVERYDAY_MIX_SEED, "everyday"),
    ]
    assert EVERYDAY_MIX_SEED not in {1, 2, 3}  # neither the training seed nor a held-out one
    everyday = BootstrapConfig(work=tmp_path, export=tmp_path / "out.pt", distribution="everyday")
    assert training_sets(everyday) == [(tmp_path / "train", 5000, 1, "everyday")]
    unmixed = BootstrapConfig(work=tmp_path, export=tmp_path / "out.pt", everyday_people=0)
    assert len(training_sets(unmixed)) == 1
