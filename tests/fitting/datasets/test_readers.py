"""The dataset readers on small files made here, in each format as it is distributed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io

from fitting.datasets import ReadStats, read_people
from fitting.datasets.common import DatasetError
from fitting.datasets.filters import LIMB_JOINTS, get_filter
from fitting.datasets.lsp import iter_lsp
from fitting.joints import GT24_NAMES

G = GT24_NAMES.index


def _mpii_person(image: str, shift: float = 0.0) -> dict[str, Any]:
    joints = [[100.0 + 10 * k + shift, 200.0 + 5 * k] for k in range(16)]
    vis = [1] * 16
    vis[9] = 0  # head top not labelled
    return {"image": image, "joints": joints, "joints_vis": vis, "center": [150.0, 250.0], "scale": 1.5}


def test_mpii_json_list(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps([_mpii_person("a.jpg"), _mpii_person("a.jpg", 5.0), _mpii_person("b.jpg")]))
    stats = ReadStats()
    people = list(read_people("mpii", path, stats))
    assert stats.people == 3
    first = people[0]
    assert (first.annotation_id, first.subject_id, people[1].subject_id) == ("0", "a.jpg#0", "a.jpg#1")
    # r_ankle (MPII 0) is GT-24's right ankle; 1-based MATLAB pixels become 0-based
    np.testing.assert_allclose(first.labels_gt24[G("Right Ankle")], [99.0, 199.0, 1.0])
    assert first.labels_gt24[G("Top of Head (LSP)"), 2] == 0  # joints_vis 0
    assert first.labels_gt24[G("Pelvis (MPII)"), 2] == 1
    assert first.bbox == (0.0, 100.0, 300.0, 300.0)  # side 200 * scale around the centre


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({**_mpii_person("a.jpg"), "joints": [[1.0, 2.0]] * 15}, r"joints must be 16 \[x, y\] pairs, got 15"),
        ({**_mpii_person("a.jpg"), "joints_vis": [2] * 16}, r"joints_vis must be 0 or 1"),
        ({**_mpii_person("a.jpg"), "scale": 0}, r"scale must be positive"),
        ({k: v for k, v in _mpii_person("a.jpg").items() if k != "center"}, r"missing \['center'\]"),
    ],
)  # fmt: skip
def test_mpii_bad_entries(tmp_path: Path, item: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([item]))
    with pytest.raises(DatasetError, match=message):
        list(read_people("mpii", path))


def test_mpii_not_a_list_or_not_json(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps({"annolist": []}))
    with pytest.raises(DatasetError, match="expected a JSON list of MPII people"):
        list(read_people("mpii", path))
    path.write_text("[{")
    with pytest.raises(DatasetError, match="not valid JSON"):
        list(read_people("mpii", path))


def _lsp_arrays(count: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    joints = np.zeros((count, 14, 3))
    joints[:, :, :2] = rng.uniform(10, 200, size=(count, 14, 2))
    return joints


def test_lsp_and_lspet_layouts_and_flags(tmp_path: Path) -> None:
    per_person = _lsp_arrays(3)
    lsp = per_person.copy()
    lsp[0, 5, 2] = 1.0  # LSP: occluded, still labelled
    scipy.io.savemat(tmp_path / "lsp.mat", {"joints": lsp.transpose(2, 1, 0)})  # 3 x 14 x N
    lspet = per_person.copy()
    lspet[:, :, 2] = 1.0
    lspet[0, 5, 2] = 0.0  # LSPet: not visible, not labelled
    scipy.io.savemat(tmp_path / "lspet.mat", {"joints": lspet.transpose(1, 2, 0)})  # 14 x 3 x N

    a = list(read_people("lsp", tmp_path / "lsp.mat"))
    b = list(read_people("lsp", tmp_path / "lspet.mat"))
    assert (a[0].extra["convention"], b[0].extra["convention"]) == ("lsp", "lspet")
    assert (a[0].image_name, b[0].image_name) == ("im0001.jpg", "im00001.jpg")
    assert a[0].labelled == 14  # every LSP joint is labelled, occluded or not
    assert a[0].keypoints[5, 2] == 1.0  # the raw occlusion flag is kept
    assert b[0].labelled == 13
    assert b[0].labels_gt24[G("Left Ankle"), 2] == 0
    np.testing.assert_allclose(a[1].labels_gt24[:14, :2], per_person[1, :, :2] - 1.0)
    np.testing.assert_allclose(b[1].labels_gt24[:14, :2], per_person[1, :, :2] - 1.0)


def test_lsp_bad_files(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "shape.mat", {"joints": np.zeros((4, 14, 2))})
    with pytest.raises(DatasetError, match=r"shape \(4, 14, 2\); expected 3 x 14 x N \(LSP\) or 14 x 3 x N"):
        list(read_people("lsp", tmp_path / "shape.mat"))
    scipy.io.savemat(tmp_path / "other.mat", {"points": np.zeros((3, 14, 2))})
    with pytest.raises(DatasetError, match=r"no 'joints' array \(found \['points'\]\)"):
        list(read_people("lsp", tmp_path / "other.mat"))
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DatasetError, match=r"not a readable MATLAB \.mat file"):
        list(read_people("lsp", tmp_path / "junk.mat"))
    flags = _lsp_arrays(2)
    flags[1, 3, 2] = 2.0
    scipy.io.savemat(tmp_path / "flags.mat", {"joints": flags.transpose(1, 2, 0)})
    with pytest.raises(DatasetError, match="third column must be 0 or 1"):
        list(read_people("lsp", tmp_path / "flags.mat"))
    scipy.io.savemat(tmp_path / "lsp.mat", {"joints": _lsp_arrays(2).transpose(2, 1, 0)})
    with pytest.raises(DatasetError, match="is the lsp layout, not lspet"):
        list(iter_lsp(tmp_path / "lsp.mat", convention="lspet"))


def _posetrack_video(video: int, first_id: int) -> dict[str, Any]:
    keypoints = [0.0] * 51
    keypoints[3:9] = [50.0, 60.0, 1.0, 52.0, 20.0, 1.0]  # head_bottom, head_top
    for k in range(5, 17):
        keypoints[3 * k : 3 * k + 3] = [40.0 + k, 80.0 + 8 * k, 1.0]
    return {
        "images": [
            {"id": video * 100 + f, "file_name": f"images/val/{video:06d}/{f:06d}.jpg", "vid_id": str(video),
             "frame_id": f, "is_labeled": True, "ignore_regions_x": [], "ignore_regions_y": []}
            for f in range(2)
        ],
        "annotations": [
            {"id": first_id + f, "image_id": video * 100 + f, "track_id": 7, "keypoints": keypoints,
             "bbox": [30.0, 10.0, 40.0, 200.0], "bbox_head": [40.0, 10.0, 20.0, 20.0], "category_id": 1}
            for f in range(2)
        ],
    }  # fmt: skip


def test_posetrack_folder_tracks_and_head(tmp_path: Path) -> None:
    (tmp_path / "000001_val.json").write_text(json.dumps(_posetrack_video(1, 10)))
    (tmp_path / "000002_val.json").write_text(json.dumps(_posetrack_video(2, 20)))
    people = list(read_people("posetrack", tmp_path))
    assert [p.annotation_id for p in people] == ["10", "11", "20", "21"]
    assert people[0].subject_id == "1:7"
    assert people[2].subject_id == "2:7"
    np.testing.assert_allclose(people[0].labels_gt24[G("Neck (LSP)")], [50.0, 60.0, 1.0])
    np.testing.assert_allclose(people[0].labels_gt24[G("Top of Head (LSP)")], [52.0, 20.0, 1.0])
    (tmp_path / "000003_val.json").write_text(json.dumps(_posetrack_video(3, 21)))
    with pytest.raises(DatasetError, match=r"000003_val.json: annotation id 21 is also in 000002_val.json"):
        list(read_people("posetrack", tmp_path))


def test_ochuman_native_json(tmp_path: Path) -> None:
    keypoints = []
    for k in range(19):
        keypoints += [10.0 + k, 20.0 + 3 * k, 1.0 if k != 4 else 0.0]
    data = {
        "keypoint_names": ["right_shoulder"] * 19,
        "images": [
            {"image_id": 5, "file_name": "000005.jpg", "width": 640, "height": 480, "annotations": [
                {"bbox": [10.0, 20.0, 110.0, 220.0], "keypoints": keypoints, "segms": None},
                {"bbox": [0.0, 0.0, 5.0, 5.0], "keypoints": None, "segms": None},
            ]},
        ],
    }  # fmt: skip
    path = tmp_path / "ochuman.json"
    path.write_text(json.dumps(data))
    stats = ReadStats()
    people = list(read_people("ochuman", path, stats))
    assert len(people) == 1
    assert stats.skipped == {"no keypoints": 1}
    person = people[0]
    assert (person.annotation_id, person.bbox, person.image_size) == (
        "5_0",
        (10.0, 20.0, 100.0, 200.0),
        (640, 480),
    )
    assert person.labels_gt24[G("Right Shoulder"), 2] == 1
    assert person.labels_gt24[G("Left Elbow"), 2] == 0  # OCHuman index 4 unlabelled
    data["images"][0]["annotations"][0]["bbox"] = [10.0, 20.0, 5.0, 220.0]
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"images\[0\].annotations\[0\]: bbox \[x1, y1, x2, y2\]"):
        list(read_people("ochuman", path))


def test_unknown_format_and_filters(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset format 'h36m'"):
        read_people("h36m", tmp_path)
    with pytest.raises(ValueError, match="unknown filter"):
        get_filter("coco-most")
    per_person = _lsp_arrays(1)
    scipy.io.savemat(tmp_path / "lsp.mat", {"joints": per_person.transpose(2, 1, 0)})
    person = next(read_people("lsp", tmp_path / "lsp.mat"))
    assert get_filter("coco-part").keep(person)
    person.labels_gt24[LIMB_JOINTS[3], 2] = 0.0
    assert not get_filter("coco-part").keep(person)
    assert get_filter("coco-all").keep(person)
    assert len(LIMB_JOINTS) == 12


def _struct_array(rows: list[dict[str, Any]]) -> np.ndarray:
    """A 1 x N MATLAB struct array for scipy.io.savemat."""
    fields = list(rows[0])
    array = np.zeros((1, len(rows)), dtype=[(f, object) for f in fields])
    for i, row in enumerate(rows):
        for field in fields:
            array[0, i][field] = row[field]
    return array


def test_mpii_official_mat(tmp_path: Path) -> None:
    def points(count: int) -> np.ndarray:
        return _struct_array(
            [
                {"x": 11.0 + 5 * j, "y": 21.0 + 7 * j, "id": j, "is_visible": "1" if j % 2 else "0"}
                for j in range(count)
            ]
        )

    person = {"x1": 1.0, "y1": 1.0, "x2": 9.0, "y2": 9.0, "scale": 1.0,
              "objpos": {"x": 101.0, "y": 201.0}, "annopoints": {"point": points(16)}}  # fmt: skip
    partial = {**person, "annopoints": {"point": points(12)}}
    test_person = {**person, "annopoints": np.zeros((0, 0))}
    annolist = _struct_array([
        {"image": {"name": "015601864.jpg"}, "annorect": _struct_array([person, partial])},
        {"image": {"name": "015599452.jpg"}, "annorect": _struct_array([test_person])},
    ])  # fmt: skip
    release = {"annolist": annolist, "img_train": np.array([[1, 0]])}
    scipy.io.savemat(tmp_path / "mpii_human_pose_v1_u12_1.mat", {"RELEASE": release})

    stats = ReadStats()
    people = list(read_people("mpii", tmp_path / "mpii_human_pose_v1_u12_1.mat", stats))
    assert [p.annotation_id for p in people] == ["1_1", "1_2"]
    assert stats.skipped == {"no keypoints (MPII test set or unlabelled)": 1}
    first, second = people
    np.testing.assert_allclose(first.labels_gt24[G("Right Ankle")], [10.0, 20.0, 1.0])  # id 0, 1-based
    assert first.labelled == 16
    assert second.labelled == 12
    assert second.labels_gt24[G("Left Wrist"), 2] == 0  # id 15 absent
    assert first.bbox == (0.0, 100.0, 200.0, 200.0)
    assert first.extra == {"img_train": 1}
    assert first.subject_id == "015601864.jpg#0"

    scipy.io.savemat(tmp_path / "other.mat", {"joints": np.zeros((3, 14, 1))})
    with pytest.raises(DatasetError, match=r"no RELEASE\.annolist"):
        list(read_people("mpii", tmp_path / "other.mat"))
