"""Training data and a few steps of HMR training on a tiny synthetic set."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.geometry.truncation import TRUNCATION_LEVELS
from fitting.joints import GT24_FLIP, SMPL24_NAMES
from fitting.regressor.hmr import HMR, SPIN_CHECKPOINT_KEYS, load_checkpoint
from fitting.synth.generate import SynthConfig, generate
from fitting.train.data import (
    Augment,
    PersonDataset,
    box_for_level,
    flip_pose,
    load_synthetic,
    split,
)
from fitting.train.evaluate import evaluate_levels, results_table
from fitting.train.trainer import LossWeights, TrainConfig, hmr_loss, train


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> list:
    out = tmp_path_factory.mktemp("train") / "set"
    generate(SynthConfig(people=12, seed=5, width=160, height=160), out, progress=False)
    return load_synthetic(out)


def test_samples_have_documented_shapes(people: list) -> None:
    data = PersonDataset(people, 96, aux_channels=True, augment=Augment())
    item = data[0]
    assert item["image"].shape == (6, 96, 96)
    assert item["keypoints_2d"].shape == (49, 3)
    assert item["pose_rotmat"].shape == (24, 3, 3)
    assert item["has_3d"].item() == 1.0
    channels = item["image"][3:]
    assert set(channels.unique().tolist()) <= {0.0, 1.0}  # the drawn skeleton


def test_full_box_sample_projects_like_the_truth(people: list) -> None:
    data = PersonDataset(people, 128, augment=Augment.none(), level=7)
    item = data[0]
    person = people[0]
    box = box_for_level(person, 7)
    expected = (person.keypoints_spin49[:, :2] - [box.center_x, box.center_y]) / (100 * box.scale)
    inside = item["keypoints_2d"][:, 2] > 0
    assert np.allclose(item["keypoints_2d"][inside, :2].numpy(), expected[inside.numpy()], atol=1e-4)


def test_flip_mirrors_the_body() -> None:
    rng = np.random.default_rng(0)
    from fitting.geometry.rotations import axis_angle_to_rotmat

    pose = axis_angle_to_rotmat(torch.as_tensor(rng.normal(0, 0.3, size=(24, 3)))).numpy()
    assert np.allclose(flip_pose(flip_pose(pose)), pose)
    body = BodyModel.open_body(dtype=torch.float64)
    a = body(torch.zeros(1, 10, dtype=torch.float64), torch.as_tensor(pose)[None]).joints_spin49[0, 25:]
    b = body(torch.zeros(1, 10, dtype=torch.float64), torch.as_tensor(flip_pose(pose))[None]).joints_spin49[
        0, 25:
    ]
    mirrored = a.numpy()[list(GT24_FLIP)] * [-1, 1, 1]
    pelvis = SMPL24_NAMES.index("pelvis")
    assert pelvis == 0
    centred = b.numpy() - b.numpy().mean(0)
    assert np.abs(centred - (mirrored - mirrored.mean(0))).max() < 0.02  # the template is nearly symmetric


def test_truncation_levels_grow_to_the_full_body(people: list) -> None:
    assert len(TRUNCATION_LEVELS) == 8
    for smaller, larger in itertools.pairwise(TRUNCATION_LEVELS):
        assert set(smaller) < set(larger)
    person = people[0]
    assert box_for_level(person, 0).side < box_for_level(person, 6).side


def test_a_few_steps_reduce_the_loss(people: list) -> None:
    torch.manual_seed(0)
    model = HMR("tiny", in_channels=6).train()
    body = BodyModel.open_body()
    data = PersonDataset(people[:8], 64, aux_channels=True, augment=Augment.none(), level=7)
    batch = {k: torch.stack([data[i][k] for i in range(8)]) for k in data[0]}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    weights = LossWeights()
    losses = []
    for _ in range(25):
        loss, _parts = hmr_loss(body, model(batch["image"]), batch, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_train_writes_resumable_spin_checkpoints(people: list, tmp_path: Path) -> None:
    train_people, val_people = split(people, 0.25, 0)
    config = TrainConfig(out=str(tmp_path), backbone="tiny", input_size=64, aux_keypoints=True, epochs=1,
                         batch_size=4, lr=1e-3, val_every=2, checkpoint_every=2, workers=0)  # fmt: skip
    result = train(config, train_people, val_people, progress=False, log=lambda _m: None)
    latest = load_checkpoint(tmp_path / "latest.pt")
    assert latest.model.in_channels == 6
    assert latest.meta["eft_meta"]["aux"] == "gt24-skeleton-3ch"
    raw = torch.load(tmp_path / "latest.pt", weights_only=True)
    assert set(SPIN_CHECKPOINT_KEYS) <= set(raw)
    assert raw["total_step_count"] == result["steps"]
    again = train(TrainConfig(**{**config.__dict__, "epochs": 2}), train_people, val_people,
                  resume=tmp_path / "latest.pt", progress=False, log=lambda _m: None)  # fmt: skip
    assert again["steps"] > result["steps"]
    levels = evaluate_levels(latest, val_people, workers=0)
    table = results_table(levels, "tiny")
    assert [r.level for r in levels] == [1, 2, 4, 7]
    assert "| 4 (upper body) |" in table
    assert all(r.mean_pose_pa_mpjpe > 0 for r in levels)


def test_eft_json_export_is_read_as_training_data(people: list, tmp_path: Path) -> None:
    import json

    from fitting.train.data import load_eft_json

    person = people[0]
    x, y, w, h = person.bbox
    entry = {
        "parm_pose": person.pose_rotmat.tolist(),
        "parm_shape": person.betas.tolist(),
        "parm_cam": [0.9, 0.0, 0.0],
        "bbox_scale": 1.2 * max(w, h) / 200,
        "bbox_center": [x + w / 2, y + h / 2],
        "gt_keypoint_2d": person.keypoints_spin49.tolist(),
        "smpltype": "smpl",
        "annotId": 1,
        "imageName": person.image_path.name,
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"ver": "0.1", "data": [entry], "meta": {"dbname": "synthetic"}}))
    loaded = load_eft_json(path, person.image_path.parent)
    assert len(loaded) == 1
    assert np.allclose(loaded[0].pose_rotmat, person.pose_rotmat)
    assert loaded[0].joints_gt24 is None  # pseudo ground truth: 3D comes from the body model
    item = PersonDataset(loaded, 64, augment=Augment.none(), level=7)[0]
    assert item["has_smpl"].item() == 1.0
    assert item["has_3d"].item() == 0.0
    path.write_text(json.dumps({"data": [{"parm_pose": []}]}))
    with pytest.raises(ValueError, match=r"export\.json: entry 0 is malformed"):
        load_eft_json(path, tmp_path)


def test_shipped_bootstrap_regressor_beats_the_mean_pose(people: list) -> None:
    from fitting.assets import BOOTSTRAP_REGRESSOR_PATH

    checkpoint = load_checkpoint(BOOTSTRAP_REGRESSOR_PATH)
    meta = checkpoint.meta["eft_meta"]
    assert meta["aux"] == "gt24-skeleton-3ch"
    assert meta["body_sha256"] == BodyModel.open_body().sha256  # trained for the shipped body
    full_box = evaluate_levels(checkpoint, people, levels=(7,), workers=0)[0]
    assert full_box.pa_mpjpe < 0.85 * full_box.mean_pose_pa_mpjpe


def test_the_cosine_schedule_falls_from_the_rate_to_its_floor() -> None:
    from fitting.train.trainer import LR_FLOOR, scheduled_lr

    config = TrainConfig(out="unused", lr=1e-3, lr_schedule="cosine", minutes=10.0)
    assert scheduled_lr(config, 0.0, 0) == pytest.approx(1e-3)
    assert scheduled_lr(config, 300.0, 0) == pytest.approx(1e-3 * (1 + LR_FLOOR) / 2)
    assert scheduled_lr(config, 600.0, 0) == pytest.approx(1e-3 * LR_FLOOR)
    assert scheduled_lr(config, 6000.0, 0) == pytest.approx(1e-3 * LR_FLOOR)  # past the budget: the floor
    rates = [scheduled_lr(config, t, 0) for t in range(0, 601, 60)]
    assert all(a > b for a, b in itertools.pairwise(rates))
    by_steps = TrainConfig(out="unused", lr=1e-3, lr_schedule="cosine", minutes=1000.0, max_steps=10)
    assert scheduled_lr(by_steps, 0.0, 5) == pytest.approx(1e-3 * (1 + LR_FLOOR) / 2)  # the nearer end
    assert scheduled_lr(TrainConfig(out="unused", lr=1e-3), 1e9, 10**9) == 1e-3  # constant: SPIN's
    with pytest.raises(ValueError, match="needs a budget"):
        scheduled_lr(TrainConfig(out="unused", lr=1e-3, lr_schedule="cosine"), 0.0, 0)


def test_training_follows_the_cosine_schedule(people: list, tmp_path: Path) -> None:
    from fitting.train.trainer import LR_FLOOR

    train_people, val_people = split(people, 0.25, 0)
    config = TrainConfig(out=str(tmp_path), backbone="tiny", input_size=64, aux_keypoints=True, epochs=5,
                         batch_size=4, lr=1e-3, lr_schedule="cosine", max_steps=4, val_every=100,
                         checkpoint_every=100, workers=0)  # fmt: skip
    result = train(config, train_people, val_people, progress=False, log=lambda _m: None)
    assert result["steps"] == 4
    raw = torch.load(tmp_path / "latest.pt", weights_only=True)
    # The last step (step 3 of 4) ran at cos(3/4 pi) of the way down.
    expected = 1e-3 * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + np.cos(np.pi * 3 / 4)))
    assert raw["optimizer"]["param_groups"][0]["lr"] == pytest.approx(expected)


def test_progress_is_reported_and_a_run_can_be_stopped_and_resumed(people: list, tmp_path: Path) -> None:
    from fitting.train.trainer import TrainProgress

    train_people, val_people = split(people, 0.25, 0)
    config = TrainConfig(out=str(tmp_path), backbone="tiny", input_size=64, aux_keypoints=True, epochs=20,
                         batch_size=2, lr=1e-3, max_steps=12, val_every=4, checkpoint_every=3,
                         progress_every=2, workers=0)  # fmt: skip
    seen: list[TrainProgress] = []
    copies: list[int] = []

    def cancel_at_five(progress: TrainProgress) -> bool:
        seen.append(progress)
        return progress.step < 5

    def copied(path: Path, step: int) -> None:
        assert int(torch.load(path, weights_only=True)["total_step_count"]) == step
        copies.append(step)

    first = train(config, train_people, val_people, progress=False, log=lambda _m: None,
                  on_progress=cancel_at_five, on_checkpoint=copied)  # fmt: skip
    assert first["stopped"] == "cancelled"
    assert first["steps"] == 6  # asked to stop at the report after step 5 (reports every 2 steps: 6)
    assert [p.step for p in seen] == [2, 4, 6]  # step 4 reports its validation
    assert seen[1].metrics is not None
    assert seen[0].metrics is None
    assert all(p.max_steps == 12 and p.elapsed_s > 0 and np.isfinite(p.loss) for p in seen)
    assert seen[-1].eta_s is not None
    assert seen[-1].eta_s > 0
    # Every latest.pt: step 3, the end of the first epoch (4 batches), 6, and where it stopped.
    assert copies == [3, 4, 6, 6]
    saved = torch.load(tmp_path / "latest.pt", weights_only=True)
    assert saved["total_step_count"] == 6
    elapsed = saved["eft_meta"]["elapsed_s"]
    assert elapsed > 0
    # Resumed, it goes on from step 6 to the budget of 12, its clock counting the first run.
    again: list[TrainProgress] = []
    second = train(config, train_people, val_people, progress=False, log=lambda _m: None,
                   resume=tmp_path / "latest.pt", on_progress=lambda p: again.append(p) or True)  # fmt: skip
    assert second["stopped"] == "budget"
    assert second["steps"] == 12
    assert again[0].step == 8
    assert again[0].elapsed_s > elapsed
    assert again[-1].metrics is not None  # the final validation is reported too
