"""factory_boy factories for datasets, images, people, fit jobs, fits and renders.

Every object is consistent the way the app makes it: an Image's file is a real JPEG in media
storage (``default_storage``) whose size, sha256 and byte count are the row's; a Person's GT-24
labels lie inside its image and its labelled count and filter flags follow from them; a Dataset's
counts are recounted from its rows whenever a factory adds one; a Fit has the shapes
``fitting.results.PersonFit`` demands and a sanity verdict that agrees with its betas; a done
Render has its picture. Nothing here runs EFT or imports torch: building a fit is instant.

Use them with the ``media`` fixture (tests/conftest.py), so the files land in the test's folder:

    def test_x(media, db): fit = FitFactory()  # with its job, person, image and dataset
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict
from typing import Any

import factory
import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Sum
from django.utils import timezone
from factory.django import DjangoModelFactory
from PIL import Image as PILImage

from fitting.config import EftConfig
from fitting.joints import GT24_NAMES, to_gt24
from webapp.core.media import dataset_folder, job_render_folder
from webapp.core.taskstate import TaskStatus
from webapp.datasets.models import Dataset, Image, Person
from webapp.fits.models import Fit, FitChunk, FitJob, Render

#: A standing person's 17 COCO keypoints as fractions of the image's width and height (nose,
#: eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; COCO order), all inside the image.
COCO17_STANDING = (
    (0.50, 0.15), (0.53, 0.13), (0.47, 0.13), (0.56, 0.14), (0.44, 0.14),
    (0.62, 0.28), (0.38, 0.28), (0.68, 0.42), (0.32, 0.42), (0.70, 0.55), (0.30, 0.55),
    (0.57, 0.55), (0.43, 0.55), (0.58, 0.72), (0.42, 0.72), (0.59, 0.88), (0.41, 0.88),
)  # fmt: skip

#: GT-24 indices of the 12 limb keypoints (COCO-Part needs them all; the model's help text).
LIMBS = tuple(
    GT24_NAMES.index(f"{side} {part}")
    for side in ("Right", "Left")
    for part in ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")
)

#: The checkpoint_sha256 of factory fits: 64 hex digits, as a real regressor's.
FACTORY_CHECKPOINT_SHA256 = hashlib.sha256(b"tests/factories.py regressor").hexdigest()


def jpeg_bytes(width: int, height: int, seed: int = 0) -> bytes:
    """A real JPEG of ``width`` x ``height`` pixels (a smooth gradient plus noise from ``seed``)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack(
        [xs * 255 // max(width - 1, 1), ys * 255 // max(height - 1, 1), np.full_like(xs, 128)], -1
    )
    pixels = np.clip(base + rng.integers(-20, 21, size=base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def dataset_recount(dataset: Dataset) -> None:
    """Set a dataset's counts from its rows, as a finished import leaves them."""
    people = Person.objects.filter(dataset=dataset)
    total = people.count()
    splits: dict[str, int] = {}
    for split in people.values_list("split", flat=True):
        splits[split] = splits.get(split, 0) + 1
    Dataset.objects.filter(pk=dataset.pk).update(
        annotations_count=total,
        people_count=total,
        images_count=Image.objects.filter(dataset=dataset).count(),
        progress_done=total,
        progress_total=total,
        keypoints_outside=people.aggregate(n=Sum("keypoints_outside"))["n"] or 0,
        filter_counts={
            "all": people.filter(labelled__gt=0).count(),
            "coco-all": people.filter(coco_all=True).count(),
            "coco-part": people.filter(coco_part=True).count(),
        },
        split_counts=splits,
    )
    dataset.refresh_from_db()


class DatasetFactory(DjangoModelFactory):
    """A dataset whose import is done (add people with PersonFactory: the counts follow)."""

    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"factory-dataset-{n}")
    source_format = Dataset.Format.COCO
    split = "train"
    source_kind = Dataset.Source.SERVER
    source_location = factory.LazyAttribute(lambda o: f"/imports/{o.name}")
    annotation_path = "annotations.json"
    images_path = "images"
    status = TaskStatus.DONE
    stage = "done"
    attempts = 1
    worker = "factory@localhost"
    claimed_at = factory.LazyFunction(timezone.now)
    heartbeat_at = factory.SelfAttribute("claimed_at")
    finished_at = factory.SelfAttribute("claimed_at")
    filter_counts = factory.LazyFunction(lambda: {"all": 0, "coco-all": 0, "coco-part": 0})
    split_counts = factory.LazyFunction(dict)


class ImageFactory(DjangoModelFactory):
    """An image whose file is a real JPEG stored where an import stores it
    (``datasets/<dataset pk>/images/<name>``), with its true size, sha256 and byte count."""

    class Meta:
        model = Image

    class Params:
        seed = factory.Sequence(int)
        jpeg = factory.LazyAttribute(lambda o: jpeg_bytes(o.width, o.height, o.seed))

    dataset = factory.SubFactory(DatasetFactory)
    name = factory.Sequence(lambda n: f"{n:06d}.jpg")
    width = 160
    height = 120
    file = factory.LazyAttribute(
        lambda o: default_storage.save(f"{dataset_folder(o.dataset.pk)}/images/{o.name}", ContentFile(o.jpeg))
    )
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.jpeg).hexdigest())
    bytes = factory.LazyAttribute(lambda o: len(o.jpeg))

    @classmethod
    def _create(cls, model_class: type[Image], *args: Any, **kwargs: Any) -> Image:
        image: Image = super()._create(model_class, *args, **kwargs)
        dataset_recount(image.dataset)
        return image


def coco17_keypoints(width: int, height: int, labelled: int) -> list[list[float]]:
    """COCO keypoints of a standing person inside a ``width`` x ``height`` image: the first
    ``labelled`` (COCO order) visible (flag 2), the rest unlabelled (0, 0, 0)."""
    return [
        [round(fx * width, 2), round(fy * height, 2), 2.0] if k < labelled else [0.0, 0.0, 0.0]
        for k, (fx, fy) in enumerate(COCO17_STANDING)
    ]


class PersonFactory(DjangoModelFactory):
    """A COCO person on an image of the same dataset; ``labelled_keypoints=n`` labels the first n
    of its 17 keypoints (default all: COCO-All and COCO-Part)."""

    class Meta:
        model = Person

    class Params:
        labelled_keypoints = 17

    dataset = factory.SubFactory(DatasetFactory)
    image = factory.SubFactory(ImageFactory, dataset=factory.SelfAttribute("..dataset"))
    source_annotation_id = factory.Sequence(lambda n: str(5000 + n))
    layout = "coco17"
    bbox = factory.LazyAttribute(
        lambda o: [0.25 * o.image.width, 0.05 * o.image.height, 0.5 * o.image.width, 0.9 * o.image.height]
    )
    keypoints_raw = factory.LazyAttribute(
        lambda o: coco17_keypoints(o.image.width, o.image.height, o.labelled_keypoints)
    )
    keypoints_gt24 = factory.LazyAttribute(
        lambda o: to_gt24(np.asarray([o.keypoints_raw], dtype=np.float64), "coco17")[0].tolist()
    )
    labelled = factory.LazyAttribute(lambda o: int(sum(1 for _x, _y, v in o.keypoints_gt24 if v > 0)))
    keypoints_outside = 0
    coco_all = factory.LazyAttribute(lambda o: o.labelled >= 6)
    coco_part = factory.LazyAttribute(lambda o: all(o.keypoints_gt24[j][2] > 0 for j in LIMBS))
    split = factory.SelfAttribute("dataset.split")

    @classmethod
    def _create(cls, model_class: type[Person], *args: Any, **kwargs: Any) -> Person:
        person: Person = super()._create(model_class, *args, **kwargs)
        dataset_recount(person.dataset)
        return person


class FitJobFactory(DjangoModelFactory):
    """A done EFT job with the default options (set its people counts to the fits you add, or
    use ``done_fit_job``)."""

    class Meta:
        model = FitJob

    dataset = factory.SubFactory(DatasetFactory)
    filter = "all"
    method = FitJob.Method.EFT
    config = factory.LazyFunction(lambda: asdict(EftConfig()))
    status = TaskStatus.DONE
    render = True
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.SelfAttribute("started_at")


class FitChunkFactory(DjangoModelFactory):
    class Meta:
        model = FitChunk

    job = factory.SubFactory(FitJobFactory)
    index = factory.Sequence(int)
    person_ids = factory.LazyFunction(list)
    status = TaskStatus.DONE
    attempts = 1
    worker = "factory@localhost"
    claimed_at = factory.LazyFunction(timezone.now)
    heartbeat_at = factory.SelfAttribute("claimed_at")
    finished_at = factory.SelfAttribute("claimed_at")
    device = "cpu"
    seconds = 1.0


def _paper_sanity(betas: list[float], keypoint_loss: float) -> tuple[bool, str, str]:
    """The paper's sanity rule (fitting.sanity.sanity_verdict), restated here so that building a
    fit imports no torch: max |beta| above 5, else a 2D keypoint loss above 0.01, fails.
    (ok, reason, code)."""
    largest = max(abs(b) for b in betas)
    if largest > 5.0:
        return False, f"max |beta| {largest:.2f} > 5.0", "betas"
    if keypoint_loss > 0.01:
        return False, f"2D keypoint loss {keypoint_loss:.5f} > 0.01", "keypoint_loss"
    return True, "ok", "ok"


class FitFactory(DjangoModelFactory):
    """A fit as the pipeline stores one: 24 identity rotations, 10 betas, the camera
    [0.9, 0, 0], ``error_px`` pixels of error at every labelled joint (None elsewhere), and the
    paper's sanity verdict of its betas; ``failing=True`` gives it a beta of -5.5 (fails)."""

    class Meta:
        model = Fit

    class Params:
        error_px = 6.5
        failing = factory.Trait(betas=[0.0, 0.0, 0.0, -5.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])

    job = factory.SubFactory(FitJobFactory)
    person = factory.SubFactory(PersonFactory, dataset=factory.SelfAttribute("..job.dataset"))
    pose_rotmat = factory.LazyFunction(lambda: [np.eye(3).tolist() for _ in range(24)])
    betas = factory.LazyFunction(lambda: [0.0] * 10)
    cam_weak = factory.LazyFunction(lambda: [0.9, 0.0, 0.0])
    joint_error_px = factory.LazyAttribute(
        lambda o: [o.error_px if v > 0 else None for _x, _y, v in o.person.keypoints_gt24]
    )
    mean_error_px = factory.SelfAttribute("error_px")
    iterations = 20
    keypoint_loss = 0.002
    loss_before = 0.05
    loss_after = factory.SelfAttribute("keypoint_loss")
    max_abs_beta = factory.LazyAttribute(lambda o: max(abs(b) for b in o.betas))
    sanity_ok = factory.LazyAttribute(lambda o: _paper_sanity(o.betas, o.keypoint_loss)[0])
    sanity_reason = factory.LazyAttribute(lambda o: _paper_sanity(o.betas, o.keypoint_loss)[1])
    sanity_rule = "paper"
    sanity_code = factory.LazyAttribute(lambda o: _paper_sanity(o.betas, o.keypoint_loss)[2])
    seconds = 1.5
    checkpoint_sha256 = FACTORY_CHECKPOINT_SHA256
    body_model = "open_body.npz"
    prior = ""


class RenderFactory(DjangoModelFactory):
    """A done render whose file is a real JPEG of ``size`` pixels, where the render worker puts it
    (``datasets/<dataset pk>/renders/job-<job pk>/<fit pk>-<kind>.jpg``)."""

    class Meta:
        model = Render

    fit = factory.SubFactory(FitFactory)
    kind = Render.Kind.CAMERA
    size = factory.SelfAttribute("fit.job.render_size")
    status = TaskStatus.DONE
    attempts = 1
    worker = "factory@localhost"
    claimed_at = factory.LazyFunction(timezone.now)
    heartbeat_at = factory.SelfAttribute("claimed_at")
    finished_at = factory.SelfAttribute("claimed_at")
    file = factory.LazyAttribute(
        lambda o: (
            default_storage.save(
                f"{job_render_folder(o.fit.job.dataset_id, o.fit.job_id)}/{o.fit.pk}-{o.kind}.jpg",
                ContentFile(jpeg_bytes(o.size, o.size)),
            )
            if o.status == TaskStatus.DONE
            else ""
        )
    )


def done_fit_job(
    fits: int = 3, *, failing: int = 0, renders: bool = True, dataset: Dataset | None = None, **job: Any
) -> FitJob:
    """A done job over a dataset of ``fits`` new people, one fit each, as a finished job leaves
    it: one done chunk on the CPU, people_total = people_done = ``fits``, and (``renders``) the
    crop, camera and side views of every fit. Fit i has ``4.0 + i`` px of error; the first ``failing``
    fail the sanity rule (max |beta| 5.50 > 5.0)."""
    dataset = dataset or DatasetFactory()
    made = FitJobFactory(
        dataset=dataset, people_total=fits, people_done=fits, render=renders,
        renders_done=3 * fits if renders else 0, **job,
    )  # fmt: skip
    people = PersonFactory.create_batch(fits, dataset=dataset)
    FitChunkFactory(job=made, index=0, person_ids=[p.pk for p in people])
    for i, person in enumerate(people):
        fit = FitFactory(job=made, person=person, error_px=4.0 + i, failing=i < failing)
        if renders:
            for kind in (Render.Kind.CROP, Render.Kind.CAMERA, Render.Kind.SIDE):
                RenderFactory(fit=fit, kind=kind)
    made.refresh_from_db()
    return made
