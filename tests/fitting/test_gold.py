"""Gold fits: the truth laid on its person by the weak camera, and fits made wrong on purpose."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.datasets.coco import iter_coco
from fitting.datasets.common import SourcePerson
from fitting.geometry.camera import CropBox, normalized_to_image, weak_perspective_project
from fitting.joints import SMPL24_NAMES, SMPL24_PARENTS
from fitting.synth.generate import SynthConfig, generate, project
from fitting.synth.gold import (
    BEYOND_LIMIT_DEG,
    MIN_CHANGE_M,
    TRUTH_KIND,
    WRONG_KINDS,
    GoldFit,
    TruthView,
    crop_view_rotation,
    gold_fits,
    gold_plan,
    joint_change,
    pose_to_rotmat,
    truth_view,
    weak_camera,
    weak_project,
    wrong_pose,
)
from fitting.synth.poses import (
    ARM_JOINTS,
    LIMITS_DEG,
    euler_to_rotmat,
    rotmat_to_axis_angle_np,
    rotmat_to_euler,
    within_limits,
)

# One person an image, all inside it: the crop box then holds the whole body, as for gold items.
CONFIG = SynthConfig(people=6, seed=21, width=192, height=192, max_people_per_image=1, truncation_rate=0.0)
LIMB_KINDS = ("forearm", "shin", "arm_behind")
People = list[tuple[SourcePerson, dict[str, np.ndarray], TruthView]]


@pytest.fixture(scope="module")
def gold_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gold") / "set"
    generate(CONFIG, out, progress=False)
    return out


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.open_body(dtype=torch.float64)


@pytest.fixture(scope="module")
def people(gold_set: Path, body: BodyModel) -> People:
    """(person, truth row, truth view) for every person of the set."""
    by_id = {int(p.annotation_id): p for p in iter_coco(gold_set / "annotations.json")}
    with np.load(gold_set / "truth.npz") as data:
        truth = {key: np.asarray(data[key]) for key in data.files}
    rows = []
    for i, annotation_id in enumerate(truth["annotation_id"]):
        person = by_id[int(annotation_id)]
        row = {key: value[i] for key, value in truth.items()}
        view = truth_view(
            body, row["betas"], row["pose_axis_angle"], row["transl"], float(row["focal"]),
            (float(row["principal"][0]), float(row["principal"][1])), person.box(), person.image_size,
        )  # fmt: skip
        rows.append((person, row, view))
    return rows


def _joints(body: BodyModel, betas: np.ndarray, pose_rotmat: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = body(torch.as_tensor(betas[None], dtype=torch.float64), torch.as_tensor(pose_rotmat[None]))
    joints: np.ndarray = out.joints_smpl24[0].numpy()
    return joints


# --- the weak camera --------------------------------------------------------------------------
def test_weak_camera_recovers_a_camera_that_made_the_pixels() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(0, 0.5, size=(50, 3))
    box = CropBox(120.0, 90.0, 0.8)
    cam = np.array([1.3, 0.12, -0.25])
    assert np.allclose(weak_camera(points, weak_project(points, cam, box), box), cam, atol=1e-12)


def test_weak_project_is_the_pipelines_projection() -> None:
    """Crop-normalised ``s X + tx`` (fitting.geometry.camera, camera_view), then the crop to pixels."""
    rng = np.random.default_rng(1)
    points = rng.normal(0, 0.5, size=(7, 3))
    box = CropBox(50.0, 70.0, 1.4)
    cam = np.array([0.9, -0.3, 0.2])
    normalised = weak_perspective_project(torch.as_tensor(points[None]), torch.as_tensor(cam[None]))
    expected = normalized_to_image(normalised, box)[0].numpy()
    assert np.allclose(weak_project(points, cam, box), expected, atol=1e-12)


def test_weak_camera_refuses_bad_shapes() -> None:
    box = CropBox(0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"points_px: expected shape \(4, 2\), got \(3, 2\)"):
        weak_camera(np.zeros((4, 3)), np.zeros((3, 2)), box)
    with pytest.raises(ValueError, match="points_body"):
        weak_camera(np.zeros((4, 2)), np.zeros((4, 2)), box)


def test_crop_view_rotation_turns_the_optical_axis_onto_the_box_ray() -> None:
    focal, principal = 300.0, (96.0, 96.0)
    box = CropBox(170.0, 40.0, 0.5)
    rot = crop_view_rotation(box, focal, principal)
    ray = np.array([(170.0 - 96.0) / focal, (40.0 - 96.0) / focal, 1.0])
    assert np.allclose(rot @ [0.0, 0.0, 1.0], ray / np.linalg.norm(ray), atol=1e-12)
    assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(rot), 1.0)
    assert np.allclose(crop_view_rotation(CropBox(96.0, 96.0, 0.5), focal, principal), np.eye(3))


def test_the_truths_camera_lays_its_joints_on_their_pixels(people: People, body: BodyModel) -> None:
    """The stored 3D joints (perspective) against the truth view through its weak camera."""
    errors = []
    for person, row, view in people:
        box = person.box()
        assert person.bbox is not None
        assert box == CropBox.from_bbox(*person.bbox)  # the web app's person_box: the annotated box
        stored_px = project(row["joints_smpl24"], float(row["focal"]), tuple(row["principal"]))
        joints = _joints(body, row["betas"].astype(np.float64), view.pose_rotmat)
        drawn_px = weak_project(joints, view.cam_weak, box)
        error = np.linalg.norm(drawn_px - stored_px, axis=1) / box.side
        errors.append(error.mean())
        assert error.mean() < 0.025, (person.annotation_id, error.mean())
        assert error.max() < 0.06, (person.annotation_id, error.max())
        assert view.camera_error == pytest.approx(error.max(), abs=2e-3)  # float32 storage of the joints
        assert 0.5 < view.cam_weak[0] < 3.0  # a whole body fills most of its crop (s ~ 2 / height)
    assert np.mean(errors) < 0.015


def test_the_truth_view_keeps_the_truths_joint_rotations(people: People) -> None:
    for _, row, view in people:
        truth = pose_to_rotmat(row["pose_axis_angle"])
        assert np.allclose(view.pose_rotmat[1:], truth[1:], atol=1e-12)
        turn = view.pose_rotmat[0] @ truth[0].T  # the crop-view turn, at most the half field of view
        assert np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1))) < 45.0


# --- wrong poses ------------------------------------------------------------------------------
def _euler(pose_axis_angle: np.ndarray) -> np.ndarray:
    rot = pose_to_rotmat(pose_axis_angle)
    return rotmat_to_euler(rot[1:], np.array([j in ARM_JOINTS for j in range(1, 24)]))


@pytest.mark.parametrize("kind", LIMB_KINDS)
def test_a_broken_limb_is_far_past_one_joint_limit(people: People, kind: str) -> None:
    rng = np.random.default_rng(5)
    part = {"forearm": "elbow", "shin": "knee", "arm_behind": "shoulder"}[kind]
    sides = set()
    for _, _, view in people:
        pose = rotmat_to_axis_angle_np(view.pose_rotmat)
        assert within_limits(pose[None], tolerance_deg=0.01).all()
        wrong = wrong_pose(pose, kind, rng)
        inside = within_limits(wrong[None])[0]
        broken = [SMPL24_NAMES[j + 1] for j in np.flatnonzero(~inside)]
        assert len(broken) == 1, broken
        assert broken[0].endswith(part), broken
        sides.add(broken[0].split("_")[0])
        euler = _euler(wrong)[SMPL24_NAMES.index(broken[0]) - 1]
        low, high = LIMITS_DEG[SMPL24_NAMES.index(broken[0])].T
        past = np.max(np.maximum(low - euler, euler - high))
        assert BEYOND_LIMIT_DEG[0] - 1e-6 <= past <= BEYOND_LIMIT_DEG[1] + 1e-6
        assert np.allclose(pose_to_rotmat(wrong)[0], view.pose_rotmat[0], atol=1e-9)  # same orientation
    assert sides == {"left", "right"}


def _global_rotations(rot: np.ndarray) -> np.ndarray:
    """``(24, 3, 3)`` local rotations to each joint's rotation in the root's parent frame."""
    out = rot.copy()
    for joint in range(1, 24):
        out[joint] = out[SMPL24_PARENTS[joint]] @ rot[joint]
    return out


def test_broken_limbs_bend_the_wrong_way(people: People, body: BodyModel) -> None:
    """In the frame of the limb's parent (y up, facing +z at rest): a forearm and an upper arm
    go back, a shin forwards."""
    rng = np.random.default_rng(6)
    for _, row, view in people:
        pose = rotmat_to_axis_angle_np(view.pose_rotmat)
        betas = row["betas"].astype(np.float64)
        for kind, (top, end), sign in (
            ("forearm", ("elbow", "wrist"), -1.0),
            ("arm_behind", ("shoulder", "elbow"), -1.0),
            ("shin", ("knee", "ankle"), 1.0),
        ):
            rot = pose_to_rotmat(wrong_pose(pose, kind, rng))
            joints = _joints(body, betas, rot)
            moved = np.linalg.norm(joints - _joints(body, betas, view.pose_rotmat), axis=1)
            side = "left" if moved[SMPL24_NAMES.index(f"left_{end}")] > 1e-6 else "right"
            top_joint = SMPL24_NAMES.index(f"{side}_{top}")
            segment = joints[SMPL24_NAMES.index(f"{side}_{end}")] - joints[top_joint]
            local = _global_rotations(rot)[SMPL24_PARENTS[top_joint]].T @ segment
            assert sign * local[2] / np.linalg.norm(local) > 0.4, (kind, side, local)


@pytest.mark.parametrize("kind", [k for k in WRONG_KINDS if k != "legs_swapped"])
def test_every_wrong_kind_moves_the_body_visibly(people: People, body: BodyModel, kind: str) -> None:
    rng = np.random.default_rng(7)
    for person, row, view in people:
        pose = rotmat_to_axis_angle_np(view.pose_rotmat)
        betas = row["betas"].astype(np.float64)
        wrong = wrong_pose(pose, kind, rng)
        assert joint_change(body, betas, pose, wrong) >= 0.2  # 20 cm in 3D (side view)
        box = person.box()
        drawn = weak_project(_joints(body, betas, view.pose_rotmat), view.cam_weak, box)
        moved = weak_project(_joints(body, betas, pose_to_rotmat(wrong)), view.cam_weak, box)
        assert np.linalg.norm(moved - drawn, axis=1).max() / box.side >= 0.04  # in the camera view


def test_turned_turns_the_body_about_its_own_vertical_axis(people: People) -> None:
    rng = np.random.default_rng(8)
    angles = []
    for _, _, view in people:
        pose = rotmat_to_axis_angle_np(view.pose_rotmat)
        turned = pose_to_rotmat(wrong_pose(pose, "turned", rng))
        relative = view.pose_rotmat[0].T @ turned[0]  # R0' = R0 Ry(angle)
        angle = np.degrees(np.arctan2(relative[0, 2], relative[0, 0]))
        assert np.allclose(relative, euler_to_rotmat(np.array([0.0, angle, 0.0])), atol=1e-9)
        assert np.allclose(turned[1:], view.pose_rotmat[1:], atol=1e-9)
        angles.append(angle)
    assert all(70.0 - 1e-6 <= abs(a) <= 150.0 + 1e-6 for a in angles)
    assert min(angles) < 0 < max(angles)


def test_legs_swapped_mirrors_the_legs_and_twice_gives_the_pose_back(people: People, body: BodyModel) -> None:
    rng = np.random.default_rng(9)
    mirror = np.diag([-1.0, 1.0, 1.0])
    for _, _, view in people:
        pose = rotmat_to_axis_angle_np(view.pose_rotmat)
        swapped = wrong_pose(pose, "legs_swapped", rng)
        rot = pose_to_rotmat(swapped)
        left, right = SMPL24_NAMES.index("left_knee"), SMPL24_NAMES.index("right_knee")
        assert np.allclose(rot[left], mirror @ view.pose_rotmat[right] @ mirror, atol=1e-9)
        assert within_limits(swapped[None], tolerance_deg=0.01).all()  # a body that could be
        back = pose_to_rotmat(wrong_pose(swapped, "legs_swapped", rng))
        assert np.allclose(back, view.pose_rotmat, atol=1e-9)
    # Legs apart (one forward, one back): swapped, the feet trade places.
    euler = np.zeros((24, 3))
    euler[SMPL24_NAMES.index("left_hip")] = (-40.0, 0.0, 0.0)
    euler[SMPL24_NAMES.index("right_hip")] = (20.0, 0.0, 0.0)
    stride = rotmat_to_axis_angle_np(euler_to_rotmat(euler))
    assert joint_change(body, np.zeros(10), stride, wrong_pose(stride, "legs_swapped", rng)) > 0.5


def test_wrong_pose_refuses_an_unknown_kind_or_shape() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown wrong kind 'elbow'"):
        wrong_pose(np.zeros((24, 3)), "elbow", rng)
    with pytest.raises(ValueError, match=r"expected shape \(24, 3\), got \(23, 3\)"):
        wrong_pose(np.zeros((23, 3)), "turned", rng)


# --- gold sets --------------------------------------------------------------------------------
def test_the_plan_has_the_share_of_truths_and_goes_round_the_kinds() -> None:
    plan = gold_plan(1000, np.random.default_rng(3), share_right=0.4)
    assert plan.count(TRUTH_KIND) == 400
    wrong = [k for k in plan if k != TRUTH_KIND]
    assert all(wrong.count(k) == 120 for k in WRONG_KINDS)
    assert all(len(set(wrong[i : i + 5])) == 5 for i in range(len(wrong) - 4))  # a rotation
    assert plan == gold_plan(1000, np.random.default_rng(3), share_right=0.4)
    assert plan != gold_plan(1000, np.random.default_rng(4), share_right=0.4)
    assert plan[:20].count(TRUTH_KIND) not in (0, 20)  # truths spread, not in a block
    assert gold_plan(10, np.random.default_rng(0), 0.0).count(TRUTH_KIND) == 0
    assert gold_plan(10, np.random.default_rng(0), 1.0) == [TRUTH_KIND] * 10
    with pytest.raises(ValueError, match="share_right"):
        gold_plan(10, np.random.default_rng(0), 1.5)


def test_gold_fits_are_deterministic_and_say_the_right_answer(
    gold_set: Path, people: People, body: BodyModel
) -> None:
    fits = gold_fits(gold_set, 7, body=body)
    again = gold_fits(gold_set, 7, body=body)
    assert [json.dumps(_plain(f)) for f in fits] == [json.dumps(_plain(f)) for f in again]
    assert [f.annotation_id for f in fits] == [int(p.annotation_id) for p, _, _ in people]
    assert sum(f.answer == "accept" for f in fits) == round(0.4 * CONFIG.people)
    views = {int(p.annotation_id): (row, view) for p, row, view in people}
    for fit in fits:
        row, view = views[fit.annotation_id]
        assert fit.pose_rotmat.dtype == fit.betas.dtype == fit.cam_weak.dtype == np.float64
        assert np.allclose(fit.cam_weak, view.cam_weak)
        assert np.allclose(fit.betas, row["betas"])
        assert fit.camera_error == pytest.approx(view.camera_error)
        truth = rotmat_to_axis_angle_np(view.pose_rotmat)
        change = joint_change(body, fit.betas, truth, rotmat_to_axis_angle_np(fit.pose_rotmat))
        if fit.answer == "accept":
            assert fit.kind == TRUTH_KIND
            assert change < 1e-9
        else:
            assert fit.kind in WRONG_KINDS
            assert fit.reason == WRONG_KINDS[fit.kind]
            assert change >= MIN_CHANGE_M
    assert len({f.kind for f in fits if f.answer == "reject"}) >= 3  # the kinds go round
    assert [f.kind for f in gold_fits(gold_set, 7, share_right=0.0, body=body)].count(TRUTH_KIND) == 0
    kept = gold_fits(gold_set, 7, body=body, max_camera_error=sorted(v.camera_error for _, _, v in people)[2])
    assert len(kept) == 3


def _plain(fit: GoldFit) -> dict[str, object]:
    return {
        "id": fit.annotation_id, "pose": np.round(fit.pose_rotmat, 12).tolist(), "betas": fit.betas.tolist(),
        "cam": fit.cam_weak.tolist(), "answer": fit.answer, "kind": fit.kind, "reason": fit.reason,
    }  # fmt: skip


def test_a_gold_fit_checks_its_shapes_and_answer() -> None:
    rest = np.tile(np.eye(3), (24, 1, 1))
    GoldFit(1, rest, np.zeros(10), np.ones(3), "reject", "shin", WRONG_KINDS["shin"])
    with pytest.raises(ValueError, match=r"GoldFit.betas: expected \(10,\), got \(9,\)"):
        GoldFit(1, rest, np.zeros(9), np.ones(3), "accept", TRUTH_KIND, "")
    with pytest.raises(ValueError, match="answered 'accept'"):
        GoldFit(1, rest, np.zeros(10), np.ones(3), "reject", TRUTH_KIND, "")
    with pytest.raises(ValueError, match="neither"):
        GoldFit(1, rest, np.zeros(10), np.ones(3), "reject", "elbow", "")


# --- pictures ---------------------------------------------------------------------------------
def test_the_truth_is_drawn_on_the_person_and_a_wrong_fit_off_it(
    gold_set: Path, people: People, body: BodyModel, tmp_path: Path
) -> None:
    """camera_view as the render worker calls it: the truth's mesh covers the person's box."""
    from PIL import Image

    from fitting.geometry.camera import crop_image
    from fitting.render.overlay import camera_view

    person, row, view = people[0]
    box = person.box()
    image = np.asarray(Image.open(gold_set / "images" / person.image_name).convert("RGB"))
    betas = row["betas"].astype(np.float64)
    size = 256
    crop = crop_image(image, box, size)
    truth = rotmat_to_axis_angle_np(view.pose_rotmat)
    wrong = pose_to_rotmat(wrong_pose(truth, "shin", np.random.default_rng(1)))
    masks = []
    for name, rot in (("truth", view.pose_rotmat), ("shin", wrong)):
        with torch.no_grad():
            vertices = body(torch.as_tensor(betas[None]), torch.as_tensor(rot[None])).vertices[0].numpy()
        picture = camera_view(image, box, vertices, body.faces, view.cam_weak, size=size)
        Image.fromarray(picture).save(tmp_path / f"{name}.png")
        masks.append(np.abs(picture.astype(int) - crop.astype(int)).sum(axis=-1) > 30)
    # The person's annotated box (its rendered silhouette's bounds) in the crop's pixels.
    k = size / box.side
    assert person.bbox is not None
    x, y, w, h = person.bbox
    x0, y0 = (x - box.center_x) * k + size / 2, (y - box.center_y) * k + size / 2
    rows, cols = np.nonzero(masks[0])
    drawn = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    person_box = (x0, y0, x0 + w * k, y0 + h * k)
    inter = max(0.0, min(drawn[2], person_box[2]) - max(drawn[0], person_box[0])) * max(
        0.0, min(drawn[3], person_box[3]) - max(drawn[1], person_box[1])
    )
    union = (drawn[2] - drawn[0]) * (drawn[3] - drawn[1]) + w * h * k * k - inter
    assert inter / union > 0.85
    assert (masks[0] != masks[1]).sum() > 0.01 * size * size  # the wrong shin shows
