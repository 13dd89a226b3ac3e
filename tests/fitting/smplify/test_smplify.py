"""SMPLify: fits keypoints from a perturbed start, each person as if alone, records its prior."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.config import SmplifyConfig
from fitting.eft.core import EftTarget
from fitting.geometry.camera import CropBox, weak_to_spin_translation
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.joints import GT24_OFFSET
from fitting.smplify.core import Initial, Smplify, gmof, project_crop_px
from fitting.smplify.prior import PosePrior
from fitting.synth.poses import sample_poses

COUNT = 3


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.open_body()


@pytest.fixture(scope="module")
def problem(body: BodyModel) -> tuple[list[EftTarget], Initial]:
    """Keypoints projected from known poses; the start is those poses with noise on every joint."""
    poses = torch.as_tensor(sample_poses(COUNT, np.random.default_rng(3)).axis_angle, dtype=torch.float32)
    rot = axis_angle_to_rotmat(poses)
    rot[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ rot[:, 0]  # upright in the camera frame
    cam_weak = torch.tensor([[0.9, 0.02, -0.05]]).repeat(COUNT, 1)
    with torch.no_grad():
        joints = body(torch.zeros(COUNT, 10), rot).joints_spin49
        px = project_crop_px(joints, weak_to_spin_translation(cam_weak), 5000.0)
    targets = []
    for i in range(COUNT):
        keypoints = torch.zeros(49, 3)
        keypoints[GT24_OFFSET:, :2] = px[i, GT24_OFFSET:] / 112.0 - 1.0
        keypoints[GT24_OFFSET:, 2] = 1.0
        targets.append(EftTarget(torch.zeros(3, 8, 8), keypoints, CropBox(100.0, 100.0, 1.0)))
    noisy = poses + 0.15 * torch.randn(poses.shape, generator=torch.Generator().manual_seed(0))
    start_rot = axis_angle_to_rotmat(noisy)
    start_rot[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ start_rot[:, 0]
    return targets, Initial(start_rot, torch.zeros(COUNT, 10), cam_weak * torch.tensor([1.05, 1.0, 1.0]))


def test_data_term_fits_the_keypoints(body: BodyModel, problem: tuple[list[EftTarget], Initial]) -> None:
    targets, start = problem
    before = Smplify(body, None, SmplifyConfig(iterations=0, priors=False)).fit(targets, start)
    after = Smplify(body, None, SmplifyConfig(iterations=40, priors=False, multistage=False)).fit(
        targets, start
    )
    for b, a in zip(before, after, strict=True):
        assert b.iterations == 0
        assert a.iterations == 80
        assert a.mean_error_px < 0.3 * b.mean_error_px
        assert a.loss_after < a.loss_before
        assert a.prior == "none"
        assert a.config["variant"] == "D"


def test_each_person_is_fitted_as_if_alone(body: BodyModel, problem: tuple[list[EftTarget], Initial]) -> None:
    targets, start = problem
    fitter = Smplify(body, PosePrior.shipped(), SmplifyConfig(iterations=10))
    together = fitter.fit(targets, start)
    alone = fitter.fit(targets[1:2], Initial(start.pose_rotmat[1:2], start.betas[1:2], start.cam_weak[1:2]))
    torch.testing.assert_close(together[1].pose_rotmat, alone[0].pose_rotmat, atol=1e-4, rtol=0)
    torch.testing.assert_close(together[1].betas, alone[0].betas, atol=1e-4, rtol=0)
    assert together[1].prior.startswith("pose_prior_gmm8.npz")
    assert together[1].config["variant"] == "M+D+P"
    assert together[1].iterations == 20


def test_priors_need_a_prior_and_gmof_is_bounded(body: BodyModel) -> None:
    with pytest.raises(ValueError, match="needs a pose prior"):
        Smplify(body, None, SmplifyConfig())
    residual = torch.tensor([0.0, 10.0, 100.0, 1e4])
    robust = gmof(residual, 100.0)
    assert robust[0] == 0
    assert bool((robust[1:] > robust[:-1]).all())
    assert float(robust.max()) < 100.0**2
