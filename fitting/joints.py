"""Joint sets and dataset keypoint layouts.

- SMPL-24: the body model's kinematic joints.
- GT-24: the "ground truth" layout every dataset is mapped into (SPIN's 24 GT joints).
- SPIN-49: 25 OpenPose joints followed by GT-24; the model's 49 joints and EFT's
  ``gt_keypoint_2d`` use this order.

Every table below is from ../shared/reference/eft-method.md (SPIN's constants). "Right" and
"Left" are the person's own sides. Flip permutations are derived from the names, not typed.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

SMPL24_NAMES: Final = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
#: SMPL's kinematic tree: parent of each SMPL-24 joint (-1 for the root).
SMPL24_PARENTS: Final = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

#: smplx's 21 extra joints after the 24 (vertex-selected), in smplx's order.
SMPLX_EXTRA21_NAMES: Final = (
    "nose", "reye", "leye", "rear", "lear",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)  # fmt: skip

#: SPIN's J_regressor_extra rows (9 joints regressed from vertices).
EXTRA9_NAMES: Final = ("Right Hip", "Left Hip", "Neck (LSP)", "Top of Head (LSP)", "Pelvis (MPII)",
                       "Thorax (MPII)", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)")  # fmt: skip

OPENPOSE25_NAMES: Final = (
    "OP Nose", "OP Neck", "OP RShoulder", "OP RElbow", "OP RWrist", "OP LShoulder", "OP LElbow",
    "OP LWrist", "OP MidHip", "OP RHip", "OP RKnee", "OP RAnkle", "OP LHip", "OP LKnee", "OP LAnkle",
    "OP REye", "OP LEye", "OP REar", "OP LEar", "OP LBigToe", "OP LSmallToe", "OP LHeel",
    "OP RBigToe", "OP RSmallToe", "OP RHeel",
)  # fmt: skip

GT24_NAMES: Final = (
    "Right Ankle", "Right Knee", "Right Hip", "Left Hip", "Left Knee", "Left Ankle", "Right Wrist",
    "Right Elbow", "Right Shoulder", "Left Shoulder", "Left Elbow", "Left Wrist", "Neck (LSP)",
    "Top of Head (LSP)", "Pelvis (MPII)", "Thorax (MPII)", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)",
    "Nose", "Left Eye", "Right Eye", "Left Ear", "Right Ear",
)  # fmt: skip

SPIN49_NAMES: Final = OPENPOSE25_NAMES + GT24_NAMES

#: Index into cat[smplx 45 joints, extra 9] (54 rows) giving the SPIN-49 joints.
SPIN49_FROM_SMPL54: Final = (
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27,
)  # fmt: skip

#: The 14 LSP joints inside GT-24 (PA-MPJPE protocol).
GT24_LSP14: Final = tuple(range(14))
#: GT-24 offset inside SPIN-49.
GT24_OFFSET: Final = 25

#: Dataset keypoint order -> GT-24 index, per layout (eft-method.md).
LAYOUT_TO_GT24: Final[dict[str, tuple[int, ...]]] = {
    "coco17": (19, 20, 21, 22, 23, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0),
    "mpii16": (0, 1, 2, 3, 4, 5, 14, 15, 12, 13, 6, 7, 8, 9, 10, 11),
    "lsp14": tuple(range(14)),
    # The reference table reads (19, 12, 13, 23, 22, ...): PoseTrack's left ear into GT-24's
    # right ear. PoseTrack 2018 leaves the ears unlabelled, so that swap never showed; here each
    # ear goes to its own side.
    "posetrack17": (19, 12, 13, 22, 23, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0),
    "ochuman19": (8, 7, 6, 9, 10, 11, 2, 1, 0, 3, 4, 5, 13, 12, 23, 22, 19, 21, 20),
}

#: The datasets' own keypoint names, in file order, so a mapping can be checked by name.
LAYOUT_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "coco17": ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
               "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
               "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    "mpii16": ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
               "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
               "l_wrist"),
    "lsp14": ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
              "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
              "left_wrist", "neck", "head_top"),
    "posetrack17": ("nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
                    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    "ochuman19": ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
                  "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
                  "left_ankle", "head", "neck", "right_ear", "left_ear", "nose", "right_eye", "left_eye"),
}  # fmt: skip

#: EFT JSON's joint_validity_openpose18: GT-24 validity reindexed by this list.
OPENPOSE18_FROM_GT24: Final = (19, 12, 8, 7, 6, 9, 10, 11, 2, 1, 0, 3, 4, 5, 21, 20, 23, 22)


def _mirror_name(name: str) -> str:
    swaps = (("Right", "Left"), ("right", "left"), ("OP R", "OP L"), ("reye", "leye"), ("rear", "lear"),
             ("RBig", "LBig"), ("RSmall", "LSmall"), ("RHeel", "LHeel"), ("r_", "l_"))  # fmt: skip
    for a, b in swaps:
        if a in name:
            return name.replace(a, b)
        if b in name:
            return name.replace(b, a)
    return name


def flip_permutation(names: tuple[str, ...]) -> tuple[int, ...]:
    """Index list that swaps left and right joints of ``names`` (for horizontal flips)."""
    index = {name: i for i, name in enumerate(names)}
    perm = []
    for name in names:
        mirror = _mirror_name(name)
        if mirror not in index:
            raise ValueError(f"joint {name!r} has no mirror {mirror!r} in the set")
        perm.append(index[mirror])
    return tuple(perm)


GT24_FLIP: Final = flip_permutation(GT24_NAMES)
SPIN49_FLIP: Final = flip_permutation(SPIN49_NAMES)


def to_gt24(keypoints: NDArray[np.floating], layout: str) -> NDArray[np.float64]:
    """Dataset keypoints ``(N, K, 3)`` (x, y, visibility) to GT-24 ``(N, 24, 3)`` with 0/1 validity.

    Joints the layout lacks are zero with validity 0; visibility > 0 becomes 1 (COCO's 1 and 2).
    """
    if layout not in LAYOUT_TO_GT24:
        raise ValueError(f"unknown keypoint layout {layout!r}; expected one of {sorted(LAYOUT_TO_GT24)}")
    mapping = LAYOUT_TO_GT24[layout]
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (len(mapping), 3):
        raise ValueError(f"{layout}: expected keypoints of shape (N, {len(mapping)}, 3), got {points.shape}")
    out = np.zeros((points.shape[0], 24, 3), dtype=np.float64)
    out[:, mapping, :2] = points[:, :, :2]
    out[:, mapping, 2] = (points[:, :, 2] > 0).astype(np.float64)
    out[out[:, :, 2] == 0, :2] = 0.0
    return out


def gt24_to_spin49(keypoints_gt24: NDArray[np.floating]) -> NDArray[np.float64]:
    """GT-24 ``(N, 24, 3)`` into SPIN-49 ``(N, 49, 3)``; the 25 OpenPose rows stay zero/invalid."""
    points = np.asarray(keypoints_gt24, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (24, 3):
        raise ValueError(f"expected GT-24 keypoints of shape (N, 24, 3), got {points.shape}")
    out = np.zeros((points.shape[0], 49, 3), dtype=np.float64)
    out[:, GT24_OFFSET:] = points
    return out


def openpose18_validity(keypoints_gt24: NDArray[np.floating]) -> NDArray[np.float64]:
    """EFT JSON's ``joint_validity_openpose18`` ``(N, 18)`` from GT-24 keypoints."""
    points = np.asarray(keypoints_gt24, dtype=np.float64)
    return points[:, OPENPOSE18_FROM_GT24, 2].copy()


#: The GT-24 skeleton as (a, b, side) with side 0 left, 1 right, 2 centre (drawings, input channels).
_BONES = [
    ("Left Ankle", "Left Knee", 0), ("Left Knee", "Left Hip", 0), ("Left Hip", "Left Shoulder", 0),
    ("Left Shoulder", "Left Elbow", 0), ("Left Elbow", "Left Wrist", 0), ("Left Eye", "Left Ear", 0),
    ("Right Ankle", "Right Knee", 1), ("Right Knee", "Right Hip", 1), ("Right Hip", "Right Shoulder", 1),
    ("Right Shoulder", "Right Elbow", 1), ("Right Elbow", "Right Wrist", 1), ("Right Eye", "Right Ear", 1),
    ("Left Hip", "Right Hip", 2), ("Left Shoulder", "Right Shoulder", 2), ("Nose", "Left Eye", 2),
    ("Nose", "Right Eye", 2), ("Neck (LSP)", "Top of Head (LSP)", 2), ("Pelvis (MPII)", "Thorax (MPII)", 2),
]  # fmt: skip
GT24_BONES: Final = tuple((GT24_NAMES.index(a), GT24_NAMES.index(b), c) for a, b, c in _BONES)
