"""Fits scored against known 3D truth: a fit with the true parameters scores ~0 mm, a wrong pose
scores more, ids without truth are counted apart, and a bad truth file is a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.truth import FitToScore, TruthFileError, load_truth, score_fits


def _pose(rng: np.random.Generator, spread: float) -> np.ndarray:
    axis_angle = rng.normal(0.0, spread, size=(24, 3))
    axis_angle[0] = [np.pi, 0.0, 0.0]  # HMR's camera-aligned frame
    return axis_angle_to_rotmat(torch.as_tensor(axis_angle, dtype=torch.float32)).numpy().astype(np.float64)


def test_true_parameters_score_zero_and_a_wrong_pose_does_not(tmp_path: Path) -> None:
    body = BodyModel.open_body()
    rng = np.random.default_rng(3)
    poses = [_pose(rng, 0.3) for _ in range(3)]
    betas = [rng.normal(0.0, 1.0, size=10) for _ in range(3)]
    with torch.no_grad():
        joints = body(
            torch.as_tensor(np.stack(betas), dtype=torch.float32),
            torch.as_tensor(np.stack(poses), dtype=torch.float32),
        ).joints_spin49.numpy()
    np.savez(tmp_path / "truth.npz", annotation_id=np.array([10, 11, 12]), joints_spin49=joints)
    truth = load_truth(tmp_path / "truth.npz")
    assert sorted(truth.joints) == ["10", "11", "12"]
    assert truth.keypoints is None  # the file has no labels: nothing to check them against

    exact = score_fits([FitToScore(str(10 + i), poses[i], betas[i], "kept") for i in range(3)], truth, body)
    assert exact.people == 3
    assert exact.unmatched == []
    assert exact.pa_mpjpe < 0.5
    assert exact.mpjpe < 0.5

    wrong = [
        FitToScore("10", _pose(rng, 0.6), betas[0], "rejected"),
        FitToScore("11", poses[1], betas[1], "kept"),
        FitToScore("99", poses[2], betas[2]),
    ]
    scored = score_fits(wrong, truth, body)
    assert scored.people == 2
    assert scored.unmatched == ["99"]
    assert scored.per_person["10"] > 20.0
    assert scored.per_person["11"] < 0.5
    assert scored.by_group["rejected"][0] == 1
    assert scored.by_group["rejected"][1] > 20.0
    assert scored.by_group["kept"] == (1, pytest.approx(scored.per_person["11"]))


def test_a_bad_truth_file_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(TruthFileError, match="no such file"):
        load_truth(tmp_path / "absent.npz")
    np.savez(tmp_path / "ids.npz", annotation_id=np.array([1]))
    with pytest.raises(TruthFileError, match="needs the arrays annotation_id and joints_spin49"):
        load_truth(tmp_path / "ids.npz")
    np.savez(tmp_path / "shape.npz", annotation_id=np.array([1, 2]), joints_spin49=np.zeros((2, 24, 3)))
    with pytest.raises(TruthFileError, match=r"must be \(N, 49, 3\)"):
        load_truth(tmp_path / "shape.npz")
    (tmp_path / "text.npz").write_text("not numpy")
    with pytest.raises(TruthFileError, match=r"not a readable \.npz file"):
        load_truth(tmp_path / "text.npz")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(TruthFileError, match="a single array"):
        load_truth(tmp_path / "one.npy")


def test_the_truth_of_another_set_is_refused(tmp_path: Path) -> None:
    """Synthetic sets all number their people 1..N: the ids match, the labels do not."""
    body = BodyModel.open_body()
    rng = np.random.default_rng(5)
    count = 40
    poses = [_pose(rng, 0.3) for _ in range(count)]
    with torch.no_grad():
        joints = body(
            torch.zeros(count, 10), torch.as_tensor(np.stack(poses), dtype=torch.float32)
        ).joints_spin49
    labels = np.concatenate([rng.uniform(0, 500, size=(count, 17, 2)), np.full((count, 17, 1), 2.0)], axis=2)
    np.savez(tmp_path / "truth.npz", annotation_id=np.arange(1, count + 1), joints_spin49=joints.numpy(),
             keypoints_coco17=labels)  # fmt: skip
    truth = load_truth(tmp_path / "truth.npz")
    assert truth.keypoints is not None

    def fits(people_labels: np.ndarray) -> list[FitToScore]:
        return [
            FitToScore(str(i + 1), poses[i], np.zeros(10), keypoints=people_labels[i]) for i in range(count)
        ]

    mine = labels.copy()
    mine[:, :, :2] += 0.5  # the same labels, rounded differently
    mine[0, :, 2] = 0  # a person with no labelled point is not compared
    scored = score_fits(fits(mine), truth, body)
    assert scored.labels_checked == count - 1
    assert scored.pa_mpjpe < 0.5
    one_off = mine.copy()
    one_off[3, :, :2] += 40.0  # one person moved: within the share allowed (a relabelled person)
    assert score_fits(fits(one_off), truth, body).people == count
    other = labels.copy()
    other[:, :, :2] = rng.uniform(0, 500, size=(count, 17, 2))  # another set's people under the same ids
    with pytest.raises(TruthFileError, match=r"39 of 40 people's labelled keypoints|40 of 40 people's"):
        score_fits(fits(other), truth, body)
