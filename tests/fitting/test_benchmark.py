"""Projected joints and truncation boxes of a published benchmark entry."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from fitting.benchmark import fitted_gt24_px, truncation_boxes
from fitting.body.model import BodyModel
from fitting.geometry.camera import CropBox
from fitting.geometry.truncation import TRUNCATION_LEVELS


def test_projection_follows_the_eft_camera_convention() -> None:
    body = BodyModel.open_body(dtype=torch.float64)
    pose = np.tile(np.eye(3), (1, 24, 1, 1))
    betas = np.zeros((1, 10))
    cam = np.array([[0.9, 0.05, -0.1]])
    box = CropBox(center_x=300.0, center_y=200.0, scale=1.5)
    points = fitted_gt24_px(body, pose, betas, cam, [box])
    assert points.shape == (1, 24, 2)
    joints = (
        body(torch.zeros(1, 10, dtype=torch.float64), torch.as_tensor(pose)).joints_spin49[0, 25:].numpy()
    )
    expected_u = 300.0 + 100.0 * 1.5 * (0.9 * joints[:, 0] + 0.05)
    expected_v = 200.0 + 100.0 * 1.5 * (0.9 * joints[:, 1] - 0.1)
    np.testing.assert_allclose(points[0, :, 0], expected_u, atol=1e-6)
    np.testing.assert_allclose(points[0, :, 1], expected_v, atol=1e-6)


def test_eight_growing_boxes_from_the_face_to_the_body() -> None:
    body = BodyModel.open_body(dtype=torch.float64)
    pose = np.tile(np.eye(3), (1, 24, 1, 1))
    points = fitted_gt24_px(
        body, pose, np.zeros((1, 10)), np.array([[1.0, 0.0, 0.0]]), [CropBox(100.0, 100.0, 1.0)]
    )[0]
    boxes = truncation_boxes(points)
    assert [b["level"] for b in boxes] == list(range(8)) == list(range(len(TRUNCATION_LEVELS)))
    scales = [b["bbox_scale"] for b in boxes]
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(scales))
    assert scales[0] < 0.5 * scales[-1]  # the face is much smaller than the body
    # The full-body box holds every projected joint.
    full = boxes[-1]
    half = 100.0 * full["bbox_scale"]
    assert np.all(np.abs(points - np.asarray(full["bbox_center"])) <= half + 1e-6)


def test_many_fits_each_projected_into_its_own_box() -> None:
    from fitting.geometry.camera import normalized_to_image, weak_perspective_project
    from fitting.geometry.rotations import axis_angle_to_rotmat

    body = BodyModel.open_body(dtype=torch.float64)
    rng = np.random.default_rng(9)
    pose = axis_angle_to_rotmat(torch.as_tensor(rng.normal(0, 0.4, (5, 24, 3)))).numpy()
    betas = rng.normal(0, 1, (5, 10))
    cams = np.column_stack([rng.uniform(0.6, 1.2, 5), rng.normal(0, 0.1, (5, 2))])
    boxes = [CropBox(100.0 + 50 * i, 80.0 + 30 * i, 0.5 + 0.4 * i) for i in range(5)]
    points = fitted_gt24_px(body, pose, betas, cams, boxes)
    for i, box in enumerate(boxes):
        joints = body(torch.as_tensor(betas[i : i + 1]), torch.as_tensor(pose[i : i + 1])).joints_spin49[
            :, 25:
        ]
        expected = normalized_to_image(
            weak_perspective_project(joints, torch.as_tensor(cams[i : i + 1]))[0], box
        )
        np.testing.assert_allclose(points[i], expected.detach().numpy(), atol=1e-6)
    assert np.ptp(points[:, 0, 0]) > 50  # the boxes differ: each fit met its own
