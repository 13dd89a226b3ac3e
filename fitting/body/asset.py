"""The open body's file: a compressed npz of SMPL-format arrays.

Dense arrays are float32; sparse ones (skinning weights, joint and keypoint regressors) are
stored as coordinates and values. Pose correctives are zero and not stored. ``load_asset``
returns dense float32 arrays ready for smplx.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ASSET_FORMAT_VERSION = 1
_SPARSE = ("weights", "j_regressor", "j_regressor_extra", "coco17_regressor")


@dataclass(frozen=True)
class BodyAsset:
    """SMPL-format arrays. V vertices, F faces."""

    v_template: NDArray[np.float32]  # (V, 3)
    shapedirs: NDArray[np.float32]  # (V, 3, 10)
    faces: NDArray[np.int64]  # (F, 3)
    weights: NDArray[np.float32]  # (V, 24)
    j_regressor: NDArray[np.float32]  # (24, V)
    j_regressor_extra: NDArray[np.float32]  # (9, V)
    coco17_regressor: NDArray[np.float32]  # (17, V)
    vertex_ids: dict[str, int]
    parents: NDArray[np.int64]  # (24,)
    provenance: dict[str, Any]
    #: Betas of the shapes the model was built from (N, 10): an empirical sample of the adult
    #: population, for drawing realistic synthetic shapes.
    population_betas: NDArray[np.float32]

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])


def _pack_sparse(name: str, dense: NDArray[np.floating]) -> dict[str, NDArray[Any]]:
    rows, cols = np.nonzero(dense)
    return {
        f"{name}__rows": rows.astype(np.int32),
        f"{name}__cols": cols.astype(np.int32),
        f"{name}__vals": dense[rows, cols].astype(np.float32),
        f"{name}__shape": np.asarray(dense.shape, dtype=np.int64),
    }


def _unpack_sparse(data: Mapping[str, NDArray[Any]], name: str) -> NDArray[np.float32]:
    shape = tuple(int(x) for x in data[f"{name}__shape"])
    dense = np.zeros(shape, dtype=np.float32)
    dense[data[f"{name}__rows"], data[f"{name}__cols"]] = data[f"{name}__vals"]
    return dense


def save_asset(
    path: Path,
    *,
    v_template: NDArray[np.floating],
    shapedirs: NDArray[np.floating],
    faces: NDArray[np.integer],
    weights: NDArray[np.floating],
    j_regressor: NDArray[np.floating],
    j_regressor_extra: NDArray[np.floating],
    coco17_regressor: NDArray[np.floating],
    vertex_ids: Mapping[str, int],
    parents: NDArray[np.integer],
    provenance: Mapping[str, Any],
    population_betas: NDArray[np.floating] | None = None,
) -> None:
    arrays: dict[str, NDArray[Any]] = {
        "v_template": np.asarray(v_template, dtype=np.float32),
        "shapedirs": np.asarray(shapedirs, dtype=np.float32),
        "faces": np.asarray(faces, dtype=np.int32),
        "parents": np.asarray(parents, dtype=np.int32),
        "vertex_ids": np.frombuffer(json.dumps(dict(vertex_ids)).encode(), dtype=np.uint8),
        "provenance": np.frombuffer(json.dumps(dict(provenance)).encode(), dtype=np.uint8),
        "population_betas": np.asarray(
            population_betas if population_betas is not None else np.zeros((0, 10)), dtype=np.float32
        ),
    }
    for name, dense in (
        ("weights", weights),
        ("j_regressor", j_regressor),
        ("j_regressor_extra", j_regressor_extra),
        ("coco17_regressor", coco17_regressor),
    ):
        arrays.update(_pack_sparse(name, np.asarray(dense)))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(partial, **arrays)  # type: ignore[arg-type]
    partial.replace(path)


def load_asset(path: Path) -> BodyAsset:
    """Read an open-body npz. Raises ValueError naming the file when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"body asset {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = dict(data.items())
    except Exception as exc:
        raise ValueError(f"body asset {path} cannot be read as npz: {exc}") from exc
    required = {"v_template", "shapedirs", "faces", "parents", "vertex_ids", "provenance"}
    required |= {f"{n}__{p}" for n in _SPARSE for p in ("rows", "cols", "vals", "shape")}
    missing = sorted(required - set(files))
    if missing:
        raise ValueError(f"body asset {path}: missing arrays {missing}")
    asset = BodyAsset(
        v_template=files["v_template"].astype(np.float32),
        shapedirs=files["shapedirs"].astype(np.float32),
        faces=files["faces"].astype(np.int64),
        weights=_unpack_sparse(files, "weights"),
        j_regressor=_unpack_sparse(files, "j_regressor"),
        j_regressor_extra=_unpack_sparse(files, "j_regressor_extra"),
        coco17_regressor=_unpack_sparse(files, "coco17_regressor"),
        vertex_ids={str(k): int(v) for k, v in json.loads(files["vertex_ids"].tobytes()).items()},
        parents=files["parents"].astype(np.int64),
        provenance=json.loads(files["provenance"].tobytes()),
        population_betas=files.get("population_betas", np.zeros((0, 10))).astype(np.float32),
    )
    v = asset.num_vertices
    expected = {
        "v_template": (v, 3),
        "weights": (v, 24),
        "j_regressor": (24, v),
        "j_regressor_extra": (9, v),
        "coco17_regressor": (17, v),
        "parents": (24,),
    }
    for name, shape in expected.items():
        if getattr(asset, name).shape != shape:
            raise ValueError(
                f"body asset {path}: {name} has shape {getattr(asset, name).shape}, expected {shape}"
            )
    if asset.shapedirs.shape[:2] != (v, 3) or asset.shapedirs.shape[2] < 10:
        raise ValueError(
            f"body asset {path}: shapedirs has shape {asset.shapedirs.shape}, expected ({v}, 3, >=10)"
        )
    if asset.faces.ndim != 2 or asset.faces.shape[1] != 3 or asset.faces.max() >= v:
        raise ValueError(f"body asset {path}: faces must be (F, 3) indices below {v}")
    return asset
