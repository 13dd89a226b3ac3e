"""Reading the licensed SMPL file format without chumpy, from a file the test writes."""

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch

from fitting.assets import OPEN_BODY_PATH
from fitting.body.asset import load_asset
from fitting.body.model import BodyModel, read_smpl_pickle
from fitting.geometry.rotations import axis_angle_to_rotmat


def write_smpl_like_pickle(
    path: Path, with_chumpy: bool = True, posedirs: np.ndarray | None = None
) -> np.ndarray:
    """A SMPL-format pickle made from the open body, with chumpy objects like the real file
    (pose correctives: ``posedirs`` (V, 3, 207), zeros by default)."""
    asset = load_asset(OPEN_BODY_PATH)
    v = asset.num_vertices
    fake = types.ModuleType("chumpy.ch")

    class Ch:  # pickles like chumpy.ch.Ch: its array under 'x' in the state
        def __init__(self, x: np.ndarray) -> None:
            self.x = x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    fake.Ch = Ch  # type: ignore[attr-defined]
    parent = types.ModuleType("chumpy")
    parent.ch = fake  # type: ignore[attr-defined]
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = parent, fake
    try:
        wrap = Ch if with_chumpy else (lambda x: x)
        data = {
            "v_template": wrap(asset.v_template.astype(np.float64)),
            "shapedirs": wrap(asset.shapedirs.astype(np.float64)),
            "posedirs": np.zeros((v, 3, 207)) if posedirs is None else posedirs,
            "J_regressor": scipy.sparse.csc_matrix(asset.j_regressor.astype(np.float64)),
            "weights": wrap(asset.weights.astype(np.float64)),
            "kintree_table": np.stack(
                [np.where(asset.parents < 0, 2**32 - 1, asset.parents), np.arange(24)]
            ).astype(np.uint32),
            "f": asset.faces.astype(np.uint32),
        }
        with path.open("wb") as handle:
            pickle.dump(data, handle, protocol=2)
    finally:
        del sys.modules["chumpy.ch"], sys.modules["chumpy"]
    extra = asset.j_regressor_extra
    np.save(path.with_name("J_regressor_extra.npy"), extra)
    return extra


def test_smpl_pickle_with_chumpy_loads_without_chumpy(tmp_path: Path) -> None:
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    write_smpl_like_pickle(pkl)
    assert "chumpy" not in sys.modules
    data = read_smpl_pickle(pkl)
    assert isinstance(data["shapedirs"], np.ndarray)
    assert data["shapedirs"].shape == (13718, 3, 10)
    model = BodyModel.from_smpl(pkl, tmp_path / "J_regressor_extra.npy", dtype=torch.float64)
    assert model.kind == "smpl"
    out = model(
        torch.zeros(1, 10, dtype=torch.float64), torch.eye(3, dtype=torch.float64).repeat(1, 24, 1, 1)
    )
    reference = BodyModel.open_body(dtype=torch.float64)(
        torch.zeros(1, 10, dtype=torch.float64), torch.eye(3, dtype=torch.float64).repeat(1, 24, 1, 1)
    )
    assert torch.allclose(out.vertices, reference.vertices, atol=1e-6)


def test_missing_files_and_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"SMPL model file .*nothing\.pkl does not exist"):
        BodyModel.from_smpl(tmp_path / "nothing.pkl", tmp_path / "x.npy")
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    write_smpl_like_pickle(pkl)
    with pytest.raises(FileNotFoundError, match=r"J_regressor_extra file .*missing\.npy"):
        BodyModel.from_smpl(pkl, tmp_path / "missing.npy")
    np.save(tmp_path / "wrong.npy", np.zeros((9, 10)))
    with pytest.raises(ValueError, match=r"wrong\.npy: expected shape \(9, 13718\)"):
        BodyModel.from_smpl(pkl, tmp_path / "wrong.npy")
    partial = tmp_path / "partial.pkl"
    with partial.open("wb") as handle:
        pickle.dump({"v_template": np.zeros((5, 3))}, handle)
    with pytest.raises(ValueError, match=r"partial\.pkl: missing keys \['J_regressor'"):
        read_smpl_pickle(partial)
    with pytest.raises(ValueError, match="needs J_regressor_extra"):
        BodyModel.load(pkl, None)


def test_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(ValueError, match=r"refusing to load builtins\.print"):
        read_smpl_pickle(path)


def test_joints_without_the_mesh_are_the_forward_s_joints_with_pose_correctives(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    write_smpl_like_pickle(pkl, posedirs=rng.normal(0, 0.01, (13718, 3, 207)))
    model = BodyModel.from_smpl(pkl, tmp_path / "J_regressor_extra.npy", dtype=torch.float64)
    pose = axis_angle_to_rotmat(torch.as_tensor(rng.normal(0, 0.5, (6, 24, 3))))
    betas = torch.as_tensor(rng.normal(0, 1.0, (6, 10)))
    with torch.no_grad():
        full = model(betas, pose)
        joints = model.joints_spin49(betas, pose)
    assert torch.allclose(joints, full.joints_spin49, atol=1e-9)
    # ... and the correctives are there: the same pose without them moves the joints read from
    # vertices (the skinning of a corrected rest shape, not of the template).
    plain = BodyModel.open_body(dtype=torch.float64)
    with torch.no_grad():
        uncorrected = plain.joints_spin49(betas, pose)
    assert (joints - uncorrected).abs().max() > 1e-3
