from pathlib import Path

import numpy as np
import pytest
import torch

from fitting.regressor.hmr import (
    HMR,
    SPIN_CHECKPOINT_KEYS,
    MeanParams,
    infer_backbone,
    load_checkpoint,
    save_checkpoint,
)


def spin_style_checkpoint(path: Path, model: HMR) -> None:
    """A file shaped like SPIN's model_checkpoint.pt: a plain dict, weights under 'model'."""
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-5)
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": 3,
            "batch_idx": 10,
            "batch_size": 64,
            "dataset_perm": torch.randperm(20),
            "total_step_count": 1234,
        },
        path,
    )


def test_resnet50_has_spin_parameter_names_and_shapes() -> None:
    state = HMR("resnet50").state_dict()
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer1.0.conv3.weight"].shape == (256, 64, 1, 1)
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert state["layer4.2.bn3.running_var"].shape == (2048,)
    assert "layer3.5.conv1.weight" in state
    assert "layer3.6.conv1.weight" not in state
    assert state["fc1.weight"].shape == (1024, 2048 + 144 + 13)
    assert state["decpose.weight"].shape == (144, 1024)
    assert state["init_pose"].shape == (1, 144)
    assert state["init_shape"].shape == (1, 10)
    assert state["init_cam"].shape == (1, 3)
    assert infer_backbone(state) == "resnet50"


def test_spin_checkpoint_loads_strictly_and_predicts_the_same(tmp_path: Path) -> None:
    torch.manual_seed(0)
    original = HMR("resnet50").eval()
    path = tmp_path / "model_checkpoint.pt"
    spin_style_checkpoint(path, original)
    loaded = load_checkpoint(path)
    assert loaded.model.backbone_name == "resnet50"
    assert loaded.meta["epoch"] == 3
    assert loaded.meta["total_step_count"] == 1234
    assert len(loaded.sha256) == 64
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        a, b = original(images), loaded.model.eval()(images)
    assert torch.equal(a.pose_rotmat, b.pose_rotmat)
    assert torch.equal(a.cam_weak, b.cam_weak)


def test_dataparallel_prefix_is_accepted(tmp_path: Path) -> None:
    model = HMR("tiny")
    path = tmp_path / "dp.pt"
    torch.save({"model": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    assert load_checkpoint(path).model.backbone_name == "tiny"


def test_own_checkpoint_round_trip_keeps_spin_keys(tmp_path: Path) -> None:
    model = HMR("tiny", in_channels=4)
    optimizer = torch.optim.Adam(model.parameters())
    path = tmp_path / "ckpt" / "latest.pt"
    save_checkpoint(path, model, optimizer, epoch=2, batch_idx=5, batch_size=8, dataset_perm=[2, 0, 1],
                    total_step_count=42, extra={"eft": {"body": "open"}})  # fmt: skip
    raw = torch.load(path, weights_only=True)
    assert set(SPIN_CHECKPOINT_KEYS) <= set(raw)
    loaded = load_checkpoint(path)
    assert loaded.model.in_channels == 4
    assert loaded.meta["eft"] == {"body": "open"}
    assert not (tmp_path / "ckpt" / "latest.pt.partial").exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"state": {}}, "expected a dict with key 'model'"),
        ({"model": {"conv1.weight": torch.zeros(3, 3, 7, 7)}}, "matches no known backbone"),
    ],
)
def test_malformed_checkpoints_name_the_file(
    tmp_path: Path, payload: dict[str, object], message: str
) -> None:
    path = tmp_path / "bad.pt"
    torch.save(payload, path)
    with pytest.raises(ValueError, match=message) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_key_in_checkpoint_fails_strict_load(tmp_path: Path) -> None:
    state = HMR("tiny").state_dict()
    del state["deccam.bias"]
    path = tmp_path / "partial.pt"
    torch.save({"model": state}, path)
    with pytest.raises(ValueError, match=r"deccam\.bias"):
        load_checkpoint(path)


def test_not_a_checkpoint_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip or pickle")
    with pytest.raises(ValueError, match="cannot be read"):
        load_checkpoint(junk)
    with pytest.raises(FileNotFoundError, match=r"nothing\.pt"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_mean_params_from_npz_and_builtin(tmp_path: Path) -> None:
    path = tmp_path / "smpl_mean_params.npz"
    pose = np.tile(np.array([1, 0, 0, 1, 0, 0], dtype=np.float64), 24)
    np.savez(path, pose=pose, shape=np.arange(10, dtype=np.float64), cam=np.array([0.8, 0.1, 0.2]))
    mean = MeanParams.from_npz(path)
    model = HMR("tiny", mean_params=mean).eval()
    assert torch.equal(model.init_shape[0], torch.arange(10, dtype=torch.float32))
    np.savez(tmp_path / "bad.npz", pose=pose)
    with pytest.raises(ValueError, match=r"missing keys \['cam', 'shape'\]"):
        MeanParams.from_npz(tmp_path / "bad.npz")
    builtin = HMR("tiny").eval()
    with torch.no_grad():
        out = builtin(torch.zeros(1, 3, 224, 224))
    # Small decoder weights: the untrained output stays near the mean, upright (180 deg about x).
    assert torch.allclose(out.pose_rotmat[0, 0], torch.diag(torch.tensor([1.0, -1.0, -1.0])), atol=0.1)
    assert out.cam_weak[0, 0].item() == pytest.approx(0.9, abs=0.1)


def test_input_shape_error_is_clear() -> None:
    with pytest.raises(ValueError, match=r"expected shape \(B, 3, H, W\), got \(3, 224, 224\)"):
        HMR("tiny")(torch.zeros(3, 224, 224))
