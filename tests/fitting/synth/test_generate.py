"""The synthetic generator: files, determinism, keypoints that match the stored truth, visibility."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.synth.generate import SynthConfig, _render, generate, project, visibility
from fitting.synth.poses import sample_poses

CONFIG = SynthConfig(people=6, seed=11, width=192, height=192)


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "set"
    generate(CONFIG, out, progress=False)
    return out


def test_files_and_counts(synth_set: Path) -> None:
    coco = json.loads((synth_set / "annotations.json").read_text())
    assert len(coco["annotations"]) == CONFIG.people
    assert coco["categories"][0]["keypoints"][0] == "nose"
    for image in coco["images"]:
        assert (synth_set / "images" / image["file_name"]).is_file()
    for ann in coco["annotations"]:
        assert len(ann["keypoints"]) == 51
        assert ann["num_keypoints"] == sum(1 for v in ann["keypoints"][2::3] if v > 0)
        assert ann["num_keypoints"] >= CONFIG.min_visible_keypoints
    truth = np.load(synth_set / "truth.npz")
    assert truth["pose_axis_angle"].shape == (CONFIG.people, 24, 3)
    assert json.loads((synth_set / "meta.json").read_text())["people"] == CONFIG.people


def test_deterministic_for_a_seed(synth_set: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(CONFIG, again, progress=False)
    assert (again / "annotations.json").read_bytes() == (synth_set / "annotations.json").read_bytes()
    first = sorted((synth_set / "images").iterdir())[0].name
    assert (again / "images" / first).read_bytes() == (synth_set / "images" / first).read_bytes()


def test_stored_3d_projects_to_stored_2d(synth_set: Path) -> None:
    truth = np.load(synth_set / "truth.npz")
    for i in range(CONFIG.people):
        projected = project(truth["joints_spin49"][i], float(truth["focal"][i]), tuple(truth["principal"][i]))
        assert np.allclose(projected, truth["joints_spin49_px"][i, :, :2], atol=1e-2)


def test_stored_smpl_parameters_reproduce_joints_and_keypoints(synth_set: Path) -> None:
    truth = np.load(synth_set / "truth.npz")
    coco = json.loads((synth_set / "annotations.json").read_text())
    anns = {a["id"]: a for a in coco["annotations"]}
    body = BodyModel.open_body(dtype=torch.float64)
    pose = axis_angle_to_rotmat(torch.as_tensor(truth["pose_axis_angle"], dtype=torch.float64))
    out = body(
        torch.as_tensor(truth["betas"], dtype=torch.float64),
        pose,
        torch.as_tensor(truth["transl"], dtype=torch.float64),
    )
    assert np.allclose(out.joints_spin49.numpy(), truth["joints_spin49"], atol=1e-4)
    coco3d = body.keypoints_coco17(out.vertices).numpy()
    for i, annotation_id in enumerate(truth["annotation_id"]):
        keypoints = np.asarray(anns[int(annotation_id)]["keypoints"]).reshape(17, 3)
        labelled = keypoints[:, 2] > 0
        projected = project(coco3d[i], float(truth["focal"][i]), tuple(truth["principal"][i]))
        assert np.allclose(projected[labelled], keypoints[labelled, :2], atol=0.02)


def test_visibility_rule() -> None:
    depth = np.full((10, 10), 2.0, dtype=np.float32)
    index = np.ones((10, 10), dtype=np.int32)
    index[:, 5:] = 2  # person 2 covers the right half
    points = np.array([[2.5, 2.5], [2.5, 2.5], [7.5, 7.5], [12.0, 3.0]])
    depths = np.array([2.05, 2.4, 2.05, 2.0])
    vis = visibility(points, depths, 1, depth, index)
    # just under its own surface: visible; 40 cm behind its own surface: occluded;
    # behind another person: occluded; outside the frame: not labelled
    assert vis.tolist() == [2, 1, 1, 0]


@pytest.mark.parametrize(("turn", "expected"), [(0.0, 2), (np.pi, 1)])
def test_nose_is_occluded_when_the_person_faces_away(turn: float, expected: int) -> None:
    body = BodyModel.open_body(dtype=torch.float64)
    pose = torch.zeros(1, 24, 3, dtype=torch.float64)
    # camera frame: y down; upright = 180 degrees about x, then a turn about the vertical axis
    upright = axis_angle_to_rotmat(torch.tensor([[np.pi, 0.0, 0.0]], dtype=torch.float64))
    heading = axis_angle_to_rotmat(torch.tensor([[0.0, turn, 0.0]], dtype=torch.float64))
    rot = axis_angle_to_rotmat(pose)
    rot[:, 0] = heading @ upright
    out = body(
        torch.zeros(1, 10, dtype=torch.float64), rot, torch.tensor([[0.0, 0.0, 4.0]], dtype=torch.float64)
    )
    config = SynthConfig(width=128, height=128)
    focal = 200.0
    colours = np.full((body.num_vertices, 4), 200, dtype=np.uint8)
    _colour, depth, index = _render(
        [(out.vertices[0].numpy(), colours)], body.faces, focal, config, np.random.default_rng(0)
    )
    nose = body.keypoints_coco17(out.vertices)[0, :1].numpy()
    vis = visibility(project(nose, focal, (64.0, 64.0)), nose[:, 2], 1, depth, index)
    assert vis[0] == expected


def test_a_hard_set_draws_seats_that_hide_the_legs(tmp_path: Path) -> None:
    from fitting.synth.generate import HELDOUT_SETS, seat_mesh

    out = tmp_path / "hard"
    generate(SynthConfig(people=6, seed=4, width=160, height=160, distribution="hard"), out, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["config"]["distribution"] == "hard"
    assert not set(meta["families"]) & {"standing", "walking", "running"}
    assert HELDOUT_SETS["everyday"].distribution == "everyday"
    assert HELDOUT_SETS["hard"].seed != 2
    # The seat under a seated person, in the camera frame: under the thighs, in front of the back,
    # and a wheelchair's wheels beside the hips.
    body = BodyModel.open_body()
    poses = sample_poses(200, np.random.default_rng(3), distribution="hard")
    i = poses.occluder.index("wheelchair")
    rot = axis_angle_to_rotmat(torch.as_tensor(poses.axis_angle[i : i + 1], dtype=torch.float32))
    joints = body(torch.zeros(1, 10), rot).joints_smpl24[0].double().numpy()
    root = rot[0, 0].double().numpy()
    verts, faces, colour = seat_mesh("wheelchair", joints, root, np.random.default_rng(0))
    local = (verts - joints[0]) @ root  # body frame: x left, y up, z forward
    hips_y = min(joints[1, 1], joints[2, 1]) - joints[0, 1]
    assert faces.max() < len(verts)
    assert colour.shape == (3,)
    assert local[:, 1].max() > hips_y  # the backrest rises above the seat
    seat_top = np.sort(local[:, 1])
    assert (local[:, 0].max() - local[:, 0].min()) > 0.55  # wheels outside the hips
    assert seat_top[0] < min(joints[7, 1], joints[8, 1]) - joints[0, 1]  # legs reach the floor


def test_a_seat_hides_what_is_behind_it() -> None:
    from fitting.synth.generate import OBJECT_INDEX, _box

    verts, faces = _box((-0.3, -0.3, 2.0), (0.3, 0.3, 2.1))
    config = SynthConfig(width=64, height=64)
    body = BodyModel.open_body()
    person = body(torch.zeros(1, 10), torch.eye(3).repeat(1, 24, 1, 1)).vertices[0].double().numpy()
    person = person - person.mean(axis=0) + np.array([0.0, 0.0, 4.0])
    colours = np.full((len(person), 3), 200, dtype=np.uint8)
    _, depth, index = _render(
        [(person, colours)], body.faces, 64.0, config, np.random.default_rng(0),
        [(verts, faces, np.array([90, 90, 90], dtype=np.uint8))],
    )  # fmt: skip
    assert index[32, 32] == OBJECT_INDEX
    assert abs(depth[32, 32] - 2.0) < 0.05
    assert (index == 1).any()  # the person shows around it
