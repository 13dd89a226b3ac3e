"""The upright search: turning a crop and its labels together, turning a fit back exactly, and
finding the turn that stands an upside-down person up."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fitting.body.model import BodyModel
from fitting.compare import load_cases
from fitting.config import EftConfig
from fitting.eft.core import EftTarget
from fitting.eft.upright import TURNS_DEG, choose_turns, turn_2d, turn_back, turn_target
from fitting.fit import Regressor, eft, regress
from fitting.geometry.camera import CropBox, weak_perspective_project
from fitting.joints import GT24_OFFSET
from fitting.metrics import pa_mpjpe_lsp14


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.open_body()


def test_a_turned_crop_moves_its_pixels_where_its_labels_go() -> None:
    # The crop's convention (fitting.eft.inputs): pixel centres on whole numbers, crop-normalised
    # n = 2 p / S - 1, so 0 is pixel S / 2 (not the grid's middle, (S - 1) / 2).
    size = 32
    image = torch.zeros(3, size, size)
    keypoints = torch.zeros(49, 3)
    col, row = 25, 6  # a bright pixel, and a label on it
    image[:, row, col] = 1.0
    keypoints[30] = torch.tensor([2 * col / size - 1, 2 * row / size - 1, 1.0])
    target = EftTarget(image, keypoints, CropBox(100.0, 100.0, 1.0))
    for degrees in TURNS_DEG:
        turned = turn_target(target, degrees)
        found = torch.nonzero(turned.image[0])
        assert len(found) == 1
        x, y = turned.keypoints_2d[30, :2]
        assert (int(found[0, 1]), int(found[0, 0])) == (
            round(float((x + 1) * size / 2)),
            round(float((y + 1) * size / 2)),
        )
        assert float(turned.keypoints_2d[0].abs().sum()) == 0.0  # unlabelled joints stay at zero
    assert turn_target(target, 0) is target


def test_turning_a_fit_back_keeps_every_projected_joint(body: BodyModel) -> None:
    generator = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(24, 3, 3, generator=generator))
    pose = q * torch.det(q).sign()[:, None, None]
    betas = torch.randn(10, generator=generator)
    cam = torch.tensor([0.9, 0.1, -0.2])
    out = body(betas[None], pose[None])
    seen_turned = weak_perspective_project(out.joints_spin49, cam[None])[0]
    for degrees in (90, 180, 270):
        pose_back, cam_back = turn_back(pose, cam, out.joints_smpl24[0, 0], degrees)
        seen_back = weak_perspective_project(
            body(betas[None], pose_back[None]).joints_spin49, cam_back[None]
        )[0]
        torch.testing.assert_close(seen_back, seen_turned @ turn_2d(degrees), atol=1e-5, rtol=0)
        assert not torch.allclose(pose_back[0], pose[0])
        torch.testing.assert_close(pose_back[1:], pose[1:])


def test_the_search_stands_an_upside_down_person_up(tiny_set: Path, body: BodyModel) -> None:
    regressor = Regressor.load()
    cases = load_cases(tiny_set, regressor, limit=3)
    upside_down = [turn_target(t, 180) for t in cases.targets]  # the same people, photographed inverted
    chosen = choose_turns(regressor.predict_tuple, body, upside_down)
    # None is read as it came; most stand up (the shipped regressor, trained with turned crops,
    # may read one a quarter-turn off better still).
    assert 0 not in chosen
    assert chosen.count(180) >= 2
    assert choose_turns(regressor.predict_tuple, body, cases.targets) == [0, 0, 0]
    plain = regress(regressor, body, upside_down, EftConfig(upright_search=False))
    searched = regress(regressor, body, upside_down, EftConfig(upright_search=True))
    assert [r.turn_deg for r in searched] == chosen
    assert sum(r.mean_error_px for r in searched) < 0.8 * sum(r.mean_error_px for r in plain)

    def pa(results: list) -> float:  # type: ignore[type-arg]
        pose = torch.stack([r.pose_rotmat for r in results])
        joints = body(torch.stack([r.betas for r in results]), pose).joints_spin49[:, GT24_OFFSET:]
        return float(pa_mpjpe_lsp14(joints, cases.truth_gt24).mean())

    assert pa(searched) < pa(plain)
    # EFT with the search: the fit comes back in the inverted crop's frame, its errors measured there.
    fitted = eft(regressor, body, upside_down, EftConfig(upright_search=True, max_iterations=2))
    assert [r.turn_deg for r in fitted] == chosen
    again = regress(regressor, body, upside_down, EftConfig(upright_search=True))
    for a, b in zip(again, searched, strict=True):
        assert a.mean_error_px == pytest.approx(b.mean_error_px, abs=1e-4)
