import math

import pytest
import torch

from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.metrics import mpjpe, mpjpe_lsp14, pa_mpjpe, pa_mpjpe_lsp14, procrustes_align


def random_joints(b: int, j: int, seed: int) -> torch.Tensor:
    return torch.randn(b, j, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_procrustes_undoes_a_similarity_transform() -> None:
    target = random_joints(4, 14, seed=0)
    rot = axis_angle_to_rotmat(torch.tensor([[0.3, -1.2, 2.0]] * 4, dtype=torch.float64))
    source = 2.5 * target @ rot.transpose(1, 2) + torch.tensor([1.0, -3.0, 0.5], dtype=torch.float64)
    aligned = procrustes_align(source, target)
    assert torch.allclose(aligned, target, atol=1e-10)
    assert pa_mpjpe(source, target).max().item() < 1e-6
    assert mpjpe(source, target).min().item() > 100.0


def test_procrustes_does_not_reflect() -> None:
    target = random_joints(1, 10, seed=1)
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    aligned = procrustes_align(mirrored, target)
    assert pa_mpjpe(mirrored, target).item() > 1.0  # a mirror image is not a rotation
    centred = aligned - aligned.mean(dim=1, keepdim=True)
    assert torch.isfinite(centred).all()


def test_mpjpe_is_in_millimetres() -> None:
    target = torch.zeros(1, 3, 3)
    pred = target.clone()
    pred[0, :, 0] = 0.01  # 1 cm
    assert mpjpe(pred, target).item() == pytest.approx(10.0)


def test_lsp14_metrics_are_pelvis_centred_and_ignore_extra_joints() -> None:
    target = random_joints(2, 24, seed=2)
    pred = target + torch.tensor([5.0, 5.0, 5.0], dtype=torch.float64)  # pure translation
    pred[:, 20:] += 1.0  # face joints are not among the 14
    assert mpjpe_lsp14(pred, target).max().item() < 1e-9
    rot = axis_angle_to_rotmat(torch.tensor([[0.0, math.pi / 2, 0.0]] * 2, dtype=torch.float64))
    rotated = target @ rot.transpose(1, 2)
    assert mpjpe_lsp14(rotated, target).min().item() > 100.0
    assert pa_mpjpe_lsp14(rotated, target).max().item() < 1e-6


def test_shape_mismatch_is_named() -> None:
    with pytest.raises(ValueError, match=r"\(2, 14, 3\) and \(2, 13, 3\)"):
        mpjpe(torch.zeros(2, 14, 3), torch.zeros(2, 13, 3))
