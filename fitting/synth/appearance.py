"""Looks of synthetic people and scenes: skin and clothing colours per vertex, backgrounds.

Skin tones span light to dark (RGB anchors after the Fitzpatrick types I-VI as photographed);
clothing takes random colours with sleeve and leg lengths drawn per person; hair is the top and
back of the head. Backgrounds are procedural (gradients, smooth noise, stripes, checks, clutter
of shapes) or, when a folder of photographs is given, random crops of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fitting.joints import SMPL24_NAMES

SKIN_TONES = (
    np.array(
        [[246, 214, 190], [234, 189, 157], [208, 158, 124], [174, 122, 88], [125, 83, 58], [82, 54, 38]],
        dtype=np.float64,
    )
    / 255.0
)
HAIR_COLOURS = (
    np.array([[30, 22, 18], [70, 45, 30], [120, 85, 50], [200, 170, 110], [150, 150, 150], [15, 15, 15]])
    / 255.0
)

_PART = {name: i for i, name in enumerate(SMPL24_NAMES)}
_TORSO = [_PART[n] for n in ("spine1", "spine2", "spine3", "left_collar", "right_collar")]
_UPPER_ARM = [_PART["left_shoulder"], _PART["right_shoulder"]]
_FOREARM = [_PART["left_elbow"], _PART["right_elbow"]]
_HIPS = [_PART["pelvis"]]
_THIGH = [_PART["left_hip"], _PART["right_hip"]]
_SHANK = [_PART["left_knee"], _PART["right_knee"]]
_FEET = [_PART[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
_HEAD = [_PART["head"]]


def _random_colour(rng: np.random.Generator) -> NDArray[np.float64]:
    """A clothing colour: often muted, sometimes saturated."""
    hue = rng.uniform(0, 1)
    sat = rng.uniform(0.0, 0.9) if rng.random() < 0.7 else rng.uniform(0.6, 1.0)
    val = rng.uniform(0.15, 0.95)
    import colorsys

    return np.array(colorsys.hsv_to_rgb(hue, sat, val))


def person_colours(
    rng: np.random.Generator, weights: NDArray[np.floating], rest_vertices: NDArray[np.floating]
) -> NDArray[np.uint8]:
    """Per-vertex RGBA ``(V, 4)`` for one person: skin, hair, shirt, trousers, shoes."""
    part = np.asarray(weights).argmax(axis=1)
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1)
    colours = np.tile(skin, (len(part), 1))
    shirt, trousers, shoes = _random_colour(rng), _random_colour(rng), _random_colour(rng) * 0.5
    sleeves = rng.choice(3, p=[0.35, 0.3, 0.35])  # none, short, long
    legs = rng.choice(2, p=[0.3, 0.7])  # shorts, long
    shirt_parts = _TORSO + (_UPPER_ARM if sleeves >= 1 else []) + (_FOREARM if sleeves == 2 else [])
    trouser_parts = _HIPS + _THIGH + (_SHANK if legs == 1 else [])
    colours[np.isin(part, shirt_parts)] = shirt
    colours[np.isin(part, trouser_parts)] = trousers
    colours[np.isin(part, _FEET)] = shoes
    # Hair: head vertices above the ears and behind the face.
    head = np.isin(part, _HEAD)
    rest = np.asarray(rest_vertices)
    if head.any():
        y, z = rest[:, 1], rest[:, 2]
        top = y[head].max()
        face_front = z[head].max()
        length = rng.uniform(0.06, 0.16)
        hair = head & ((y > top - length * 0.6) | ((z < face_front - 0.1) & (y > top - length * 1.6)))
        if rng.random() > 0.08:  # a few people are bald
            colours[hair] = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]
    rgba = np.concatenate([np.clip(colours, 0, 1), np.ones((len(part), 1))], axis=1)
    return (rgba * 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> NDArray[np.float64]:
    import cv2

    grid = rng.uniform(0, 1, size=(cells, cells, 3)).astype(np.float32)
    noise: NDArray[np.float64] = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC).astype(
        np.float64
    )
    return noise


def background(
    rng: np.random.Generator, height: int, width: int, photos: list[Path] | None = None
) -> NDArray[np.uint8]:
    """An RGB background ``(height, width, 3)``."""
    if photos and rng.random() < 0.8:
        return _photo_crop(rng, photos[int(rng.integers(len(photos)))], height, width)
    kind = rng.integers(5)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([_random_colour(rng) for _ in range(2)])
    if kind == 0:  # gradient
        t = (np.cos(rng.uniform(0, np.pi)) * xx + np.sin(rng.uniform(0, np.pi)) * yy)[..., None]
        img = base[0] * (1 - t) + base[1] * t
    elif kind == 1:  # smooth noise, like foliage or a wall
        img = base[0] * 0.5 + 0.5 * _smooth_noise(rng, height, width, int(rng.integers(3, 24)))
    elif kind == 2:  # stripes
        period = rng.uniform(0.02, 0.2)
        angle = rng.uniform(0, np.pi)
        t = ((np.cos(angle) * xx + np.sin(angle) * yy) / period % 1.0 < 0.5)[..., None]
        img = np.where(t, base[0], base[1])
    elif kind == 3:  # checks, like tiles
        period = rng.uniform(0.03, 0.15)
        t = (((xx // period) + (yy // period)) % 2 == 0)[..., None]
        img = np.where(t, base[0], base[1])
    else:  # clutter of shapes
        img = np.ones((height, width, 3)) * base[0]
        import cv2

        canvas = (img * 255).astype(np.uint8)
        for _ in range(int(rng.integers(5, 25))):
            colour = tuple(int(c) for c in (_random_colour(rng) * 255))
            x0, y0 = int(rng.integers(width)), int(rng.integers(height))
            if rng.random() < 0.5:
                size = int(rng.integers(10, max(11, width // 3)))
                cv2.rectangle(canvas, (x0, y0), (x0 + size, y0 + int(size * rng.uniform(0.3, 2))), colour, -1)
            else:
                cv2.circle(canvas, (x0, y0), int(rng.integers(5, max(6, width // 6))), colour, -1)
        img = canvas.astype(np.float64) / 255.0
    img = img + rng.normal(0, 0.02, size=img.shape)  # sensor noise
    return np.asarray(np.clip(img, 0, 1) * 255, dtype=np.uint8)


def _photo_crop(rng: np.random.Generator, path: Path, height: int, width: int) -> NDArray[np.uint8]:
    from PIL import Image

    with Image.open(path) as image:
        photo = np.asarray(image.convert("RGB"))
    scale = max(height / photo.shape[0], width / photo.shape[1]) * rng.uniform(1.0, 1.6)
    import cv2

    resized = cv2.resize(
        photo, (max(width, int(photo.shape[1] * scale)), max(height, int(photo.shape[0] * scale)))
    )
    y0 = int(rng.integers(resized.shape[0] - height + 1))
    x0 = int(rng.integers(resized.shape[1] - width + 1))
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width], dtype=np.uint8)
