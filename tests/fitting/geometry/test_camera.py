import numpy as np
import pytest
import torch

from fitting.geometry.camera import (
    CropBox,
    crop_image,
    normalized_to_image,
    spin_translation_to_weak,
    weak_perspective_project,
    weak_to_spin_translation,
)


def test_box_rule_is_eft_s() -> None:
    box = CropBox.from_bbox(100.0, 50.0, 80.0, 200.0)
    assert (box.center_x, box.center_y) == (140.0, 150.0)
    assert box.scale == pytest.approx(1.2 * 200.0 / 200.0)
    assert box.side == pytest.approx(240.0)


def _image_to_crop(points: np.ndarray, box: CropBox, size: int = 224) -> np.ndarray:
    matrix = box.image_to_crop_matrix(size)
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_crop_formula_exactly_as_documented() -> None:
    # x_crop = 224 * (x - cx) / side + 112, with side = 200 * scale = 300 px here: the box's
    # centre lands on the crop's centre and its corners on the crop's corners.
    box = CropBox(300.0, 200.0, 1.5)
    points = np.array([[300.0, 200.0], [450.0, 50.0], [150.0, 350.0], [375.0, 275.0]])
    crop = _image_to_crop(points, box)
    np.testing.assert_allclose(crop, [[112.0, 112.0], [224.0, 0.0], [0.0, 224.0], [168.0, 168.0]], atol=1e-12)


def test_normalized_and_image_pixels_agree_with_the_crop() -> None:
    # u = cx + 100 * scale * x_n (here 321.5 + 87 x_n), v = cy + 87 y_n, worked out by hand.
    box = CropBox(321.5, 123.25, 0.87)
    normalized = torch.tensor([[0.0, 0.0], [1.0, -1.0], [-0.5, 0.25]], dtype=torch.float64)
    image = normalized_to_image(normalized, box)
    expected = torch.tensor([[321.5, 123.25], [408.5, 36.25], [278.0, 145.0]], dtype=torch.float64)
    assert torch.allclose(image, expected, atol=1e-12)
    # ... and x_n = 2 * x_crop / 224 - 1 with x_crop from the box's crop matrix.
    crop = _image_to_crop(image.numpy(), box)
    np.testing.assert_allclose(2.0 * crop / 224.0 - 1.0, normalized.numpy(), atol=1e-12)


def test_crop_image_pads_with_zeros_and_keeps_content_in_place() -> None:
    image = np.full((100, 200, 3), 255, dtype=np.uint8)
    image[40:60, 90:110] = (255, 0, 0)  # a red square at the centre
    box = CropBox(100.0, 50.0, 1.0)  # 200 px side: extends 50 px above and below the image
    crop = crop_image(image, box)
    assert crop.shape == (224, 224, 3)
    assert (crop[5, 112] == 0).all()  # above the image: zero padding
    assert (crop[112, 112] == (255, 0, 0)).all()  # the centre stays the centre
    assert (crop[112, 20] == 255).all()
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        crop_image(np.zeros((10, 10), dtype=np.uint8), box)


def test_weak_perspective_projection_and_shape_errors() -> None:
    points = torch.tensor([[[1.0, 2.0, 3.0], [-1.0, 0.5, 9.0]]])
    cam = torch.tensor([[0.5, 0.1, -0.2]])
    assert torch.allclose(weak_perspective_project(points, cam), torch.tensor([[[0.6, 0.8], [-0.4, 0.05]]]))
    with pytest.raises(ValueError, match=r"cam_weak: expected shape \(1, 3\)"):
        weak_perspective_project(points, torch.zeros(2, 3))


def test_eft_and_spin_camera_conventions_convert_both_ways() -> None:
    cam = torch.tensor([[0.9, 0.09, -0.18]], dtype=torch.float64)
    spin_t = weak_to_spin_translation(cam)
    # EFT's translation is s times SPIN's.
    assert torch.allclose(spin_t[0, :2], torch.tensor([0.1, -0.2], dtype=torch.float64))
    assert spin_t[0, 2].item() == pytest.approx(2 * 5000 / (224 * 0.9))
    assert torch.allclose(spin_translation_to_weak(spin_t), cam)


def test_bad_boxes_are_refused() -> None:
    with pytest.raises(ValueError, match="positive width"):
        CropBox.from_bbox(0, 0, 0, 10)
    with pytest.raises(ValueError, match="at least 2 valid keypoints"):
        CropBox.from_keypoints(np.array([[1.0, 1.0, 1.0], [5.0, 5.0, 0.0]]))
