"""Fitting annotated people from image files to EFT JSON entries: the job a fit worker runs.

Reads each image once (a corrupt or missing image is an error naming the file, or, when asked,
a recorded failure), builds the inputs the regressor expects, runs the chosen method, judges each
fit with the sanity rule and returns a typed PersonFit per person (the EFT JSON entry is made
from it by fitting.export), plus optional pictures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from fitting.body.model import BodyModel
from fitting.config import EftConfig, Method, MethodConfig, SmplifyConfig, running_config
from fitting.datasets.common import ImageError, SourcePerson
from fitting.eft.core import eft_loss, sanity_verdict
from fitting.fit import FitOutcome, Regressor, eft, regress, smplify
from fitting.geometry.camera import normalized_to_image, weak_perspective_project
from fitting.joints import GT24_OFFSET
from fitting.results import ImageFailure, PersonFit
from fitting.smplify.prior import PosePrior

__all__ = ["FitRun", "FitSettings", "ImageError", "ImageFailure", "PersonFit", "fit_people", "read_image"]


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

    @property
    def config(self) -> MethodConfig:
        """The options of the method that runs (the regressor alone runs no EFT update)."""
        return running_config(self.method, self.smplify if self.method == "smplify" else self.eft)


@dataclass
class FitRun:
    fits: list[PersonFit]
    failures: list[ImageFailure]
    pictures: list[Path]


def _finite(values: NDArray[np.floating]) -> tuple[float | None, ...]:
    return tuple(None if math.isnan(v) else round(float(v), 3) for v in values)


ImageSource = Path | Callable[[str], NDArray[np.uint8]]


def fit_people(
    people: Sequence[SourcePerson],
    images: ImageSource,
    regressor: Regressor,
    body: BodyModel,
    settings: FitSettings,
    prior: PosePrior | None = None,
    pictures: Path | None = None,
    on_person: Callable[[], None] | None = None,
    keys: Sequence[Hashable] | None = None,
) -> FitRun:
    """Fit ``people``; ``images`` is their folder or a function from image name to RGB pixels.
    ``keys`` (one per person, default their annotation ids) come back on each PersonFit.

    All people's inputs are built first (each image read once), then the method runs over all
    of them together (batched EFT fits people of different images in one batch), then each
    result is judged by the sanity rule (here, once, for every method), in the order of
    ``people``."""
    if keys is None:
        keys = [p.annotation_id for p in people]
    if len(keys) != len(people):
        raise ValueError(f"fit_people: {len(people)} people but {len(keys)} keys")
    run = FitRun([], [], [])
    load = images if callable(images) else (lambda name: read_image(Path(images) / name))
    kept: list[tuple[Hashable, SourcePerson]] = []
    targets = []
    pixels: dict[str, NDArray[np.uint8]] = {}
    keyed = list(zip(keys, people, strict=True))
    for image_name, group_iter in groupby(keyed, key=lambda kp: kp[1].image_name):
        group = list(group_iter)
        try:
            image = pixels[image_name] if image_name in pixels else load(image_name)
        except ImageError as exc:
            if not settings.skip_bad_images:
                raise
            run.failures.append(ImageFailure(image_name, tuple(k for k, _ in group), str(exc)))
            for _ in group:
                if on_person:
                    on_person()
            continue
        if pictures is not None:
            pixels[image_name] = image
        kept += group
        targets += [regressor.target(image, p.labels_gt24, p.box()) for _, p in group]
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
    for i, ((key, person), outcome) in enumerate(zip(kept, outcomes, strict=True)):
        run.fits.append(
            PersonFit(
                key=key,
                method=settings.method,
                pose_rotmat=outcome.pose_rotmat.detach().cpu().double().numpy(),
                betas=outcome.betas.detach().cpu().double().numpy(),
                cam_weak=outcome.cam_weak.detach().cpu().double().numpy(),
                joint_error_px=_finite(outcome.joint_error_px[GT24_OFFSET:].cpu().numpy()),
                mean_error_px=float(outcome.mean_error_px),
                iterations=int(outcome.iterations),
                keypoint_loss=loss_2d[i].item(),
                loss_before=float(outcome.loss_before),
                loss_after=float(outcome.loss_after),
                verdict=sanity_verdict(
                    outcome.betas,
                    loss_2d[i].item(),
                    settings.eft.sanity,
                    pose_rotmat=outcome.pose_rotmat,
                    joints_smpl24=out.joints_smpl24[i],
                    mean_error_px=float(outcome.mean_error_px),
                    person_size_px=targets[i].box.side,
                ),
                seconds=float(outcome.seconds),
                config=settings.config,
                checkpoint_sha256=regressor.checkpoint.sha256,
                body_model=body.description,
                prior=str(getattr(outcome, "prior", "")) if settings.method == "smplify" else "",
                turn_deg=int(getattr(outcome, "turn_deg", 0)),
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
