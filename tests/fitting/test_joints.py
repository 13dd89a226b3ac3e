"""Keypoint layouts into GT-24 and SPIN-49, checked by the joints' names and on hand-made people."""

import re

import numpy as np
import pytest

from fitting import joints as J


def canonical(name: str) -> str:
    """A dataset or GT-24 joint name reduced to 'side part' for comparison."""
    n = name.lower().replace("(lsp)", "").replace("(mpii)", "").replace("(h36m)", "").strip()
    n = re.sub(r"^r_", "right_", re.sub(r"^l_", "left_", n)).replace("_", " ").strip()
    aliases = {
        "top of head": "head top", "head": "head top", "upper neck": "neck", "head bottom": "neck",
        "pelvis": "pelvis", "thorax": "thorax",
    }  # fmt: skip
    return aliases.get(n, n)


@pytest.mark.parametrize("layout", sorted(J.LAYOUT_TO_GT24))
def test_every_layout_maps_each_joint_to_the_same_named_joint(layout: str) -> None:
    names = J.LAYOUT_NAMES[layout]
    mapping = J.LAYOUT_TO_GT24[layout]
    assert len(names) == len(mapping)
    assert len(set(mapping)) == len(mapping), "two dataset joints land on one GT-24 joint"
    for source, target in zip(names, mapping, strict=True):
        assert canonical(source) == canonical(J.GT24_NAMES[target]), (
            f"{layout}: {source} -> {J.GT24_NAMES[target]}"
        )


def test_left_and_right_are_never_swapped() -> None:
    for layout, names in J.LAYOUT_NAMES.items():
        for source, target in zip(names, J.LAYOUT_TO_GT24[layout], strict=True):
            src_side = (
                "left"
                if canonical(source).startswith("left")
                else "right"
                if canonical(source).startswith("right")
                else None
            )
            dst = J.GT24_NAMES[target].lower()
            if src_side:
                assert dst.startswith(src_side), f"{layout}: {source} -> {J.GT24_NAMES[target]}"


def test_coco_person_lands_in_gt24_and_spin49() -> None:
    # A hand-made COCO person: keypoint k at (10k, 100 + k), left wrist not labelled.
    coco = np.array([[[10.0 * k, 100.0 + k, 2.0] for k in range(17)]])
    coco[0, 9, 2] = 0  # left_wrist unlabelled
    gt = J.to_gt24(coco, "coco17")
    assert gt.shape == (1, 24, 3)
    assert gt[0, J.GT24_NAMES.index("Nose")].tolist() == [0.0, 100.0, 1.0]
    assert gt[0, J.GT24_NAMES.index("Right Ankle")].tolist() == [160.0, 116.0, 1.0]
    assert gt[0, J.GT24_NAMES.index("Left Shoulder")].tolist() == [50.0, 105.0, 1.0]
    assert gt[0, J.GT24_NAMES.index("Left Wrist")].tolist() == [0.0, 0.0, 0.0]
    assert gt[0, J.GT24_NAMES.index("Pelvis (MPII)"), 2] == 0  # COCO has no pelvis
    assert int(gt[0, :, 2].sum()) == 16
    spin = J.gt24_to_spin49(gt)
    assert spin.shape == (1, 49, 3)
    assert np.array_equal(spin[0, 25:], gt[0])
    assert not spin[0, :25].any()


def test_mpii_and_lsp_people() -> None:
    mpii = np.zeros((1, 16, 3))
    mpii[0, 6] = (50, 60, 1)  # pelvis
    mpii[0, 15] = (70, 80, 1)  # l_wrist
    gt = J.to_gt24(mpii, "mpii16")
    assert gt[0, 14].tolist() == [50, 60, 1]
    assert gt[0, J.GT24_NAMES.index("Left Wrist")].tolist() == [70, 80, 1]
    lsp = np.arange(14 * 3, dtype=float).reshape(1, 14, 3) + 1
    assert np.array_equal(J.to_gt24(lsp, "lsp14")[0, :14, :2], lsp[0, :, :2])


def test_wrong_count_and_layout_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"coco17: expected keypoints of shape \(N, 17, 3\), got \(1, 16, 3\)"
    ):
        J.to_gt24(np.zeros((1, 16, 3)), "coco17")
    with pytest.raises(ValueError, match="unknown keypoint layout 'h36m'"):
        J.to_gt24(np.zeros((1, 17, 3)), "h36m")


def test_spin49_index_points_at_the_named_smpl_joints() -> None:
    smpl54 = list(J.SMPL24_NAMES) + list(J.SMPLX_EXTRA21_NAMES) + list(J.EXTRA9_NAMES)
    picked = [smpl54[i] for i in J.SPIN49_FROM_SMPL54]
    assert picked[J.SPIN49_NAMES.index("OP RShoulder")] == "right_shoulder"
    assert picked[J.SPIN49_NAMES.index("OP LHeel")] == "LHeel"
    assert picked[J.SPIN49_NAMES.index("Right Hip")] == "Right Hip"
    assert picked[J.SPIN49_NAMES.index("Left Eye")] == "leye"
    assert picked[J.SPIN49_NAMES.index("Right Ear")] == "rear"
    assert picked[J.SPIN49_NAMES.index("Left Wrist")] == "left_wrist"


def test_flip_permutations_swap_sides_and_are_involutions() -> None:
    for perm, names in ((J.GT24_FLIP, J.GT24_NAMES), (J.SPIN49_FLIP, J.SPIN49_NAMES)):
        assert sorted(perm) == list(range(len(names)))
        assert all(perm[perm[i]] == i for i in range(len(perm)))
    assert J.GT24_NAMES[J.GT24_FLIP[J.GT24_NAMES.index("Right Ankle")]] == "Left Ankle"
    assert J.GT24_FLIP[J.GT24_NAMES.index("Neck (LSP)")] == J.GT24_NAMES.index("Neck (LSP)")


def test_openpose18_validity_order() -> None:
    gt = np.zeros((1, 24, 3))
    gt[0, J.GT24_NAMES.index("Nose"), 2] = 1
    gt[0, J.GT24_NAMES.index("Left Ear"), 2] = 1
    validity = J.openpose18_validity(gt)
    assert validity.shape == (1, 18)
    assert validity[0].nonzero()[0].tolist() == [0, 17]  # OpenPose-18: 0 nose, 17 left ear
