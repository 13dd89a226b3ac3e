"""Training data for HMR: sets with SMPL parameters, crops, augmentation and the keypoint channels.

Sources:
- a synthetic set (``python -m fitting synth``): COCO keypoints + ``truth.npz``;
- an EFT JSON export (``{"ver", "data": [...], "meta"}``, see eft-method.md) with its images.

Every sample becomes: the crop (RGB normalised with ImageNet statistics, plus optionally three
channels with the labelled 2D skeleton drawn on it: left limbs, right limbs, centre; both as
``fitting.regressor.inputs`` defines them for training and inference alike), the
SPIN-49 keypoints in crop-normalised coordinates with confidences, the SMPL pose (rotation
matrices, global orientation in the camera frame) and betas, and the GT-24 3D joints when known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from fitting.geometry.camera import CropBox
from fitting.geometry.rotations import axis_angle_to_rotmat
from fitting.geometry.truncation import truncation_box
from fitting.joints import GT24_FLIP, GT24_OFFSET, SPIN49_FLIP, to_gt24
from fitting.regressor.inputs import draw_skeleton_channels, normalize_rgb

#: SMPL-24 left/right swap, for flipping poses.
SMPL24_FLIP = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)


@dataclass(frozen=True)
class Person:
    """One training person in original-image terms."""

    image_path: Path
    bbox: tuple[float, float, float, float]  # x, y, w, h in pixels
    keypoints_spin49: NDArray[np.float64]  # (49, 3): x, y, confidence (pixels)
    labels_gt24: NDArray[np.float64]  # (24, 3): the dataset's 2D labels in GT-24 (for the input channels)
    pose_rotmat: NDArray[np.float64] | None  # (24, 3, 3), camera frame
    betas: NDArray[np.float64] | None  # (10,)
    joints_gt24: NDArray[np.float64] | None  # (24, 3) camera frame, metres
    group: int  # image id: splits keep all people of one image together


def load_synthetic(folder: Path) -> list[Person]:
    """People of a synthetic set; SPIN-49 2D targets come from the projected 3D joints."""
    folder = Path(folder)
    coco = json.loads((folder / "annotations.json").read_text())
    truth = np.load(folder / "truth.npz")
    images = {img["id"]: img for img in coco["images"]}
    by_id = {ann["id"]: ann for ann in coco["annotations"]}
    pose = axis_angle_to_rotmat(torch.as_tensor(truth["pose_axis_angle"], dtype=torch.float64)).numpy()
    people = []
    for i, annotation_id in enumerate(truth["annotation_id"]):
        ann = by_id[int(annotation_id)]
        kp49 = truth["joints_spin49_px"][i].astype(np.float64)
        labels = to_gt24(np.asarray(ann["keypoints"], dtype=np.float64).reshape(1, 17, 3), "coco17")[0]
        people.append(
            Person(
                image_path=folder / "images" / images[ann["image_id"]]["file_name"],
                bbox=tuple(float(v) for v in ann["bbox"]),  # type: ignore[arg-type]
                keypoints_spin49=kp49,
                labels_gt24=labels,
                pose_rotmat=pose[i],
                betas=truth["betas"][i].astype(np.float64),
                joints_gt24=truth["joints_spin49"][i, GT24_OFFSET:].astype(np.float64),
                group=int(ann["image_id"]),
            )
        )
    return people


def person_from_eft_entry(item: dict[str, Any], image_path: Path, group: int) -> Person:
    """One entry of an EFT-format export as a training person (the fit as pseudo ground truth);
    ``ValueError`` (KeyError included) for a malformed entry."""
    kp = np.asarray(item["gt_keypoint_2d"], dtype=np.float64).reshape(49, 3)
    center = np.asarray(item["bbox_center"], dtype=np.float64).reshape(2)
    side = 200.0 * float(item["bbox_scale"])
    pose = np.asarray(item["parm_pose"], dtype=np.float64).reshape(24, 3, 3)
    betas = np.asarray(item["parm_shape"], dtype=np.float64).reshape(10)
    # The box the fit was made in (EFT: side = 1.2 * longer side); undo the 1.2 to get a bbox.
    bbox_side = side / 1.2
    return Person(
        image_path=Path(image_path),
        bbox=(center[0] - bbox_side / 2, center[1] - bbox_side / 2, bbox_side, bbox_side),
        keypoints_spin49=kp,
        labels_gt24=kp[GT24_OFFSET:].copy(),
        pose_rotmat=pose,
        betas=betas,
        joints_gt24=None,
        group=group,
    )


def load_eft_json(path: Path, image_root: Path) -> list[Person]:
    """People of an EFT-format export: fits as pseudo ground truth (3D joints from the body model)."""
    raw = json.loads(Path(path).read_text())
    if not isinstance(raw, dict) or "data" not in raw:
        raise ValueError(f"{path}: not an EFT JSON export (no 'data' list)")
    people = []
    groups: dict[str, int] = {}
    for k, item in enumerate(raw["data"]):
        try:
            name = str(item["imageName"])
            people.append(
                person_from_eft_entry(item, Path(image_root) / name, groups.setdefault(name, len(groups)))
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: entry {k} is malformed: {exc}") from exc
    return people


def with_body_joints(people: list[Person], body: Any, batch: int = 256) -> list[Person]:
    """The people with 3D joints (GT-24, metres) from their own SMPL parameters where they have
    none: pseudo ground truth's 3D joints, so that the 3D loss and PA-MPJPE measure against it."""
    import dataclasses

    import torch

    out = list(people)
    todo = [i for i, p in enumerate(people) if p.joints_gt24 is None and p.pose_rotmat is not None]
    device = next(iter(body.buffers())).device
    for start in range(0, len(todo), batch):
        chosen = todo[start : start + batch]
        pose = torch.as_tensor(np.stack([people[i].pose_rotmat for i in chosen]), dtype=torch.float32)  # type: ignore[misc]
        betas = torch.as_tensor(np.stack([people[i].betas for i in chosen]), dtype=torch.float32)  # type: ignore[misc]
        with torch.no_grad():
            joints = body.joints_spin49(betas.to(device), pose.to(device))[:, GT24_OFFSET:].cpu().numpy()
        for k, i in enumerate(chosen):
            out[i] = dataclasses.replace(people[i], joints_gt24=joints[k].astype(np.float64))
    return out


def split(people: list[Person], val_fraction: float, seed: int) -> tuple[list[Person], list[Person]]:
    """Train / held-out split by image (people of one image stay together)."""
    groups = sorted({p.group for p in people})
    rng = np.random.default_rng(seed)
    held = set(rng.choice(groups, size=max(1, round(len(groups) * val_fraction)), replace=False).tolist())
    return [p for p in people if p.group not in held], [p for p in people if p.group in held]


def box_for_level(person: Person, level: int) -> CropBox:
    """The crop box of a person at truncation ``level``; 7 is the annotated bounding box."""
    if level == 7:
        return CropBox.from_bbox(*person.bbox)
    return truncation_box(person.keypoints_spin49[GT24_OFFSET:, :2], level)


def flip_pose(pose_rotmat: NDArray[np.floating]) -> NDArray[np.float64]:
    """Mirror SMPL poses ``(24, 3, 3)`` about the camera's vertical plane (x -> -x), left <-> right."""
    m = np.diag([-1.0, 1.0, 1.0])
    flipped: NDArray[np.float64] = m @ np.asarray(pose_rotmat, dtype=np.float64)[list(SMPL24_FLIP)] @ m
    return flipped


@dataclass(frozen=True)
class Augment:
    crop_levels_prob: float = 0.3  # the paper's crop augmentation
    flip_prob: float = 0.5
    scale_range: float = 0.2  # box scale times U(1 - r, 1 + r)
    shift: float = 0.05  # centre moved by up to this fraction of the box side
    colour: float = 0.4  # per-channel gain in U(1 - c, 1 + c)
    rotate_prob: float = 0.0  # share of crops turned in-plane about their centre
    rotate_deg: float = 180.0  # by an angle in U(-r, r) degrees (the 3D truth turns with them)

    @classmethod
    def none(cls) -> Augment:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


class PersonDataset(Dataset[dict[str, torch.Tensor]]):
    """Crops of people for HMR. ``level`` fixes a truncation level (evaluation); else augmentation."""

    def __init__(
        self,
        people: list[Person],
        input_size: int = 224,
        aux_channels: bool = False,
        augment: Augment | None = None,
        level: int | None = None,
        seed: int = 0,
    ) -> None:
        self.people = people
        self.input_size = input_size
        self.aux_channels = aux_channels
        self.augment = augment or Augment.none()
        self.level = level
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.people)

    def _box(self, person: Person, rng: np.random.Generator) -> tuple[CropBox, int]:
        if self.level is not None:
            return box_for_level(person, self.level), self.level
        if rng.random() < self.augment.crop_levels_prob:
            level = int(rng.integers(0, 7))
            return box_for_level(person, level), level
        return box_for_level(person, 7), 7

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        import cv2

        from fitting.geometry.camera import crop_image

        person = self.people[index]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        box, level = self._box(person, rng)
        aug = self.augment
        if aug.scale_range or aug.shift:
            scale = box.scale * rng.uniform(1 - aug.scale_range, 1 + aug.scale_range)
            dx, dy = rng.uniform(-aug.shift, aug.shift, size=2) * box.side
            box = CropBox(box.center_x + dx, box.center_y + dy, scale)
        flip = rng.random() < aug.flip_prob
        with open(person.image_path, "rb") as handle:
            encoded = np.frombuffer(handle.read(), dtype=np.uint8)
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot decode image {person.image_path}")
        size = self.input_size
        rgb = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        crop = crop_image(rgb, box, size).astype(np.float64) / 255.0
        matrix = box.image_to_crop_matrix(size)

        def to_crop(points: NDArray[np.float64]) -> NDArray[np.float64]:
            xy = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
            return np.concatenate([xy, points[:, 2:3]], axis=1)

        keypoints = to_crop(person.keypoints_spin49)
        labels = to_crop(person.labels_gt24)
        pose = person.pose_rotmat
        joints = person.joints_gt24
        if flip:
            crop = crop[:, ::-1]
            keypoints[:, 0] = size - 1 - keypoints[:, 0]
            keypoints = keypoints[list(SPIN49_FLIP)]
            labels[:, 0] = size - 1 - labels[:, 0]
            labels = labels[list(GT24_FLIP)]
            pose = flip_pose(pose) if pose is not None else None
            if joints is not None:
                joints = joints[list(GT24_FLIP)] * np.array([-1.0, 1.0, 1.0])
        if aug.rotate_prob and rng.random() < aug.rotate_prob:
            crop, keypoints, labels, pose, joints = rotate_sample(
                crop, keypoints, labels, pose, joints, rng.uniform(-aug.rotate_deg, aug.rotate_deg)
            )
        if aug.colour:
            crop = np.clip(crop * rng.uniform(1 - aug.colour, 1 + aug.colour, size=3), 0, 1)
        channels = normalize_rgb(crop)
        if self.aux_channels:
            channels = np.concatenate([channels, draw_skeleton_channels(labels, size)])
        # Crop-normalised targets; keypoints outside the crop get no weight (as for truncated people).
        kp_n = keypoints.copy()
        kp_n[:, :2] = 2.0 * kp_n[:, :2] / size - 1.0
        kp_n[np.abs(kp_n[:, :2]).max(axis=1) > 1.0, 2] = 0.0
        return {
            "image": torch.from_numpy(np.ascontiguousarray(channels)),
            "keypoints_2d": torch.from_numpy(kp_n.astype(np.float32)),
            "pose_rotmat": torch.from_numpy(
                (pose if pose is not None else np.eye(3)[None].repeat(24, 0)).astype(np.float32)
            ),
            "betas": torch.from_numpy(
                (person.betas if person.betas is not None else np.zeros(10)).astype(np.float32)
            ),
            "has_smpl": torch.tensor(float(person.pose_rotmat is not None)),
            "joints_3d": torch.from_numpy(
                (joints if joints is not None else np.zeros((24, 3))).astype(np.float32)
            ),
            "has_3d": torch.tensor(float(joints is not None)),
            "level": torch.tensor(level),
            "box": torch.tensor([box.center_x, box.center_y, box.scale], dtype=torch.float64),
            "flip": torch.tensor(flip),
        }


def rotate_sample(
    crop: NDArray[np.float64],
    keypoints: NDArray[np.float64],
    labels: NDArray[np.float64],
    pose: NDArray[np.float64] | None,
    joints: NDArray[np.float64] | None,
    degrees: float,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64] | None,
    NDArray[np.float64] | None,
]:
    """Turn a square crop ``(S, S, 3)`` about its centre by ``degrees`` (counter-clockwise as seen),
    with its crop-pixel keypoints and labels ``(K, 3)``, and the 3D truth with it: the global
    orientation and the camera-frame joints turn about the camera's optical axis (x right, y down)."""
    import cv2

    size = crop.shape[0]
    centre = ((size - 1) / 2.0, (size - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)  # [[c, s, tx], [-s, c, ty]]
    turned = cv2.warpAffine(
        np.ascontiguousarray(crop), matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
    )

    def move(points: NDArray[np.float64]) -> NDArray[np.float64]:
        out = points.copy()
        out[:, :2] = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
        return out

    turn = np.eye(3)
    turn[:2, :2] = matrix[:, :2]
    if pose is not None:
        pose = pose.copy()
        pose[0] = turn @ pose[0]
    if joints is not None:
        joints = joints @ turn.T
    return np.asarray(turned, dtype=np.float64), move(keypoints), move(labels), pose, joints


def describe(people: list[Person]) -> dict[str, Any]:
    return {
        "people": len(people),
        "images": len({p.image_path for p in people}),
        "with_3d": sum(p.joints_gt24 is not None for p in people),
    }
