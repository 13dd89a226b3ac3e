"""Writes of renders: the camera and side views of fits, stored in media storage."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F

from webapp.datasets.selectors import image_pixels, person_box
from webapp.fits.models import Fit, FitJob, PairRender, Render


def fit_renders_make(*, fit_ids: list[int]) -> int:
    """Render every view a fit lacks; returns how many pictures were made. Safe to run twice."""
    import numpy as np
    import torch
    from PIL import Image

    from fitting.render.overlay import camera_view, side_view
    from webapp.fits.engine import engine_for

    made = 0
    fits = (
        Fit.objects.filter(pk__in=fit_ids)
        .select_related("job", "person", "person__image")
        .order_by("person__image__name")
    )
    pixels: dict[int, Any] = {}
    for fit in fits:
        have = set(Render.objects.filter(fit=fit).values_list("kind", flat=True))
        wanted = [k for k in (Render.Kind.CAMERA, Render.Kind.SIDE) if k not in have]
        if not wanted:
            continue
        job: FitJob = fit.job
        engine = engine_for(job.checkpoint, job.body_model)
        body = engine.body
        with torch.no_grad():
            out = body(
                torch.tensor([fit.betas], dtype=torch.float32, device=engine.device),
                torch.tensor([fit.pose_rotmat], dtype=torch.float32, device=engine.device),
            )
        vertices = out.vertices[0].cpu().numpy()
        cam = np.asarray(fit.cam_weak, dtype=np.float64)
        image_row = fit.person.image
        if image_row.pk not in pixels:
            pixels = {image_row.pk: image_pixels(image_row)}
        box = person_box(fit.person)
        for kind in wanted:
            if kind == Render.Kind.CAMERA:
                picture = camera_view(
                    pixels[image_row.pk], box, vertices, body.faces, cam, size=job.render_size
                )
            else:
                picture = side_view(vertices, body.faces, cam, size=job.render_size)
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, format="JPEG", quality=90)
            name = default_storage.save(
                f"renders/job-{job.pk}/{fit.pk}-{kind}.jpg", ContentFile(buffer.getvalue())
            )
            created = Render.objects.bulk_create(
                [Render(fit=fit, kind=kind, file=name, size=job.render_size)], ignore_conflicts=True
            )
            if not Render.objects.filter(fit=fit, kind=kind, file=name).exists():
                default_storage.delete(name)  # another run stored this view first
                continue
            made += len(created)
            FitJob.objects.filter(pk=job.pk).update(renders_done=F("renders_done") + 1)
    return made


def _vertices(fit: Fit) -> Any:
    import torch

    from webapp.fits.engine import engine_for

    engine = engine_for(fit.job.checkpoint, fit.job.body_model)
    with torch.no_grad():
        out = engine.body(
            torch.tensor([fit.betas], dtype=torch.float32, device=engine.device),
            torch.tensor([fit.pose_rotmat], dtype=torch.float32, device=engine.device),
        )
    return out.vertices[0].cpu().numpy(), engine.body.faces


def fit_pair_render(*, fit_a: Fit, fit_b: Fit, size: int = 512) -> PairRender:
    """The A/B picture of two fits of the same person: camera and side views of A (blue) and of
    B (orange), A on the left. Made once per pair."""
    import numpy as np
    from PIL import Image

    from fitting.render.mesh import PALETTE
    from fitting.render.overlay import ab_view, camera_view, side_view

    if fit_a.person_id != fit_b.person_id:
        raise ValueError(f"fits {fit_a.pk} and {fit_b.pk} are of different people")
    existing = PairRender.objects.filter(fit_a=fit_a, fit_b=fit_b).first()
    if existing is not None:
        return existing
    image = image_pixels(fit_a.person.image)
    box = person_box(fit_a.person)
    halves = []
    for fit, colour in ((fit_a, PALETTE[0]), (fit_b, PALETTE[1])):
        vertices, faces = _vertices(fit)
        cam = np.asarray(fit.cam_weak, dtype=np.float64)
        front = camera_view(image, box, vertices, faces, cam, size=size, colour=colour)
        side = side_view(vertices, faces, cam, size=size, colour=colour)
        halves.append(np.concatenate([front, side], axis=0))
    buffer = io.BytesIO()
    Image.fromarray(ab_view(halves[0], halves[1])).save(buffer, format="JPEG", quality=90)
    name = default_storage.save(f"renders/ab/{fit_a.pk}-{fit_b.pk}.jpg", ContentFile(buffer.getvalue()))
    PairRender.objects.bulk_create(
        [PairRender(fit_a=fit_a, fit_b=fit_b, file=name, size=size)], ignore_conflicts=True
    )
    made = PairRender.objects.get(fit_a=fit_a, fit_b=fit_b)
    if made.file.name != name:
        default_storage.delete(name)
    return made
