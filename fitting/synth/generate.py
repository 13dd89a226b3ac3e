"""Synthetic people with known 3D truth: images, COCO keypoints and a truth side file.

``python -m fitting synth --out DIR --people 1000 --seed 0`` writes::

    DIR/images/000000.jpg ...
    DIR/annotations.json   COCO keypoints format (17 keypoints, v = 2 visible, 1 occluded, 0 outside)
    DIR/truth.npz          per annotation: SMPL pose / betas / translation, camera, 3D joints
    DIR/meta.json          seed, counts, timing, generator settings

Frames and conventions: the camera is OpenCV-like (x right, y down, z forward, pixels
``u = f x / z + cx``). The pose's global orientation (index 0) and the 3D joints are in that
camera frame, which is also the frame HMR's weak-perspective camera projects (x right, y down).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.body.model import BodyModel
from fitting.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle
from fitting.joints import LAYOUT_NAMES
from fitting.synth.appearance import background, person_colours
from fitting.synth.poses import Distribution, euler_to_rotmat, sample_poses

COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]  # fmt: skip
#: A keypoint counts as visible when the rendered surface at its pixel belongs to the same person
#: and lies at most this far (metres) in front of it: joints sit 3-8 cm under the skin, while a
#: torso or another limb in front of them is 12 cm or more.
OCCLUSION_TOLERANCE_M = 0.11
# world (y up, facing the camera at +z) to the camera frame (y down): 180 degrees about x
_FLIP = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class SynthConfig:
    people: int = 1000
    seed: int = 0
    width: int = 384
    height: int = 384
    max_people_per_image: int = 3
    truncation_rate: float = 0.2  # share of people placed partly outside the frame
    jpeg_quality: int = 92
    backgrounds: str | None = None  # a folder of photographs to crop backgrounds from
    min_visible_keypoints: int = 4
    # "everyday": the original mixture and camera (upright or lying; pitch -10..25, roll +-4); the
    # default, so a seed made before distributions existed makes the same set; "wide": everyday
    # plus the hard families, with the camera's pitch and roll over their full range (a quarter
    # of the images turned in-plane by any angle), what the bootstrap regressor trains on;
    # "hard": the hard families only, same camera as wide. See fitting.synth.poses.
    distribution: Distribution = "everyday"


#: The fixed held-out test sets (``python -m fitting synth --heldout NAME --out DIR``): "everyday"
#: is the set every earlier figure was measured on (the bootstrap's test people); "hard" holds the
#: poses that set lacks.
HELDOUT_SETS: dict[str, SynthConfig] = {
    "everyday": SynthConfig(people=500, seed=2, distribution="everyday"),
    "hard": SynthConfig(people=500, seed=3, distribution="hard"),
}


@dataclass
class PersonTruth:
    annotation_id: int
    image_id: int
    betas: NDArray[np.float64]  # (10,)
    pose_axis_angle: NDArray[np.float64]  # (24, 3), global orientation in the camera frame
    transl: NDArray[np.float64]  # (3,) smplx translation, camera frame
    joints_smpl24: NDArray[np.float64]  # (24, 3) camera frame, metres
    joints_spin49: NDArray[np.float64]  # (49, 3)
    keypoints_coco17: NDArray[np.float64]  # (17, 3) pixels + COCO visibility
    joints_spin49_px: NDArray[np.float64]  # (49, 3) pixels + in-frame flag
    focal: float  # pixels
    principal: tuple[float, float]  # pixels
    family: str


@dataclass
class SynthResult:
    out: Path
    images: int = 0
    people: int = 0
    seconds: float = 0.0
    dropped: int = 0
    families: dict[str, int] = field(default_factory=dict)


#: The index-map value of objects drawn with the people (seats): not a person.
OBJECT_INDEX = 255


def _camera(rng: np.random.Generator, distribution: str) -> NDArray[np.float64]:
    """World-to-camera tilt: pitch (looking down, positive) and roll; in-plane turns for wide/hard."""
    if distribution == "everyday":
        return euler_to_rotmat(np.array([rng.uniform(-10, 25), 0.0, rng.uniform(-4, 4)]))
    pitch = rng.uniform(-35, 70)  # from a low camera looking up to one high above, looking down
    roll = rng.uniform(-180, 180) if rng.random() < 0.25 else rng.normal(0, 8)
    return euler_to_rotmat(np.array([pitch, 0.0, roll]))


def _box(
    lo: tuple[float, float, float], hi: tuple[float, float, float]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """An axis-aligned box between corners ``lo`` and ``hi`` (vertices, outward triangles)."""
    corners = np.array([[hi[0] if i & 1 else lo[0], hi[1] if i & 2 else lo[1], hi[2] if i & 4 else lo[2]]
                        for i in range(8)])  # fmt: skip
    faces = np.array([[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
                      [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]])  # fmt: skip
    return corners, faces


def _wheel(
    centre: tuple[float, float, float], radius: float, width: float, segments: int = 24
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """A disc (a short cylinder) with its axis along x."""
    t = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([np.zeros_like(t), radius * np.cos(t), radius * np.sin(t)], -1)
    side = np.array([width / 2, 0.0, 0.0])
    verts = np.concatenate([ring - side, ring + side, np.stack([-side, side])])
    verts = verts + np.asarray(centre)
    faces = []
    for k in range(segments):
        n = (k + 1) % segments
        faces += [[k, n, segments + k], [n, segments + n, segments + k]]
        faces += [[2 * segments, n, k], [2 * segments + 1, segments + k, segments + n]]
    return verts, np.array(faces)


def seat_mesh(
    kind: str, joints_cam: NDArray[np.float64], root_cam: NDArray[np.float64], rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.uint8]]:
    """A seat under a seated person, in the camera frame: "chair" (seat, legs, back), "stool"
    (seat and legs) or "wheelchair" (chair with two large wheels beside the hips, which hide the
    hips and thighs from the side). Built in the person's body frame (x left, y up, z forward, the
    pelvis at the origin) from the posed SMPL-24 joints ``(24, 3)`` and root rotation ``(3, 3)``."""
    local = (joints_cam - joints_cam[0]) @ root_cam  # body frame: R^T (p - pelvis), row-wise
    hips_y = min(local[1, 1], local[2, 1], local[4, 1], local[5, 1])
    floor = min(local[7, 1], local[8, 1]) - 0.08
    top = hips_y - 0.09  # under the thighs
    half = 0.2 if kind == "stool" else 0.25
    front = 0.2 if kind == "stool" else 0.28
    parts = [_box((-half, top - 0.05, -0.22), (half, top, front))]
    for x in (-half + 0.02, half - 0.04):
        for z in (-0.2, front - 0.04):
            parts.append(_box((x, floor, z), (x + 0.03, top - 0.05, z + 0.03)))
    if kind in ("chair", "wheelchair"):
        parts.append(_box((-half, top, -0.27), (half, top + rng.uniform(0.4, 0.6), -0.22)))
    if kind == "wheelchair":
        radius = rng.uniform(0.28, 0.33)
        for x in (-half - 0.05, half + 0.05):
            parts.append(_wheel((x, floor + radius, -0.05), radius, 0.04))
    verts_list, faces_list, offset = [], [], 0
    for verts, faces in parts:
        verts_list.append(verts)
        faces_list.append(faces + offset)
        offset += len(verts)
    verts_local = np.concatenate(verts_list)
    verts_cam = verts_local @ root_cam.T + joints_cam[0]
    grey = rng.integers(20, 200)
    rgb = np.clip(np.array([grey, grey, grey]) + rng.integers(-20, 40, 3), 0, 255).astype(np.uint8)
    return verts_cam, np.concatenate(faces_list), rgb


def project(
    points: NDArray[np.floating], focal: float, principal: tuple[float, float]
) -> NDArray[np.float64]:
    """Camera-frame points ``(..., 3)`` to pixels ``(..., 2)``: ``u = f x / z + cx``."""
    p = np.asarray(points, dtype=np.float64)
    z = np.maximum(p[..., 2:3], 1e-6)
    return np.asarray(p[..., :2] * focal / z + np.asarray(principal), dtype=np.float64)


def _place_people(
    rng: np.random.Generator, count: int, config: SynthConfig, focal: float
) -> list[tuple[NDArray[np.float64], float]]:
    """(pelvis position in the camera frame, apparent height fraction) for each person."""
    placed = []
    for i in range(count):
        frac = rng.uniform(0.45, 0.95) if i == 0 else rng.uniform(0.35, 0.85)
        depth = focal * 1.7 / (frac * config.height)  # a 1.7 m person spans frac of the height
        u = rng.uniform(0.2, 0.8) * config.width
        v = rng.uniform(0.4, 0.6) * config.height
        if rng.random() < config.truncation_rate:  # push part of the body out of the frame
            if rng.random() < 0.5:
                u = rng.choice([-0.05, 1.05]) * config.width
            else:
                v = (
                    rng.choice([0.05, 0.95]) * config.height
                    + rng.choice([-1, 1]) * frac * config.height * 0.35
                )
        x = (u - config.width / 2) * depth / focal
        y = (v - config.height / 2) * depth / focal
        placed.append((np.array([x, y, depth]), frac))
    return placed


def _render(
    meshes: list[tuple[NDArray[np.float64], NDArray[np.uint8]]],
    faces: NDArray[np.int64],
    focal: float,
    config: SynthConfig,
    rng: np.random.Generator,
    objects: list[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.uint8]]] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.int32]]:
    """Colour (RGBA), depth and person-index maps of the people, camera at the origin.
    ``objects`` (vertices in the camera frame, faces, RGB colour) are drawn too, with index
    OBJECT_INDEX: they hide what is behind them."""
    from fitting.render.mesh import ensure_backend

    ensure_backend()
    import pyrender
    import trimesh

    scene = pyrender.Scene(bg_color=[0, 0, 0, 0], ambient_light=np.full(3, rng.uniform(0.2, 0.5)))
    nodes = {}
    for i, (verts_cam, colours) in enumerate(meshes):
        verts_gl = verts_cam @ _FLIP.T  # OpenCV camera frame to pyrender's (y up, looking down -z)
        tri = trimesh.Trimesh(verts_gl, faces, vertex_colors=colours, process=False)
        # No material argument: pyrender then takes the vertex colours (a material would override them).
        node = scene.add(pyrender.Mesh.from_trimesh(tri, smooth=True))
        nodes[node] = i + 1
    for verts_cam, obj_faces, rgb in objects or []:
        tri = trimesh.Trimesh(
            verts_cam @ _FLIP.T, obj_faces, vertex_colors=np.tile(rgb, (len(verts_cam), 1)), process=False
        )
        nodes[scene.add(pyrender.Mesh.from_trimesh(tri, smooth=False))] = OBJECT_INDEX
    camera = pyrender.IntrinsicsCamera(
        focal, focal, config.width / 2, config.height / 2, znear=0.05, zfar=100.0
    )
    scene.add(camera, pose=np.eye(4))
    for _ in range(int(rng.integers(1, 3))):
        light = np.eye(4)
        light[:3, :3] = euler_to_rotmat(np.array([rng.uniform(-60, 10), rng.uniform(-60, 60), 0.0]))
        scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=rng.uniform(1.5, 4.0)), pose=light)
    from fitting.render.context import offscreen

    with offscreen(config.width, config.height) as renderer:
        colour, depth = renderer.render(scene, flags=pyrender.RenderFlags.RGBA)
        seg_colours = {node: np.array([idx, idx, idx], dtype=np.uint8) for node, idx in nodes.items()}
        seg, _ = renderer.render(scene, flags=pyrender.RenderFlags.SEG, seg_node_map=seg_colours)
    return np.asarray(colour), np.asarray(depth, dtype=np.float32), np.asarray(seg[..., 0], dtype=np.int32)


def visibility(
    points_px: NDArray[np.floating],
    depths: NDArray[np.floating],
    person: int,
    depth_map: NDArray[np.floating],
    index_map: NDArray[np.integer],
    tolerance: float = OCCLUSION_TOLERANCE_M,
) -> NDArray[np.int64]:
    """COCO visibility per point: 2 visible, 1 inside the frame but occluded, 0 outside the frame."""
    height, width = depth_map.shape
    out = np.zeros(len(points_px), dtype=np.int64)
    for k, ((u, v), z) in enumerate(zip(points_px, depths, strict=True)):
        col, row = int(np.floor(u)), int(np.floor(v))
        if not (0 <= col < width and 0 <= row < height) or z <= 0:
            continue
        surface = depth_map[row, col]
        seen = index_map[row, col] == person and surface > 0 and z - surface <= tolerance
        out[k] = 2 if seen else 1
    return out


def _people_weights(maximum: int) -> NDArray[np.float64]:
    w = np.array([0.6, 0.3, 0.1, 0.05, 0.05][:maximum])
    return np.asarray(w / w.sum(), dtype=np.float64)


def generate(
    config: SynthConfig, out: Path, body: BodyModel | None = None, progress: bool = True
) -> SynthResult:
    """Render ``config.people`` people into ``out`` (created; must be empty or absent)."""
    from PIL import Image

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"output folder {out} is not empty")
    (out / "images").mkdir(parents=True, exist_ok=True)
    body = body or BodyModel.open_body()
    if body.coco17_regressor.shape[0] != 17:
        raise ValueError("synthetic keypoints need the open body (it carries the COCO-17 keypoint regressor)")
    photos = None
    if config.backgrounds:
        photos = sorted(
            p for p in Path(config.backgrounds).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
        )
    rng = np.random.default_rng(config.seed)
    faces = body.faces
    weights = body.smpl.lbs_weights.detach().cpu().numpy()
    population = body.population_betas
    start = time.perf_counter()
    result = SynthResult(out=out)
    images_json: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    truths: list[PersonTruth] = []

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.people, unit="person", desc="synth")
    image_id = -1
    # People left with too few keypoints in the frame are dropped, so draw until enough are kept.
    while len(annotations) < config.people:
        image_id += 1
        remaining = config.people - len(annotations)
        choices = np.arange(1, config.max_people_per_image + 1)
        count = int(min(remaining, rng.choice(choices, p=_people_weights(config.max_people_per_image))))
        focal = rng.uniform(0.8, 2.0) * config.width  # about 28 to 64 degrees of view
        pitch = _camera(rng, config.distribution)
        poses = sample_poses(count, rng, distribution=config.distribution)
        if len(population):
            betas = population[rng.integers(len(population), size=count)].astype(np.float64)
        else:
            betas = rng.normal(0, 1, size=(count, 10))
        placements = _place_people(rng, count, config, focal)
        pose_rot = axis_angle_to_rotmat(torch.as_tensor(poses.axis_angle))
        pose_rot[:, 0] = torch.as_tensor(pitch @ _FLIP) @ pose_rot[:, 0]  # world to camera frame
        with torch.no_grad():
            rest_out = body(torch.as_tensor(betas, dtype=torch.float32), torch.eye(3).repeat(count, 24, 1, 1))
            posed = body(torch.as_tensor(betas, dtype=torch.float32), pose_rot.float())
        pelvis = posed.joints_smpl24[:, 0].double().numpy()
        transl = np.stack([pos for pos, _ in placements]) - pelvis
        verts = posed.vertices.double().numpy() + transl[:, None]
        meshes = [
            (verts[i], person_colours(rng, weights, rest_out.vertices[i].numpy())) for i in range(count)
        ]
        joints_cam = posed.joints_smpl24.double().numpy() + transl[:, None]
        seats = [
            seat_mesh(kind, joints_cam[i], pose_rot[i, 0].double().numpy(), rng)
            for i, kind in enumerate(poses.occluder)
            if kind
        ]
        colour, depth, index_map = _render(meshes, faces, focal, config, rng, seats)
        bg = background(rng, config.height, config.width, photos).astype(np.float64)
        alpha = colour[..., 3:4].astype(np.float64) / 255.0
        composed = (colour[..., :3] * alpha + bg * (1 - alpha)).astype(np.uint8)
        file_name = f"{image_id:06d}.jpg"
        Image.fromarray(composed).save(out / "images" / file_name, quality=config.jpeg_quality)
        images_json.append(
            {"id": image_id, "file_name": file_name, "width": config.width, "height": config.height}
        )
        result.images += 1

        principal = (config.width / 2, config.height / 2)
        coco3d = body.keypoints_coco17(torch.as_tensor(verts, dtype=torch.float32)).double().numpy()
        joints24 = joints_cam
        joints49 = posed.joints_spin49.double().numpy() + transl[:, None]
        for i in range(count):
            person = i + 1
            mask = index_map == person
            kp_px = project(coco3d[i], focal, principal)
            vis = visibility(kp_px, coco3d[i, :, 2], person, depth, index_map)
            if not mask.any() or (vis > 0).sum() < config.min_visible_keypoints:
                result.dropped += 1
                continue
            rows, cols = np.nonzero(mask)
            x0, y0, x1, y1 = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
            keypoints = np.concatenate([np.where(vis[:, None] > 0, kp_px, 0.0), vis[:, None]], axis=1)
            annotation_id = len(annotations) + 1
            annotations.append({
                "id": annotation_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], "area": float(mask.sum()),
                "keypoints": [round(float(x), 2) for x in keypoints.reshape(-1)],
                "num_keypoints": int((vis > 0).sum()),
            })  # fmt: skip
            j49_px = project(joints49[i], focal, principal)
            inside = (
                (j49_px[:, 0] >= 0)
                & (j49_px[:, 0] < config.width)
                & (j49_px[:, 1] >= 0)
                & (j49_px[:, 1] < config.height)
            )
            truths.append(PersonTruth(
                annotation_id=annotation_id, image_id=image_id, betas=betas[i],
                pose_axis_angle=rotmat_to_axis_angle(pose_rot[i].double()).numpy(), transl=transl[i],
                joints_smpl24=joints24[i], joints_spin49=joints49[i], keypoints_coco17=keypoints,
                joints_spin49_px=np.concatenate([j49_px, inside[:, None].astype(np.float64)], axis=1),
                focal=focal, principal=principal, family=poses.family[i],
            ))  # fmt: skip
            result.families[poses.family[i]] = result.families.get(poses.family[i], 0) + 1
        if bar is not None:
            bar.n = len(annotations)
            bar.refresh()
    if bar is not None:
        bar.close()
    result.people = len(annotations)
    result.seconds = time.perf_counter() - start
    _write(out, config, images_json, annotations, truths, result)
    return result


def _write(
    out: Path,
    config: SynthConfig,
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    truths: list[PersonTruth],
    result: SynthResult,
) -> None:
    coco = {
        "info": {"description": "EFT crowd synthetic people", "version": "1", "seed": config.seed},
        "licenses": [{"id": 1, "name": "CC0-1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}],
        "images": images,
        "annotations": annotations,
        "categories": [{
            "id": 1, "name": "person", "supercategory": "person",
            "keypoints": list(LAYOUT_NAMES["coco17"]), "skeleton": COCO_SKELETON,
        }],
    }  # fmt: skip
    (out / "annotations.json").write_text(json.dumps(coco))
    np.savez_compressed(
        out / "truth.npz",
        annotation_id=np.array([t.annotation_id for t in truths], dtype=np.int64),
        image_id=np.array([t.image_id for t in truths], dtype=np.int64),
        betas=np.stack([t.betas for t in truths]).astype(np.float32),
        pose_axis_angle=np.stack([t.pose_axis_angle for t in truths]).astype(np.float32),
        transl=np.stack([t.transl for t in truths]).astype(np.float32),
        joints_smpl24=np.stack([t.joints_smpl24 for t in truths]).astype(np.float32),
        joints_spin49=np.stack([t.joints_spin49 for t in truths]).astype(np.float32),
        joints_spin49_px=np.stack([t.joints_spin49_px for t in truths]).astype(np.float32),
        keypoints_coco17=np.stack([t.keypoints_coco17 for t in truths]).astype(np.float32),
        focal=np.array([t.focal for t in truths], dtype=np.float64),
        principal=np.array([t.principal for t in truths], dtype=np.float64),
        family=np.array([t.family for t in truths]),
    )
    meta = {
        "config": asdict(config),
        "images": result.images,
        "people": len(truths),
        "dropped_people": result.dropped,
        "seconds": round(result.seconds, 1),
        "people_per_second": round(len(truths) / max(result.seconds, 1e-9), 2),
        "families": result.families,
        "frames": "camera: x right, y down, z forward; pixels u = f x / z + cx; pose[0] in the camera frame",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
