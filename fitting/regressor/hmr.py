"""HMR: a ResNet backbone and three iterations of error feedback to SMPL pose (6D), shape, camera.

Written in this project (no torchvision) with SPIN's parameter names, so SPIN and EFT checkpoints
(a dict with key ``model``) load with ``strict=True``:
``conv1, bn1, layer1..4.{i}.{conv1..3, bn1..3, downsample.0/1}, fc1, fc2, decpose, decshape,
deccam`` and the buffers ``init_pose (1, 144)``, ``init_shape (1, 10)``, ``init_cam (1, 3)``.

Outputs: ``pose_rotmat (B, 24, 3, 3)`` (index 0 is the global orientation), ``betas (B, 10)``,
``cam_weak (B, 3)`` = [s, tx, ty] (see fitting.geometry.camera).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from fitting.assets import file_sha256
from fitting.geometry.rotations import rot6d_to_rotmat

NUM_JOINTS = 24
NPOSE = NUM_JOINTS * 6
NUM_BETAS = 10

BackboneName = Literal["resnet50", "resnet18", "small", "tiny"]


@dataclass(frozen=True)
class BackboneSpec:
    block: Literal["bottleneck", "basic"]
    layers: tuple[int, int, int, int]
    width: int  # channels after the stem; stages use width, 2x, 4x, 8x

    @property
    def feature_dim(self) -> int:
        expansion = 4 if self.block == "bottleneck" else 1
        return self.width * 8 * expansion


BACKBONES: dict[str, BackboneSpec] = {
    # The real architecture (SPIN, EFT): ResNet-50.
    "resnet50": BackboneSpec("bottleneck", (3, 4, 6, 3), 64),
    # Lighter backbones for CPU training and fast tests; same naming scheme.
    "resnet18": BackboneSpec("basic", (2, 2, 2, 2), 64),
    # The bootstrap regressor's: about 220 crops/s of training at 128 px on 2 CPU cores.
    "small": BackboneSpec("basic", (1, 1, 1, 1), 32),
    "tiny": BackboneSpec("basic", (1, 1, 1, 1), 16),
}


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        result: Tensor = self.relu(out + identity)
        return result


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        result: Tensor = self.relu(out + identity)
        return result


@dataclass(frozen=True)
class MeanParams:
    """Starting point of the error feedback: ``pose_6d (144,)``, ``betas (10,)``, ``cam (3,)``."""

    pose_6d: Tensor
    betas: Tensor
    cam: Tensor

    @classmethod
    def builtin(cls) -> MeanParams:
        """The default when no ``smpl_mean_params.npz`` is given.

        Global orientation: 180 degrees about x, so the body's y-up frame meets the image's y-down
        frame and the person stands upright facing the camera; body joints at rest; mean shape;
        camera [0.9, 0, 0], about SPIN's mean scale (a person filling 90% of the crop height).
        """
        pose = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).repeat(NUM_JOINTS)
        pose[:6] = torch.tensor([1.0, 0.0, 0.0, -1.0, 0.0, 0.0])  # diag(1, -1, -1) in 6D
        return cls(pose, torch.zeros(NUM_BETAS), torch.tensor([0.9, 0.0, 0.0]))

    @classmethod
    def from_poses(cls, pose_rotmat: Tensor, betas: Tensor) -> MeanParams:
        """The mean of a training set: per joint, the rotation nearest the average matrix.

        The global orientation stays the built-in upright one (headings average out).
        """
        if pose_rotmat.ndim != 4 or pose_rotmat.shape[1:] != (NUM_JOINTS, 3, 3):
            raise ValueError(f"pose_rotmat: expected shape (N, 24, 3, 3), got {tuple(pose_rotmat.shape)}")
        u, _s, vh = torch.linalg.svd(pose_rotmat.double().mean(dim=0))
        nearest = u @ vh
        nearest[torch.det(nearest) < 0] = torch.eye(3, dtype=torch.float64)  # degenerate averages
        builtin = cls.builtin()
        pose = nearest[:, :, :2].reshape(NUM_JOINTS, 6).float()
        pose[0] = builtin.pose_6d[:6]
        return cls(pose.reshape(-1), betas.double().mean(dim=0).float(), builtin.cam)

    @classmethod
    def from_npz(cls, path: Path) -> MeanParams:
        """SPIN's ``smpl_mean_params.npz`` (keys pose (144,), shape (10,), cam (3,))."""
        if not path.is_file():
            raise FileNotFoundError(f"mean params file {path} does not exist")
        with np.load(path) as data:
            missing = {"pose", "shape", "cam"} - set(data.files)
            if missing:
                raise ValueError(f"{path}: missing keys {sorted(missing)} (has {data.files})")
            pose, shape, cam = (
                torch.as_tensor(np.asarray(data[k], dtype=np.float32)).reshape(-1)
                for k in ("pose", "shape", "cam")
            )
        if pose.shape != (NPOSE,) or shape.shape[0] < NUM_BETAS or cam.shape != (3,):
            raise ValueError(
                f"{path}: expected pose (144,), shape (10,), cam (3,); "
                f"got {tuple(pose.shape)}, {tuple(shape.shape)}, {tuple(cam.shape)}"
            )
        return cls(pose, shape[:NUM_BETAS], cam)


@dataclass(frozen=True)
class HmrOutput:
    pose_rotmat: Tensor  # (B, 24, 3, 3)
    betas: Tensor  # (B, 10)
    cam_weak: Tensor  # (B, 3)
    pose_6d: Tensor  # (B, 144)


class HMR(nn.Module):
    """HMR regressor. ``forward(images (B, C, H, W)) -> HmrOutput``; H = W = 224 by default."""

    init_pose: Tensor
    init_shape: Tensor
    init_cam: Tensor

    def __init__(
        self,
        backbone: BackboneName = "resnet50",
        mean_params: MeanParams | None = None,
        in_channels: int = 3,
        n_iter: int = 3,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; expected one of {sorted(BACKBONES)}")
        spec = BACKBONES[backbone]
        self.backbone_name: str = backbone
        self.in_channels = in_channels
        self.n_iter = n_iter
        block: type[Bottleneck] | type[BasicBlock] = Bottleneck if spec.block == "bottleneck" else BasicBlock
        self.inplanes = spec.width
        self.conv1 = nn.Conv2d(in_channels, spec.width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(spec.width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, spec.width, spec.layers[0])
        self.layer2 = self._make_layer(block, spec.width * 2, spec.layers[1], stride=2)
        self.layer3 = self._make_layer(block, spec.width * 4, spec.layers[2], stride=2)
        self.layer4 = self._make_layer(block, spec.width * 8, spec.layers[3], stride=2)
        # SPIN uses AvgPool2d(7) on 224 inputs; the adaptive pool is the same there, and also
        # serves other input sizes. It has no parameters, so checkpoints are unaffected.
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(spec.feature_dim + NPOSE + NUM_BETAS + 3, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose = nn.Linear(1024, NPOSE)
        self.decshape = nn.Linear(1024, NUM_BETAS)
        self.deccam = nn.Linear(1024, 3)
        self._init_weights()
        mean = mean_params or MeanParams.builtin()
        self.register_buffer("init_pose", mean.pose_6d.reshape(1, NPOSE).clone().float())
        self.register_buffer("init_shape", mean.betas.reshape(1, NUM_BETAS).clone().float())
        self.register_buffer("init_cam", mean.cam.reshape(1, 3).clone().float())

    def _make_layer(
        self, block: type[Bottleneck] | type[BasicBlock], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers: list[nn.Module] = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                module.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.data.fill_(1)
                module.bias.data.zero_()
        # Small decoder weights: the first predictions stay near the mean parameters.
        for layer in (self.decpose, self.decshape, self.deccam):
            nn.init.xavier_uniform_(layer.weight, gain=0.01)

    def features(self, images: Tensor) -> Tensor:
        """Pooled backbone features ``(B, feature_dim)``."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"images: expected shape (B, {self.in_channels}, H, W), got {tuple(images.shape)}"
            )
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def regress(self, features: Tensor) -> HmrOutput:
        """Error feedback from pooled features ``(B, feature_dim)``."""
        batch = features.shape[0]
        pose = self.init_pose.expand(batch, -1)
        shape = self.init_shape.expand(batch, -1)
        cam = self.init_cam.expand(batch, -1)
        for _ in range(self.n_iter):
            x = torch.cat([features, pose, shape, cam], dim=1)
            x = self.drop2(self.fc2(self.drop1(self.fc1(x))))
            pose = self.decpose(x) + pose
            shape = self.decshape(x) + shape
            cam = self.deccam(x) + cam
        rotmat = rot6d_to_rotmat(pose.reshape(batch, NUM_JOINTS, 6))
        return HmrOutput(pose_rotmat=rotmat, betas=shape, cam_weak=cam, pose_6d=pose)

    def forward(self, images: Tensor) -> HmrOutput:
        return self.regress(self.features(images))

    def regress_mean(self, batch: int) -> HmrOutput:
        """The starting point of the error feedback (the mean parameters), ``batch`` times."""
        pose = self.init_pose.expand(batch, -1)
        rotmat = rot6d_to_rotmat(pose.reshape(batch, NUM_JOINTS, 6))
        return HmrOutput(rotmat, self.init_shape.expand(batch, -1), self.init_cam.expand(batch, -1), pose)


def _strip_prefix(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    # Checkpoints saved from nn.DataParallel carry a "module." prefix.
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module.") :]: value for key, value in state.items()}
    return dict(state)


def infer_backbone(state: Mapping[str, Tensor]) -> BackboneName:
    """Tell the backbone from a state dict's keys and shapes."""
    for name, spec in BACKBONES.items():
        blocks = tuple(
            len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.") and k.endswith("conv1.weight")})
            for i in range(1, 5)
        )
        has_conv3 = "layer1.0.conv3.weight" in state
        stem = state.get("conv1.weight")
        if (
            blocks == spec.layers
            and has_conv3 == (spec.block == "bottleneck")
            and stem is not None
            and stem.shape[0] == spec.width
        ):
            return name  # type: ignore[return-value]
    raise ValueError(f"the state dict matches no known backbone ({', '.join(BACKBONES)})")


@dataclass(frozen=True)
class LoadedCheckpoint:
    model: HMR
    path: Path
    sha256: str
    meta: dict[str, Any]


def _why_unreadable(exc: Exception) -> str:
    """torch's reason in a line: a file that is not a torch file, or one that would run code to load."""
    text = str(exc)
    if "Weights only load failed" in text or "weights_only" in text:
        return "not a checkpoint of plain tensors (loading it would run code from the file, which is refused)"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:200]


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Load an HMR checkpoint (SPIN / EFT format: a dict with key ``model``) with ``strict=True``.

    The backbone and input channels are read off the weights. Raises ``FileNotFoundError`` for a
    missing file and ``ValueError`` naming the file for anything malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"regressor checkpoint {path} does not exist")
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f"regressor checkpoint {path} cannot be read: {_why_unreadable(exc)}") from exc
    if not isinstance(raw, dict) or "model" not in raw or not isinstance(raw["model"], Mapping):
        keys = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"regressor checkpoint {path}: expected a dict with key 'model', got {keys}")
    state = _strip_prefix(raw["model"])
    try:
        backbone = infer_backbone(state)
        in_channels = int(state["conv1.weight"].shape[1])
        model = HMR(backbone=backbone, in_channels=in_channels)
        model.load_state_dict(state, strict=True)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ValueError(f"regressor checkpoint {path} does not fit HMR: {exc}") from exc
    meta = {k: v for k, v in raw.items() if k not in {"model", "optimizer"} and not isinstance(v, Tensor)}
    return LoadedCheckpoint(model=model, path=path, sha256=file_sha256(path), meta=meta)


#: The keys of SPIN's (and EFT's) checkpoint files.
SPIN_CHECKPOINT_KEYS = (
    "model",
    "optimizer",
    "epoch",
    "batch_idx",
    "batch_size",
    "dataset_perm",
    "total_step_count",
)


def save_checkpoint(
    path: Path,
    model: HMR,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epoch: int = 0,
    batch_idx: int = 0,
    batch_size: int = 0,
    dataset_perm: Sequence[int] | Tensor | None = None,
    total_step_count: int = 0,
    extra: Mapping[str, Any] | None = None,
    half: bool = False,
) -> None:
    """Write a checkpoint in SPIN's format (SPIN_CHECKPOINT_KEYS) plus ``extra`` metadata, atomically.

    ``half`` stores float weights in half precision (loading casts them back).
    """
    state = model.state_dict()
    if half:
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    payload: dict[str, Any] = {
        "model": state,
        "optimizer": optimizer.state_dict() if optimizer is not None else {},
        "epoch": epoch,
        "batch_idx": batch_idx,
        "batch_size": batch_size,
        "dataset_perm": torch.as_tensor(
            list(dataset_perm) if dataset_perm is not None else [], dtype=torch.long
        ),
        "total_step_count": total_step_count,
        **(dict(extra) if extra else {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)
