"""Rotation representations.

Conventions:
- rotation matrices act on column vectors: ``x' = R @ x``; shape ``(..., 3, 3)``.
- axis-angle ``(..., 3)``: unit axis times angle in radians (SMPL's pose vector format).
- 6D ``(..., 6)``: the first two columns of R, read row by row from the 3x2 block
  ``[R00, R01, R10, R11, R20, R21]``, as in SPIN and EFT; an official checkpoint's ``decpose``
  output decodes correctly only in this layout.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Below this squared angle the Taylor series replace sin(x)/x and (1-cos x)/x^2, so the
# identity rotation has finite values and gradients.
_SMALL_ANGLE_SQ = 1e-8


def _check_last(x: Tensor, size: int, name: str) -> None:
    if x.shape[-1] != size:
        raise ValueError(f"{name}: expected shape (..., {size}), got {tuple(x.shape)}")


def _check_mat(x: Tensor, name: str) -> None:
    if x.ndim < 2 or x.shape[-2:] != (3, 3):
        raise ValueError(f"{name}: expected shape (..., 3, 3), got {tuple(x.shape)}")


def rot6d_to_rotmat(rot6d: Tensor) -> Tensor:
    """6D representation ``(..., 6)`` to rotation matrices ``(..., 3, 3)`` by Gram-Schmidt."""
    _check_last(rot6d, 6, "rot6d_to_rotmat")
    block = rot6d.reshape(*rot6d.shape[:-1], 3, 2)
    a1, a2 = block[..., 0], block[..., 1]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def rotmat_to_rot6d(rotmat: Tensor) -> Tensor:
    """Rotation matrices ``(..., 3, 3)`` to the 6D representation ``(..., 6)``."""
    _check_mat(rotmat, "rotmat_to_rot6d")
    return rotmat[..., :2].reshape(*rotmat.shape[:-2], 6)


def _skew(v: Tensor) -> Tensor:
    zero = torch.zeros_like(v[..., 0])
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return torch.stack(
        [
            torch.stack([zero, -z, y], dim=-1),
            torch.stack([z, zero, -x], dim=-1),
            torch.stack([-y, x, zero], dim=-1),
        ],
        dim=-2,
    )


def axis_angle_to_rotmat(axis_angle: Tensor) -> Tensor:
    """Axis-angle ``(..., 3)`` to rotation matrices ``(..., 3, 3)`` (Rodrigues).

    ``R = I + a K + b K^2`` with ``K`` the cross-product matrix of the (unnormalised) vector,
    ``a = sin(t)/t`` and ``b = (1-cos t)/t^2``: no division by the angle, so no NaN at zero.
    """
    _check_last(axis_angle, 3, "axis_angle_to_rotmat")
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    # Evaluate the exact formulas only where they are safe, so their gradients stay finite too.
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = torch.sqrt(safe_sq)
    a = torch.where(small, 1.0 - theta_sq / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta_sq / 24.0, (1.0 - torch.cos(theta)) / safe_sq)
    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand(k.shape)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def rotmat_to_quaternion(rotmat: Tensor) -> Tensor:
    """Rotation matrices ``(..., 3, 3)`` to unit quaternions ``(..., 4)`` as (w, x, y, z), w >= 0.

    Shepperd's method: of the four algebraically equal formulas, each row uses the one whose
    divisor is largest, which is accurate for every angle, 180 degrees included.
    """
    _check_mat(rotmat, "rotmat_to_quaternion")
    m = rotmat
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates_sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    roots = torch.sqrt(torch.clamp(candidates_sq, min=1e-12))  # 2 * |q_i| for each component
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    s21, s02, s10 = m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1]
    r0, r1, r2, r3 = roots.unbind(-1)
    options = torch.stack(
        [
            torch.stack([r0 * r0, d21, d02, d10], dim=-1) / (2 * r0[..., None]),
            torch.stack([d21, r1 * r1, s10, s02], dim=-1) / (2 * r1[..., None]),
            torch.stack([d02, s10, r2 * r2, s21], dim=-1) / (2 * r2[..., None]),
            torch.stack([d10, s02, s21, r3 * r3], dim=-1) / (2 * r3[..., None]),
        ],
        dim=-2,
    )
    best = candidates_sq.argmax(dim=-1)
    quat = torch.gather(options, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    quat = torch.nn.functional.normalize(quat, dim=-1)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def quaternion_to_axis_angle(quat: Tensor) -> Tensor:
    """Unit quaternions ``(..., 4)`` (w, x, y, z) to axis-angle ``(..., 3)``, angle in [0, pi]."""
    _check_last(quat, 4, "quaternion_to_axis_angle")
    q = torch.where(quat[..., :1] < 0, -quat, quat)
    w, v = q[..., 0], q[..., 1:]
    sin_half_sq = (v * v).sum(-1)
    small = sin_half_sq < _SMALL_ANGLE_SQ
    sin_half = torch.sqrt(torch.where(small, torch.ones_like(sin_half_sq), sin_half_sq))
    angle = 2.0 * torch.atan2(sin_half, w)
    # angle / sin(angle/2) -> 2 / w as the angle goes to zero.
    factor = torch.where(small, 2.0 / w - (2.0 / 3.0) * sin_half_sq / w**3, angle / sin_half)
    return v * factor[..., None]


def rotmat_to_axis_angle(rotmat: Tensor) -> Tensor:
    """Rotation matrices ``(..., 3, 3)`` to axis-angle ``(..., 3)``."""
    return quaternion_to_axis_angle(rotmat_to_quaternion(rotmat))
