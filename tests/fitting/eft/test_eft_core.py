"""EFT per person: restores the regressor for everyone, lowers the 2D error, stops at the threshold."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fitting.assets import BOOTSTRAP_REGRESSOR_PATH
from fitting.body.model import BodyModel
from fitting.config import EftConfig
from fitting.eft.core import EftTarget, ExemplarFineTuner, sanity_verdict
from fitting.eft.inputs import make_target
from fitting.geometry.camera import CropBox
from fitting.regressor.hmr import load_checkpoint
from fitting.results import SanityVerdict
from fitting.synth.generate import SynthConfig, generate
from fitting.train.data import load_synthetic


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> list[EftTarget]:
    out = tmp_path_factory.mktemp("eft") / "set"
    generate(
        SynthConfig(people=3, seed=21, width=192, height=192, max_people_per_image=1), out, progress=False
    )
    made = []
    for person in load_synthetic(out):
        image = np.asarray(Image.open(person.image_path).convert("RGB"))
        made.append(
            make_target(image, person.labels_gt24, CropBox.from_bbox(*person.bbox), 128, aux_channels=True)
        )
    return made


@pytest.fixture(scope="module")
def tuner() -> ExemplarFineTuner:
    checkpoint = load_checkpoint(BOOTSTRAP_REGRESSOR_PATH)
    torch.set_num_threads(1)  # deterministic reductions for the exact-equality test
    config = EftConfig(lr=5e-5, max_iterations=6, threshold_px=0.5)
    return ExemplarFineTuner(checkpoint.model, BodyModel.open_body(), config, checkpoint.sha256)


def test_paper_defaults() -> None:
    config = EftConfig()
    assert (config.lr, config.max_iterations, config.threshold_px, config.shape_weight, config.gamma) == (
        5e-6,
        50,
        3.0,
        0.001,
        0.0,
    )


def test_person_b_after_a_equals_b_alone(tuner: ExemplarFineTuner, targets: list[EftTarget]) -> None:
    alone = tuner.fit(targets[1])
    tuner.fit(targets[0])
    after = tuner.fit(targets[1])
    assert torch.equal(alone.pose_rotmat, after.pose_rotmat)
    assert torch.equal(alone.betas, after.betas)
    assert alone.iterations == after.iterations


def test_fitting_lowers_the_2d_error(tuner: ExemplarFineTuner, targets: list[EftTarget]) -> None:
    result = tuner.fit(targets[2])
    assert result.iterations == 6  # the 0.5 px threshold is not reached in 6 updates
    assert result.loss_after < result.loss_before
    assert np.isfinite(result.mean_error_px)
    assert result.config["max_iterations"] == 6
    assert len(result.checkpoint_sha256) == 64
    untouched = ExemplarFineTuner(tuner.model, tuner.body, EftConfig(max_iterations=0)).fit(targets[2])
    assert result.mean_error_px < untouched.mean_error_px
    assert untouched.iterations == 0


def test_stops_as_soon_as_the_threshold_is_met(tuner: ExemplarFineTuner, targets: list[EftTarget]) -> None:
    loose = ExemplarFineTuner(tuner.model, tuner.body, EftConfig(threshold_px=1e6)).fit(targets[0])
    assert loose.iterations == 0


def test_sanity_rules() -> None:
    small = torch.zeros(10)
    assert sanity_verdict(small, 0.001, "paper") == SanityVerdict(True, "ok", "paper")
    assert sanity_verdict(small, 0.001, "exporter") == SanityVerdict(
        False, "2D keypoint loss 0.00100 > 0.0005", "exporter", "keypoint_loss"
    )
    big = torch.zeros(10)
    big[3] = -5.5
    assert sanity_verdict(big, 0.0, "paper") == SanityVerdict(
        False, "max |beta| 5.50 > 5.0", "paper", "betas"
    )
    assert sanity_verdict(big / 5.5 * 4, 0.0, "exporter").reason == "max |beta| 4.00 > 3.0"


def test_needs_a_labelled_keypoint(tuner: ExemplarFineTuner, targets: list[EftTarget]) -> None:
    empty = EftTarget(targets[0].image, torch.zeros(49, 3), targets[0].box)
    with pytest.raises(ValueError, match="at least one labelled keypoint"):
        tuner.fit(empty)


def test_target_shapes(targets: list[EftTarget], tmp_path: Path) -> None:
    assert targets[0].image.shape == (6, 128, 128)
    assert targets[0].keypoints_2d.shape == (49, 3)
    assert targets[0].keypoints_2d[:25, 2].sum() == 0  # no OpenPose labels in a dataset
    with pytest.raises(ValueError, match=r"GT-24 of shape \(24, 3\)"):
        make_target(np.zeros((10, 10, 3), dtype=np.uint8), np.zeros((17, 3)), CropBox(5, 5, 0.1))


def test_the_regressor_is_left_unchanged(tuner: ExemplarFineTuner, targets: list[EftTarget]) -> None:
    before = {k: v.clone() for k, v in tuner.model.state_dict().items()}
    tuner.fit(targets[0])
    after = tuner.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_batched_matches_one_at_a_time(tuner: ExemplarFineTuner, targets: list[EftTarget]) -> None:
    from fitting.eft.batched import BatchedFineTuner, memory_per_person

    # A threshold between the people's errors, so some stop early and some run to the limit.
    config = EftConfig(lr=5e-5, max_iterations=5, threshold_px=5.0, threshold_units="image")
    single = [ExemplarFineTuner(tuner.model, tuner.body, config).fit(t) for t in targets]
    batch = BatchedFineTuner(tuner.model, tuner.body, config).fit(targets)
    assert [r.iterations for r in batch] == [r.iterations for r in single]
    assert len({r.iterations for r in single}) > 1, "the test needs people that stop at different times"
    for a, b in zip(single, batch, strict=True):
        assert torch.allclose(a.pose_rotmat, b.pose_rotmat, atol=1e-4)
        assert torch.allclose(a.betas, b.betas, atol=1e-4)
        assert abs(a.mean_error_px - b.mean_error_px) < 1e-2
    assert memory_per_person(tuner.model, 128) > 4 * sum(p.numel() for p in tuner.model.parameters())
