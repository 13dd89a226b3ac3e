"""Rendering meshes offscreen with pyrender (headless: EGL, or OSMesa as fallback).

``render_views`` draws one or more meshes with an orthographic camera that frames them, from
the front (looking down -z at a body facing +z) or from the side (90 degrees about the vertical
axis). Fit overlays on images (weak-perspective camera) build on the same scene helpers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fitting.render.backend import KNOWN_BACKENDS, select_platform

View = Literal["front", "side", "back"]

#: Distinct mesh colours (RGB in [0, 1]): a skin-like grey-blue, then orange for a second fit.
PALETTE: tuple[tuple[float, float, float], ...] = ((0.62, 0.74, 0.86), (0.95, 0.6, 0.3), (0.5, 0.8, 0.5))


@dataclass(frozen=True)
class MeshSpec:
    vertices: NDArray[np.floating]  # (V, 3)
    faces: NDArray[np.integer]  # (F, 3)
    color: tuple[float, float, float] = PALETTE[0]


def ensure_backend(preferred: Sequence[str] = KNOWN_BACKENDS) -> str:
    """Select the OpenGL platform before pyrender is imported: the environment's choice, or the first."""
    chosen = os.environ.get("PYOPENGL_PLATFORM") or preferred[0]
    select_platform(chosen)
    return chosen


def _rotation(axis: tuple[float, float, float], angle: float) -> NDArray[np.float64]:
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    skew = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot: NDArray[np.float64] = np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew
    return rot


# A key light from above and to the camera's left (pyrender lights shine down their -z).
_KEY_LIGHT = np.eye(4)
_KEY_LIGHT[:3, :3] = _rotation((0.0, 1.0, 0.0), -0.5) @ _rotation((1.0, 0.0, 0.0), -0.6)


def _view_rotation(view: View) -> NDArray[np.float64]:
    """Rotation applied to the meshes so the camera (looking down -z) sees the requested side."""
    if view == "front":
        return np.eye(3)
    angle = np.pi / 2 if view == "side" else np.pi  # side: the body's left faces the camera
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def render_views(
    meshes: Sequence[MeshSpec],
    views: Sequence[View] = ("front", "side"),
    size: int = 512,
    margin: float = 0.08,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> list[NDArray[np.uint8]]:
    """RGB images ``(size, size, 3)``, one per view, of the meshes framed together."""
    if not meshes:
        raise ValueError("render_views needs at least one mesh")
    ensure_backend()
    import pyrender
    import trimesh

    from fitting.render.context import offscreen

    images: list[NDArray[np.uint8]] = []
    with offscreen(size, size) as renderer:
        for view in views:
            rot = _view_rotation(view)
            placed = [np.asarray(m.vertices, dtype=np.float64) @ rot.T for m in meshes]
            stacked = np.concatenate(placed)
            lo, hi = stacked.min(axis=0), stacked.max(axis=0)
            center = (lo + hi) / 2
            half = max(hi[0] - lo[0], hi[1] - lo[1]) / 2 * (1 + margin)
            scene = pyrender.Scene(bg_color=[*background, 1.0], ambient_light=[0.35, 0.35, 0.35])
            for spec, verts in zip(meshes, placed, strict=True):
                material = pyrender.MetallicRoughnessMaterial(
                    baseColorFactor=[*spec.color, 1.0], metallicFactor=0.0, roughnessFactor=0.8
                )
                tri = trimesh.Trimesh(verts - center, np.asarray(spec.faces), process=False)
                scene.add(pyrender.Mesh.from_trimesh(tri, material=material, smooth=True))
            camera_pose = np.eye(4)
            camera_pose[2, 3] = (hi[2] - lo[2]) + 2.0
            scene.add(
                pyrender.OrthographicCamera(xmag=half, ymag=half, znear=0.01, zfar=100.0), pose=camera_pose
            )
            scene.add(pyrender.DirectionalLight(color=[1.0, 1.0, 1.0], intensity=2.5), pose=camera_pose)
            scene.add(pyrender.DirectionalLight(color=[1.0, 1.0, 1.0], intensity=2.0), pose=_KEY_LIGHT)
            color, _depth = renderer.render(scene)
            images.append(np.ascontiguousarray(color[:, :, :3], dtype=np.uint8))
    return images


def side_by_side(images: Sequence[NDArray[np.uint8]]) -> NDArray[np.uint8]:
    """Concatenate images of one height horizontally."""
    return np.concatenate(list(images), axis=1)
