"""Fitting annotated people from image files to EFT JSON entries: the job a fit worker runs.

Reads each image once (a corrupt or missing image is an error naming the file, or, when asked,
a recorded failure), builds the inputs the regressor expects, runs the chosen method, judges each
fit with the sanity rule and returns EFT JSON entries (fitting.export), plus optional pictures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.body.model import BodyModel
from fitting.datasets.common import ImageError, SourcePerson
from fitting.eft.core import EftConfig, eft_loss, sanity_verdict
from fitting.export import eft_entry
from fitting.fit import FitOutcome, Regressor, eft, regress, smplify
from fitting.geometry.camera import normalized_to_image, weak_perspective_project
from fitting.joints import GT24_OFFSET
from fitting.smplify.core import SmplifyConfig
from fitting.smplify.prior import PosePrior

Method = Literal["eft", "regressor", "smplify"]
__all__ = ["FitRun", "FitSettings", "ImageError", "fit_people", "read_image"]


def read_image(path: Path) -> NDArray[np.uint8]:
    """RGB ``(H, W, 3)``; raises ImageError naming the file when it is missing or corrupt."""
    import cv2

    try:
        encoded = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"image {path} cannot be read: {exc.strerror or exc}") from exc
    image = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if encoded.size else None
    if image is None:
        raise ImageError(f"image {path} is not a decodable image (corrupt or not JPEG/PNG)")
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)


@dataclass(frozen=True)
class FitSettings:
    method: Method = "eft"
    eft: EftConfig = field(default_factory=EftConfig)
    smplify: SmplifyConfig = field(default_factory=SmplifyConfig)
    eft_batch: int = 1
    skip_bad_images: bool = False


@dataclass
class FitRun:
    entries: list[dict[str, Any]]
    failures: list[dict[str, Any]]  # {"imageName", "annotIds", "error"}
    pictures: list[Path]


def _finite(values: NDArray[np.floating]) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), 3) for v in values]


ImageSource = Path | Callable[[str], NDArray[np.uint8]]


def fit_people(
    people: list[SourcePerson],
    images: ImageSource,
    regressor: Regressor,
    body: BodyModel,
    settings: FitSettings,
    prior: PosePrior | None = None,
    pictures: Path | None = None,
    on_person: Callable[[], None] | None = None,
) -> FitRun:
    """Fit ``people``; ``images`` is their folder or a function from image name to RGB pixels.

    All people's inputs are built first (each image read once), then the method runs over all
    of them together (batched EFT fits people of different images in one batch), then each
    result is judged and turned into an EFT JSON entry, in the order of ``people``."""
    run = FitRun([], [], [])
    load = images if callable(images) else (lambda name: read_image(Path(images) / name))
    kept: list[SourcePerson] = []
    targets = []
    pixels: dict[str, NDArray[np.uint8]] = {}
    for image_name, group_iter in groupby(people, key=lambda p: p.image_name):
        group = list(group_iter)
        try:
            image = pixels[image_name] if image_name in pixels else load(image_name)
        except ImageError as exc:
            if not settings.skip_bad_images:
                raise
            run.failures.append(
                {"imageName": image_name, "annotIds": [p.annotation_id for p in group], "error": str(exc)}
            )
            for _ in group:
                if on_person:
                    on_person()
            continue
        if pictures is not None:
            pixels[image_name] = image
        kept += group
        targets += [regressor.target(image, p.labels_gt24, p.box()) for p in group]
    if not targets:
        return run
    outcomes: list[FitOutcome]
    if settings.method == "regressor":
        outcomes = list(regress(regressor, body, targets, settings.eft))
        for _ in targets:
            if on_person:
                on_person()
    elif settings.method == "eft":
        outcomes = list(
            eft(regressor, body, targets, settings.eft, batch_size=settings.eft_batch, on_person=on_person)
        )
    else:
        outcomes = list(smplify(regressor, body, targets, prior, settings.smplify, on_person=on_person))
    betas = torch.stack([o.betas for o in outcomes]).to(regressor.device)
    pose = torch.stack([o.pose_rotmat for o in outcomes]).to(regressor.device)
    cams = torch.stack([o.cam_weak for o in outcomes]).to(regressor.device)
    with torch.no_grad():
        out = body(betas, pose)
        projected = weak_perspective_project(out.joints_spin49, cams)
        keypoints = torch.stack([t.keypoints_2d for t in targets])
        _, loss_2d = eft_loss(projected, betas, cams, keypoints, settings.eft)
    for i, (person, outcome) in enumerate(zip(kept, outcomes, strict=True)):
        ok, reason = sanity_verdict(outcome.betas, loss_2d[i].item(), settings.eft.sanity)
        fit = {
            "method": settings.method,
            "iterations": outcome.iterations,
            "mean_error_px": round(outcome.mean_error_px, 3),
            "joint_error_px_gt24": _finite(outcome.joint_error_px[GT24_OFFSET:].numpy()),
            "keypoint_loss": loss_2d[i].item(),
            "sanity_ok": ok,
            "sanity_reason": reason,
            "sanity_rule": settings.eft.sanity,
            "seconds": round(outcome.seconds, 3),
            "config": asdict(settings.smplify if settings.method == "smplify" else settings.eft),
            "checkpoint_sha256": regressor.checkpoint.sha256,
            "body_model": body.description,
        }
        if settings.method == "smplify":
            fit["prior"] = getattr(outcome, "prior", "")
        run.entries.append(
            eft_entry(
                pose_rotmat=outcome.pose_rotmat.numpy(),
                betas=outcome.betas.numpy(),
                cam_weak=outcome.cam_weak.numpy(),
                box=person.box(),
                labels_gt24=person.labels_gt24,
                annotation_id=person.annotation_id,
                image_name=person.image_name,
                fit=fit,
            )
        )
        if pictures is not None:
            vertices = out.vertices[i].cpu().numpy()
            run.pictures.append(
                _picture(pictures, pixels[person.image_name], person, projected[i].cpu(), vertices, body)
            )
    return run


def _picture(
    folder: Path,
    image: NDArray[np.uint8],
    person: SourcePerson,
    projected_n: torch.Tensor,
    vertices: NDArray[np.floating],
    body: BodyModel,
) -> Path:
    from PIL import Image

    from fitting.render.fit_picture import fit_picture

    box = person.box()
    fitted_px = normalized_to_image(projected_n[GT24_OFFSET:], box).numpy()
    picture = fit_picture(image, box, person.labels_gt24, fitted_px, vertices, body.faces)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{person.annotation_id}.jpg"
    Image.fromarray(picture).save(path, quality=90)
    return path
