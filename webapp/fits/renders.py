"""Writes of renders: the crop, camera and side views of fits, stored in media storage."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from webapp.core import taskstate
from webapp.core.media import dataset_folder, job_render_folder
from webapp.core.taskstate import TaskStatus
from webapp.datasets.selectors import image_pixels, person_box
from webapp.fits.models import Fit, FitJob, PairRender, Render

RENDER_KINDS = (Render.Kind.CROP, Render.Kind.CAMERA, Render.Kind.SIDE)


def renders_request(*, job: FitJob, fit_ids: list[int], enqueue: bool = True) -> list[int]:
    """Ask for the crop, camera and side views of these fits (each view once: a fit's existing views
    are kept); their render task is sent once the current transaction commits. Returns the ids
    of the renders waiting to be made."""
    Render.objects.bulk_create(
        [Render(fit_id=pk, kind=kind, size=job.render_size,
                status=TaskStatus.QUEUED if enqueue else TaskStatus.PENDING)
         for pk in fit_ids for kind in RENDER_KINDS],
        ignore_conflicts=True,
    )  # fmt: skip
    ids = list(
        Render.objects.filter(fit_id__in=fit_ids, status__in=taskstate.WAITING).values_list("id", flat=True)
    )
    if ids and enqueue:
        renders_enqueue(ids)
    return ids


def renders_enqueue(ids: list[int]) -> None:
    """Send the render task of these renders once the current transaction commits."""
    from tasks.renders import render_fits_task

    transaction.on_commit(lambda: render_fits_task.delay(ids))


#: How the stale-work sweeper (webapp.core.taskstate) treats renders.
RENDER_WORK = taskstate.WorkKind("renders", Render, renders_enqueue, resend_waiting=True)


def _vertices(fit: Fit) -> Any:
    """The fit's mesh ``(V, 3)`` and faces, from the body model alone (no regressor is loaded)."""
    import torch

    from webapp.fits.engine import body_for

    body, device = body_for(fit.job.body_model)
    with torch.no_grad():
        out = body(
            torch.tensor([fit.betas], dtype=torch.float32, device=device),
            torch.tensor([fit.pose_rotmat], dtype=torch.float32, device=device),
        )
    return out.vertices[0].cpu().numpy(), body.faces


def fit_renders_make(*, render_ids: list[int], worker: str = "") -> int:
    """Make the renders that can be claimed (queued or pending ones; others are left alone: safe
    to run twice); a render that cannot be made is failed with the reason and the rest go on.
    Returns how many pictures were made."""
    import numpy as np
    from PIL import Image

    from fitting.geometry.camera import crop_image
    from fitting.render.overlay import camera_view, side_view

    made = 0
    renders = (
        Render.objects.filter(pk__in=render_ids, status__in=taskstate.WAITING)
        .select_related("fit", "fit__job", "fit__person", "fit__person__image")
        .order_by("fit__person__image__name", "fit_id", "kind")
    )
    pixels: dict[int, Any] = {}
    meshes: dict[int, Any] = {}
    for render in renders:
        if not taskstate.claim(Render, render.pk, worker):
            continue
        fit = render.fit
        try:
            if render.kind in (Render.Kind.CROP, Render.Kind.CAMERA):
                image_row = fit.person.image
                if image_row.pk not in pixels:
                    pixels = {image_row.pk: image_pixels(image_row)}
            if render.kind == Render.Kind.CROP:
                picture = crop_image(pixels[fit.person.image.pk], person_box(fit.person), render.size)
            else:
                if fit.pk not in meshes:
                    meshes = {fit.pk: _vertices(fit)}
                vertices, faces = meshes[fit.pk]
                cam = np.asarray(fit.cam_weak, dtype=np.float64)
                if render.kind == Render.Kind.CAMERA:
                    image, box = pixels[fit.person.image.pk], person_box(fit.person)
                    picture = camera_view(image, box, vertices, faces, cam, size=render.size)
                else:
                    picture = side_view(vertices, faces, cam, size=render.size)
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, format="JPEG", quality=90)
            target = f"{job_render_folder(fit.job.dataset_id, fit.job_id)}/{fit.pk}-{render.kind}.jpg"
            # A worker that died between storing this picture and finishing the row left it: the
            # name is this render's alone, so the file is replaced rather than kept beside it.
            default_storage.delete(target)
            name = default_storage.save(target, ContentFile(buffer.getvalue()))
        except Exception as exc:
            taskstate.fail(Render, render.pk, f"{type(exc).__name__}: {exc}")
            continue
        if taskstate.finish(Render, render.pk, file=name):
            made += 1
            FitJob.objects.filter(pk=fit.job_id).update(renders_done=F("renders_done") + 1)
        else:
            default_storage.delete(name)  # the sweeper gave it to another worker meanwhile
    return made


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
    name = default_storage.save(
        f"{dataset_folder(fit_a.person.dataset_id)}/renders/ab/{fit_a.pk}-{fit_b.pk}.jpg",
        ContentFile(buffer.getvalue()),
    )
    PairRender.objects.bulk_create(
        [PairRender(fit_a=fit_a, fit_b=fit_b, file=name, size=size)], ignore_conflicts=True
    )
    made = PairRender.objects.get(fit_a=fit_a, fit_b=fit_b)
    if made.file.name != name:
        default_storage.delete(name)
    return made
