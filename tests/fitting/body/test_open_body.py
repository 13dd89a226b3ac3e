"""The open SMPL-format body built from anny, through smplx."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from fitting.assets import OPEN_BODY_PATH
from fitting.body.asset import load_asset
from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.joints import GT24_NAMES, SMPL24_NAMES, SMPL24_PARENTS, SPIN49_NAMES

J = SMPL24_NAMES.index


def winding_numbers(
    points: NDArray[np.floating], vertices: NDArray[np.floating], faces: NDArray[np.integer]
) -> NDArray[np.float64]:
    """Generalised winding number ``(P,)`` of each point ``(P, 3)`` w.r.t. a triangle mesh.

    About 1 inside a closed, outward-oriented mesh and 0 outside (Jacobson et al. 2013: the sum
    of the signed solid angles of the triangles, over 4 pi; Van Oosterom-Strackee formula).
    """
    pts = np.asarray(points, dtype=np.float64)
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]  # (F, 3, 3)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points: expected shape (P, 3), got {pts.shape}")
    out = np.empty(len(pts))
    for i, p in enumerate(pts):
        a, b, c = (tri[:, k] - p for k in range(3))
        la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
        det = np.einsum("ij,ij->i", a, np.cross(b, c))
        denom = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la
        denom += np.einsum("ij,ij->i", c, a) * lb
        out[i] = np.arctan2(det, denom).sum() * 2.0 / (4.0 * np.pi)
    return out


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.open_body(dtype=torch.float64)


def rest(batch: int = 1) -> torch.Tensor:
    return torch.eye(3, dtype=torch.float64).repeat(batch, 24, 1, 1)


def test_asset_is_compact_and_documented() -> None:
    assert OPEN_BODY_PATH.stat().st_size < 5_000_000
    asset = load_asset(OPEN_BODY_PATH)
    assert asset.num_vertices == 13718
    assert asset.faces.shape == (27420, 3)
    assert tuple(asset.parents) == SMPL24_PARENTS
    assert "CC0" in asset.provenance["licence"]
    assert asset.provenance["joint_error_heldout_mm"]["max"] < 15.0
    assert np.allclose(asset.weights.sum(axis=1), 1.0, atol=1e-4)
    assert np.allclose(asset.j_regressor.sum(axis=1), 1.0, atol=1e-4)
    assert (OPEN_BODY_PATH.parent / "OPEN_BODY.md").is_file()


def test_loads_through_smplx_with_24_and_extra_joints(body: BodyModel) -> None:
    import smplx

    assert isinstance(body.smpl, smplx.SMPL)
    out = body(torch.zeros(2, 10, dtype=torch.float64), rest(2))
    assert out.vertices.shape == (2, 13718, 3)
    assert out.joints_smpl24.shape == (2, 24, 3)
    assert out.joints_spin49.shape == (2, 49, 3)
    # The SPIN-49 set reuses SMPL's kinematic joints where it names them.
    assert torch.equal(
        out.joints_spin49[:, SPIN49_NAMES.index("Left Wrist")], out.joints_smpl24[:, J("left_wrist")]
    )


def test_rest_pose_is_a_t_pose_in_smpl_axes(body: BodyModel) -> None:
    joints = body(torch.zeros(1, 10, dtype=torch.float64), rest()).joints_smpl24[0]
    assert joints[J("head"), 1] > joints[J("pelvis"), 1] > joints[J("left_ankle"), 1]  # y up
    assert joints[J("left_hip"), 0] > 0 > joints[J("right_hip"), 0]  # the person's left at +x
    nose = body(torch.zeros(1, 10, dtype=torch.float64), rest()).joints_spin49[0, SPIN49_NAMES.index("Nose")]
    assert nose[2] > joints[J("head"), 2]  # facing +z
    for side in ("left", "right"):  # arms straight out, level with the shoulders
        arm = joints[[J(f"{side}_shoulder"), J(f"{side}_elbow"), J(f"{side}_wrist")]]
        assert (arm[:, 1] - arm[0, 1]).abs().max() < 0.01
        assert (arm[:, 2] - arm[0, 2]).abs().max() < 0.01


def test_bent_elbow_moves_the_hand_and_not_the_feet(body: BodyModel) -> None:
    betas = torch.zeros(1, 10, dtype=torch.float64)
    straight = body(betas, rest())
    aa = torch.zeros(1, 24, 3, dtype=torch.float64)
    aa[0, J("left_elbow")] = torch.tensor([0.0, -1.5, 0.0], dtype=torch.float64)  # forearm forward
    bent = body(betas, axis_angle_to_rotmat(aa))
    moved = (bent.vertices - straight.vertices).norm(dim=-1)[0]
    hand = body.smpl.lbs_weights[:, J("left_hand")] > 0.5
    foot = (
        body.smpl.lbs_weights[:, [J("left_foot"), J("right_foot"), J("left_ankle"), J("right_ankle")]].sum(1)
        > 0.5
    )
    assert moved[hand].min() > 0.15
    assert moved[foot].max() == 0.0
    wrist = bent.joints_smpl24[0, J("left_wrist")] - bent.joints_smpl24[0, J("left_elbow")]
    assert wrist[2] > 0.2  # the forearm now points forward (+z)


def test_first_shape_direction_raises_height_monotonically(body: BodyModel) -> None:
    values = torch.linspace(-3, 3, 13, dtype=torch.float64)
    betas = torch.zeros(13, 10, dtype=torch.float64)
    betas[:, 0] = values
    v = body(betas, rest(13)).vertices
    height = v[:, :, 1].max(dim=1).values - v[:, :, 1].min(dim=1).values
    assert (height.diff() > 0).all()
    assert 1.55 < height[6].item() < 1.80  # the mean adult
    assert height[-1] - height[0] > 0.3


def test_joints_stay_inside_the_mesh_across_shapes(body: BodyModel) -> None:
    g = torch.Generator().manual_seed(7)
    betas = torch.cat([torch.zeros(1, 10), torch.randn(3, 10, generator=g) * 1.5]).double()
    out = body(betas, rest(4))
    inner = [n for n in GT24_NAMES if n not in {"Nose", "Left Eye", "Right Eye", "Left Ear", "Right Ear"}]
    for b in range(4):
        joints = np.concatenate(
            [
                out.joints_smpl24[b].numpy(),
                out.joints_spin49[b, [SPIN49_NAMES.index(n) for n in inner]].numpy(),
            ]
        )
        wn = winding_numbers(joints, out.vertices[b].numpy(), body.faces)
        assert (wn > 0.5).all(), f"shape {b}: joints outside the mesh: {np.nonzero(wn <= 0.5)[0].tolist()}"


def test_coco_keypoints_and_face_joints_are_on_the_face(body: BodyModel) -> None:
    out = body(torch.zeros(1, 10, dtype=torch.float64), rest())
    coco = body.keypoints_coco17(out.vertices)[0]
    nose_kp, leye_kp, reye_kp = coco[0], coco[1], coco[2]
    assert leye_kp[0] > nose_kp[0] > reye_kp[0]  # COCO's left eye is the person's left (+x)
    nose_joint = out.joints_spin49[0, SPIN49_NAMES.index("OP Nose")]
    assert (nose_joint - nose_kp).norm() < 0.01


def test_translation_moves_everything(body: BodyModel) -> None:
    betas = torch.zeros(1, 10, dtype=torch.float64)
    shift = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    a, b = body(betas, rest()), body(betas, rest(), shift)
    assert torch.allclose(b.vertices - a.vertices, shift[:, None].expand_as(a.vertices))
    assert torch.allclose(b.joints_spin49 - a.joints_spin49, shift[:, None].expand_as(a.joints_spin49))


def test_bad_shapes_are_named(body: BodyModel) -> None:
    with pytest.raises(ValueError, match=r"betas: expected shape \(B, 10\), got \(1, 9\)"):
        body(torch.zeros(1, 9, dtype=torch.float64), rest())
    with pytest.raises(ValueError, match=r"pose_rotmat: expected shape \(1, 24, 3, 3\)"):
        body(torch.zeros(1, 10, dtype=torch.float64), rest()[:, :23])


def test_malformed_asset_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.npz"
    np.savez(bad, v_template=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"broken\.npz: missing arrays"):
        load_asset(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"junk\.npz cannot be read"):
        load_asset(junk)


SMPL_PATH = os.environ.get("EFT_SMPL_MODEL_PATH")
EXTRA_PATH = os.environ.get("EFT_J_REGRESSOR_EXTRA_PATH")


@pytest.mark.smpl
@pytest.mark.skipif(
    not (SMPL_PATH and EXTRA_PATH), reason="set EFT_SMPL_MODEL_PATH and EFT_J_REGRESSOR_EXTRA_PATH"
)
def test_licensed_smpl_file_when_configured() -> None:
    assert SMPL_PATH is not None
    assert EXTRA_PATH is not None
    smpl = BodyModel.from_smpl(Path(SMPL_PATH), Path(EXTRA_PATH))
    out = smpl(torch.zeros(1, 10), torch.eye(3).repeat(1, 24, 1, 1))
    assert out.vertices.shape == (1, 6890, 3)
    assert out.joints_spin49.shape == (1, 49, 3)


def test_joints_without_the_mesh_are_the_forward_s_joints(body: BodyModel) -> None:
    generator = torch.Generator().manual_seed(5)
    pose = axis_angle_to_rotmat(0.5 * torch.randn(8, 24, 3, generator=generator)).double()
    betas = 1.5 * torch.randn(8, 10, generator=generator).double()
    with torch.no_grad():
        full = body(betas, pose).joints_spin49
        joints = body.joints_spin49(betas, pose)
    assert joints.shape == (8, 49, 3)
    assert torch.allclose(joints, full, atol=1e-9)
    assert (full - full.mean(0)).abs().max() > 0.05  # the poses differ: the check is not trivial
    with pytest.raises(ValueError, match="pose_rotmat"):
        body.joints_spin49(betas, pose[:, :23])
