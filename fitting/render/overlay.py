"""The two pictures a crowd worker judges a fit by: the body over the image, seen from the fit's
own camera, and the same body from the side (90 degrees about the vertical axis).

The fit's weak-perspective camera ``[s, tx, ty]`` maps a body point ``(X, Y, Z)`` (HMR's camera
frame: x right, y down, z away) to the normalised crop ``(s X + tx, s Y + ty)``; an orthographic
render over ``[-1, 1]^2`` of the crop reproduces it exactly, with depth ``s Z`` for occlusion.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fitting.geometry.camera import CropBox, crop_image
from fitting.render.context import offscreen
from fitting.render.mesh import PALETTE, ensure_backend

_TO_GL = np.array([1.0, -1.0, -1.0])  # camera frame (y down, z away) -> OpenGL (y up, z toward us)


def _render(
    points_gl: NDArray[np.float64], faces: NDArray[np.integer], size: int, colour: tuple[float, float, float]
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    ensure_backend()
    import pyrender
    import trimesh

    scene = pyrender.Scene(bg_color=[1.0, 1.0, 1.0, 0.0], ambient_light=[0.35, 0.35, 0.35])
    material = pyrender.MetallicRoughnessMaterial(
        baseColorFactor=[*colour, 1.0], metallicFactor=0.0, roughnessFactor=0.8
    )
    mesh = trimesh.Trimesh(points_gl, np.asarray(faces), process=False)
    scene.add(pyrender.Mesh.from_trimesh(mesh, material=material, smooth=True))
    pose = np.eye(4)
    pose[2, 3] = float(points_gl[:, 2].max()) + 5.0
    scene.add(pyrender.OrthographicCamera(xmag=1.0, ymag=1.0, znear=0.01, zfar=100.0), pose=pose)
    scene.add(pyrender.DirectionalLight(color=[1.0, 1.0, 1.0], intensity=3.0), pose=pose)
    with offscreen(size, size) as renderer:
        colour_image, depth = renderer.render(scene)
    return np.ascontiguousarray(colour_image[:, :, :3], dtype=np.uint8), depth > 0


def camera_view(
    image_rgb: NDArray[np.uint8],
    box: CropBox,
    vertices: NDArray[np.floating],
    faces: NDArray[np.integer],
    cam_weak: NDArray[np.floating],
    size: int = 512,
    alpha: float = 0.8,
    colour: tuple[float, float, float] = PALETTE[0],
) -> NDArray[np.uint8]:
    """The crop of ``box`` (``size`` pixels) with the body drawn over it from the fit's camera."""
    s, tx, ty = (float(v) for v in np.asarray(cam_weak).reshape(3))
    v = np.asarray(vertices, dtype=np.float64)
    normalised = np.stack([s * v[:, 0] + tx, s * v[:, 1] + ty, s * v[:, 2]], axis=1)
    drawn, mask = _render(normalised * _TO_GL, faces, size, colour)
    crop = crop_image(image_rgb, box, size).astype(np.float64)
    blend = np.where(mask[..., None], (1 - alpha) * crop + alpha * drawn, crop)
    return np.clip(blend, 0, 255).astype(np.uint8)


def side_view(
    vertices: NDArray[np.floating],
    faces: NDArray[np.integer],
    cam_weak: NDArray[np.floating],
    size: int = 512,
    colour: tuple[float, float, float] = PALETTE[0],
) -> NDArray[np.uint8]:
    """The body turned 90 degrees about the vertical axis, at the camera view's scale, on white."""
    s = float(np.asarray(cam_weak).reshape(3)[0])
    v = np.asarray(vertices, dtype=np.float64)
    centred = v - (v.min(axis=0) + v.max(axis=0)) / 2
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about y
    drawn, _ = _render(s * (centred @ turn.T) * _TO_GL, faces, size, colour)
    return drawn


def ab_view(first: NDArray[np.uint8], second: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Two pictures of one size side by side (A left, B right), with a white gap."""
    gap = np.full((first.shape[0], 8, 3), 255, dtype=np.uint8)
    return np.concatenate([first, gap, second], axis=1)
