"""The fit pictures with a kept renderer: a picture does not depend on what was drawn before it,
at any size or from any thread, and a released renderer is made again."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from fitting.body.model import BodyModel
from fitting.geometry.camera import CropBox
from fitting.render.context import kept_renderer, release
from fitting.render.overlay import camera_view, side_view

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def bodies() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    body = BodyModel.open_body()
    pose = torch.eye(3).repeat(2, 24, 1, 1)
    pose[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # upright in the camera frame
    pose[1, 17] = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # an arm turned
    with torch.no_grad():
        vertices = body(torch.zeros(2, 10), pose).vertices.numpy()
    return vertices[0], vertices[1], body.faces


def test_pictures_do_not_depend_on_what_was_drawn_before(bodies: tuple[np.ndarray, ...]) -> None:
    first, second, faces = bodies
    image = np.full((200, 300, 3), 90, dtype=np.uint8)
    box = CropBox(150.0, 100.0, 180.0)
    cam = np.array([0.9, 0.0, 0.0])
    release()
    a = camera_view(image, box, first, faces, cam, size=96)
    side_a = side_view(first, faces, cam, size=64)
    b = camera_view(image, box, second, faces, cam, size=96)
    assert not np.array_equal(a, b)  # the second body is drawn, not the first again
    assert np.array_equal(camera_view(image, box, first, faces, cam, size=96), a)
    assert np.array_equal(side_view(first, faces, cam, size=64), side_a)
    kept = kept_renderer()
    assert np.array_equal(camera_view(image, box, second, faces, cam, size=96), b)
    assert kept_renderer() is kept  # one renderer, its viewport set to each size

    release()
    assert kept_renderer() is None
    assert np.array_equal(camera_view(image, box, first, faces, cam, size=96), a)  # made again

    seen: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: seen.append(camera_view(image, box, first, faces, cam, size=96)))
    thread.start()
    thread.join()
    assert np.array_equal(seen[0], a)  # another thread draws with the same renderer, the same picture
    assert kept_renderer() is not kept
    again = kept_renderer()
    assert np.array_equal(camera_view(image, box, first, faces, cam, size=96), a)  # and this one again
    assert kept_renderer() is again

    # Other pictures of the library (previews, synthetic people) share it and leave it working.
    from fitting.render.mesh import MeshSpec, render_views

    render_views([MeshSpec(first, faces)], views=("front",), size=80)
    assert kept_renderer() is again
    assert np.array_equal(camera_view(image, box, first, faces, cam, size=96), a)
