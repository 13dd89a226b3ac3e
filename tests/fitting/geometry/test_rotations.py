import math

import pytest
import torch

from fitting.geometry.rotations import (
    axis_angle_to_rotmat,
    quaternion_to_axis_angle,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_quaternion,
    rotmat_to_rot6d,
)


def random_axis_angle(n: int, seed: int, max_angle: float = math.pi) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * max_angle
    return axis * angle


def test_rodrigues_matches_matrix_exponential() -> None:
    aa = random_axis_angle(64, seed=0)
    k = torch.zeros(64, 3, 3, dtype=torch.float64)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -aa[:, 2], aa[:, 1], -aa[:, 0]
    k = k - k.transpose(1, 2)
    assert torch.allclose(axis_angle_to_rotmat(aa), torch.linalg.matrix_exp(k), atol=1e-12)


def test_rotation_matrices_are_proper() -> None:
    r = axis_angle_to_rotmat(random_axis_angle(100, seed=1))
    eye = torch.eye(3, dtype=torch.float64).expand_as(r)
    assert torch.allclose(r @ r.transpose(1, 2), eye, atol=1e-12)
    assert torch.allclose(torch.det(r), torch.ones(100, dtype=torch.float64), atol=1e-12)


def test_axis_angle_round_trip_including_near_pi() -> None:
    aa = random_axis_angle(500, seed=2, max_angle=math.pi - 1e-6)
    back = rotmat_to_axis_angle(axis_angle_to_rotmat(aa))
    assert torch.allclose(back, aa, atol=1e-9)


def test_rotation_by_pi_is_recovered_up_to_sign() -> None:
    aa = torch.tensor([[math.pi, 0.0, 0.0], [0.0, 0.0, math.pi]], dtype=torch.float64)
    back = rotmat_to_axis_angle(axis_angle_to_rotmat(aa))
    assert torch.allclose(back.abs(), aa.abs(), atol=1e-9)


def test_identity_has_no_nan_in_values_or_gradients() -> None:
    aa = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    r = axis_angle_to_rotmat(aa)
    assert torch.equal(r.detach(), torch.eye(3, dtype=torch.float64).expand(4, 3, 3))
    r.sum().backward()
    assert aa.grad is not None
    assert torch.isfinite(aa.grad).all()
    back = rotmat_to_axis_angle(torch.eye(3, dtype=torch.float64, requires_grad=True)[None])
    assert torch.equal(back.detach(), torch.zeros(1, 3, dtype=torch.float64))


def test_rodrigues_gradcheck_away_from_and_at_zero() -> None:
    aa = random_axis_angle(3, seed=3).requires_grad_(True)
    assert torch.autograd.gradcheck(axis_angle_to_rotmat, (aa,))
    tiny = (torch.randn(2, 3, dtype=torch.float64) * 1e-6).requires_grad_(True)
    assert torch.autograd.gradcheck(axis_angle_to_rotmat, (tiny,))


def test_6d_round_trip_and_layout() -> None:
    r = axis_angle_to_rotmat(random_axis_angle(50, seed=4))
    six = rotmat_to_rot6d(r)
    # SPIN's layout: the 3x2 block of the first two columns, row by row.
    assert torch.equal(six[:, :2], r[:, 0, :2])
    assert torch.equal(six[:, 2:4], r[:, 1, :2])
    assert torch.allclose(rot6d_to_rotmat(six), r, atol=1e-12)


def test_6d_gram_schmidt_makes_any_input_a_rotation() -> None:
    six = torch.randn(20, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    r = rot6d_to_rotmat(six)
    assert torch.allclose(
        r @ r.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(20, 3, 3), atol=1e-12
    )
    assert torch.allclose(torch.det(r), torch.ones(20, dtype=torch.float64), atol=1e-12)
    assert torch.autograd.gradcheck(rot6d_to_rotmat, (six[:3].clone().requires_grad_(True),))


def test_quaternion_has_non_negative_w_and_round_trips() -> None:
    aa = random_axis_angle(100, seed=6)
    q = rotmat_to_quaternion(axis_angle_to_rotmat(aa))
    assert (q[:, 0] >= 0).all()
    assert torch.allclose(q.norm(dim=-1), torch.ones(100, dtype=torch.float64))
    assert torch.allclose(quaternion_to_axis_angle(q), aa, atol=1e-9)


def test_batch_shapes_are_kept_and_bad_shapes_named() -> None:
    aa = torch.zeros(2, 24, 3)
    assert axis_angle_to_rotmat(aa).shape == (2, 24, 3, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\), got \(2, 4\)"):
        axis_angle_to_rotmat(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 6\)"):
        rot6d_to_rotmat(torch.zeros(5))
