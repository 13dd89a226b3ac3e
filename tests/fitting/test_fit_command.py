"""`python -m fitting fit`: COCO keypoints in, EFT JSON (and pictures) out; bad input refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fitting.__main__ import main
from fitting.datasets.coco import iter_coco
from fitting.datasets.common import DatasetError, ReadStats
from fitting.datasets.filters import get_filter
from fitting.train.data import load_eft_json
from tests.support.coco import coco_person, make_coco


def _coco(tiny_set: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((tiny_set / "annotations.json").read_text())


def test_reads_people_with_enough_labels(tiny_set: Path, tmp_path: Path) -> None:
    stats = ReadStats()
    people = list(iter_coco(tiny_set / "annotations.json", stats))
    # The tiny set (conftest.py): 4 people, one per 192 x 192 image, none truncated; the
    # generator (seed 33) labels 15, 17, 17 and 17 of their 17 keypoints: COCO-All keeps all 4.
    assert stats.annotations == len(people) == 4
    assert [p.labelled for p in people] == [15, 17, 17, 17]
    kept = [p for p in people if get_filter("coco-all").keep(p)]
    assert len(kept) == 4
    person = kept[0]
    assert person.labels_gt24.shape == (24, 3)
    assert (tiny_set / "images" / person.image_name).is_file()
    assert person.image_size == (192, 192)
    # At COCO-All's boundary, on hand-made people: 6 labelled keypoints are enough, 5 are not.
    edge = make_coco(
        tmp_path / "edge", [coco_person(1, 0, labelled=6), coco_person(2, 0, labelled=5)], images=1
    )
    found = [
        (p.annotation_id, p.labelled, get_filter("coco-all").keep(p))
        for p in iter_coco(edge / "annotations.json")
    ]
    assert found == [("1", 6, True), ("2", 5, False)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["annotations"][0].update(keypoints=[1.0] * 50), r"\): keypoints must be a list of 51"),
        (lambda c: c["annotations"][0]["keypoints"].__setitem__(2, 3), r"visibility must be 0, 1 or 2"),
        (lambda c: c["annotations"][0]["keypoints"].__setitem__(0, "x"), r"\[0\] is 'x', not a finite"),
        (lambda c: c["annotations"][0]["keypoints"].__setitem__(0, float("nan")), r"not valid JSON"),
        (lambda c: c["annotations"][0].update(image_id=999_999), r"image_id 999999 is not in 'images'"),
        (lambda c: c["annotations"].append(dict(c["annotations"][0])), r"annotation id appears twice"),
        (lambda c: c.pop("images"), r"'images' and 'annotations' lists; no images"),
        (lambda c: c["images"][0].update(width=-3), r"images\[0\]: width must be a positive integer"),
    ],
)  # fmt: skip
def test_malformed_files_say_what_and_where(tiny_set: Path, tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    coco = _coco(tiny_set)
    change(coco)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(coco))
    with pytest.raises(DatasetError, match=message):
        list(iter_coco(path))


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(DatasetError, match=r"x\.json: not valid JSON"):
        list(iter_coco(path))
    with pytest.raises(DatasetError, match=r"missing\.json: file does not exist"):
        list(iter_coco(tmp_path / "missing.json"))


def test_fit_writes_eft_json_that_loads_back(tiny_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "fits.json"
    pictures = tmp_path / "pictures"
    code = main(["fit", "--coco", str(tiny_set / "annotations.json"), "--images", str(tiny_set / "images"),
                 "--out", str(out), "--method", "eft", "--iterations", "2", "--limit", "2",
                 "--pictures", str(pictures), "--device", "cpu"])  # fmt: skip
    assert code == 0
    export = json.loads(out.read_text())
    assert export["meta"]["dbname"] == "annotations"
    entries = export["data"]
    assert len(entries) == 2
    first = entries[0]
    assert np.asarray(first["parm_pose"]).shape == (24, 3, 3)
    assert np.asarray(first["gt_keypoint_2d"]).shape == (49, 3)
    assert first["fit"]["method"] == "eft"
    assert first["fit"]["iterations"] <= 2
    assert first["fit"]["config"]["max_iterations"] == 2
    assert first["fit"]["sanity_code"] in ("ok", "betas", "keypoint_loss")
    assert first["fit"]["upright_turn_deg"] == 0
    hard = tmp_path / "hard.json"
    assert main(["fit", "--coco", str(tiny_set / "annotations.json"), "--images", str(tiny_set / "images"),
                 "--out", str(hard), "--preset", "hard", "--threshold-px", "0", "--upright",
                 "--sanity", "plausible", "--limit", "1", "--device", "cpu"]) == 0  # fmt: skip
    made = json.loads(hard.read_text())["data"][0]["fit"]
    assert (made["iterations"], made["config"]["max_iterations"], made["config"]["upright_search"]) == (
        100,
        100,
        True,
    )
    assert made["sanity_rule"] == "plausible"
    assert len(first["fit"]["checkpoint_sha256"]) == 64
    ids = {a["id"] for a in _coco(tiny_set)["annotations"]}
    assert {e["annotId"] for e in entries} <= ids
    people = load_eft_json(out, tiny_set / "images")
    np.testing.assert_allclose(people[0].pose_rotmat, first["parm_pose"])
    assert people[0].image_path.is_file()
    picture = Image.open(pictures / f"{first['annotId']}.jpg")
    assert picture.size == (3 * 256, 256)


def test_corrupt_image_writes_nothing_unless_skipped(tiny_set: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    shutil.copytree(tiny_set / "images", images)
    victim = sorted(images.iterdir())[0]
    victim.write_bytes(b"\xff\xd8 this is not a jpeg")
    out = tmp_path / "fits.json"
    argv = ["fit", "--coco", str(tiny_set / "annotations.json"), "--images", str(images), "--out", str(out),
            "--method", "regressor", "--device", "cpu"]  # fmt: skip
    with pytest.raises(SystemExit, match=f"{victim.name} is not a decodable image.*nothing written"):
        main(argv)
    assert not out.exists()
    assert main([*argv, "--skip-bad-images"]) == 1
    names = {e["imageName"] for e in json.loads(out.read_text())["data"]}
    assert victim.name not in names
    assert names
