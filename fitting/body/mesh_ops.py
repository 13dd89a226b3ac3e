"""Mesh geometry used for checks: generalised winding numbers (inside / outside a closed mesh)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def winding_numbers(
    points: NDArray[np.floating], vertices: NDArray[np.floating], faces: NDArray[np.integer]
) -> NDArray[np.float64]:
    """Generalised winding number ``(P,)`` of each point ``(P, 3)`` w.r.t. a triangle mesh.

    About 1 inside a closed, outward-oriented mesh and 0 outside (Jacobson et al. 2013: the sum
    of the signed solid angles of the triangles, over 4 pi; Van Oosterom-Strackee formula).
    """
    pts = np.asarray(points, dtype=np.float64)
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]  # (F, 3, 3)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points: expected shape (P, 3), got {pts.shape}")
    out = np.empty(len(pts))
    for i, p in enumerate(pts):
        a, b, c = (tri[:, k] - p for k in range(3))
        la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
        det = np.einsum("ij,ij->i", a, np.cross(b, c))
        denom = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la
        denom += np.einsum("ij,ij->i", c, a) * lb
        out[i] = np.arctan2(det, denom).sum() * 2.0 / (4.0 * np.pi)
    return out
