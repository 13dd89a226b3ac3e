"""The factories make objects the app itself would accept: real files that match their rows,
people whose labels and flags agree, fits that go through the app's export path."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.factories import (
    FACTORY_CHECKPOINT_SHA256,
    DatasetFactory,
    FitFactory,
    ImageFactory,
    PersonFactory,
    RenderFactory,
)
from webapp.datasets.models import Dataset, Person
from webapp.fits.models import Fit, FitJob, Render

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]


def test_an_image_file_is_the_jpeg_its_row_describes(media: Path) -> None:
    from webapp.datasets.selectors import image_pixels

    image = ImageFactory(width=150, height=100, name="street.jpg")
    assert image.file.name == f"datasets/{image.dataset_id}/images/street.jpg"  # where an import puts it
    data = (media / image.file.name).read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (image.bytes, image.sha256)
    decoded = PILImage.open(io.BytesIO(data))
    assert (decoded.format, decoded.size) == ("JPEG", (150, 100))
    assert image_pixels(image).shape == (100, 150, 3)  # the app's own decoder reads it too


def test_people_lie_inside_their_image_and_their_flags_follow_the_labels(media: Path) -> None:
    from fitting.datasets.filters import FILTERS
    from webapp.datasets.selectors import source_person

    dataset = DatasetFactory()
    full = PersonFactory(dataset=dataset, image__width=200, image__height=300)
    face = PersonFactory(dataset=dataset, labelled_keypoints=5)  # nose, eyes, ears
    upper = PersonFactory(dataset=dataset, labelled_keypoints=8)  # ... shoulders, left elbow
    for person in (full, face, upper):
        assert person.image.dataset_id == dataset.pk
        labels = np.asarray(person.keypoints_gt24)
        assert labels.shape == (24, 3)
        shown = labels[labels[:, 2] > 0]
        assert ((shown[:, 0] >= 0) & (shown[:, 0] < person.image.width)).all()
        assert ((shown[:, 1] >= 0) & (shown[:, 1] < person.image.height)).all()
        # The flags agree with the app's own filter rules on the person as fitting sees it.
        seen = source_person(person)
        assert (person.coco_all, person.coco_part) == (
            FILTERS["coco-all"].keep(seen),
            FILTERS["coco-part"].keep(seen),
        )
    # COCO's 17 keypoints are 17 distinct GT-24 joints; 6 or more make COCO-All, and COCO-Part
    # needs the 12 limb joints, which only the fully labelled person has.
    assert [(p.labelled, p.coco_all, p.coco_part) for p in (full, face, upper)] == [
        (17, True, True),
        (5, False, False),
        (8, True, False),
    ]
    assert len({p.source_annotation_id for p in (full, face, upper)}) == 3
    dataset.refresh_from_db()
    assert (dataset.status, dataset.people_count, dataset.images_count) == ("done", 3, 3)
    assert dataset.filter_counts == {"all": 3, "coco-all": 2, "coco-part": 1}
    assert dataset.split_counts == {"train": 3}
    assert Person.objects.filter(dataset=dataset).count() == 3


def test_a_fit_round_trips_through_the_apps_export(media: Path) -> None:
    from fitting.config import EftConfig
    from fitting.export import eft_entry
    from webapp.datasets.selectors import source_person
    from webapp.fits.selectors import person_fit

    fit = FitFactory(person__source_annotation_id="4207")
    result = person_fit(fit)  # PersonFit checks the shapes: (24, 3, 3), (10,), (3,), 24 errors
    assert result.key == fit.person_id
    np.testing.assert_array_equal(result.pose_rotmat, np.broadcast_to(np.eye(3), (24, 3, 3)))
    assert result.config == EftConfig()
    assert (result.verdict.ok, result.verdict.reason, result.max_abs_beta) == (True, "ok", 0.0)
    entry = eft_entry(result, source_person(fit.person))
    assert entry["annotId"] == 4207  # the dataset's own id, a number where it is one
    assert entry["imageName"] == fit.person.image.name
    assert entry["parm_shape"] == [0.0] * 10
    assert entry["parm_cam"] == [0.9, 0.0, 0.0]
    assert entry["fit"]["mean_error_px"] == 6.5
    assert entry["fit"]["joint_error_px_gt24"].count(6.5) == 17  # one per labelled joint
    assert entry["fit"]["checkpoint_sha256"] == FACTORY_CHECKPOINT_SHA256
    assert len(FACTORY_CHECKPOINT_SHA256) == 64


def test_the_sanity_fields_are_the_verdict_of_the_betas(media: Path) -> None:
    import torch

    from fitting.eft.core import sanity_verdict
    from fitting.results import SanityVerdict

    good, bad = FitFactory(), FitFactory(failing=True)
    assert (bad.max_abs_beta, bad.sanity_ok, bad.sanity_reason) == (5.5, False, "max |beta| 5.50 > 5.0")
    for fit in (good, bad):
        verdict = sanity_verdict(torch.tensor(fit.betas), fit.keypoint_loss, "paper")
        assert verdict == SanityVerdict(fit.sanity_ok, fit.sanity_reason, fit.sanity_rule, fit.sanity_code)


def test_a_done_render_has_its_picture(media: Path) -> None:
    render = RenderFactory(kind=Render.Kind.SIDE)
    assert render.status == "done"
    job = render.fit.job
    assert render.file.name == f"datasets/{job.dataset_id}/renders/job-{job.pk}/{render.fit_id}-side.jpg"
    with render.file.open("rb") as handle:
        assert PILImage.open(handle).size == (512, 512)  # the job's render_size


def test_a_done_job_of_fits(fit_job_with_fits: Callable[..., FitJob]) -> None:
    from webapp.fits.selectors import job_progress

    job = fit_job_with_fits(3, failing=1)
    assert (job.status, job.people_total, job.people_done, job.renders_done) == ("done", 3, 3, 9)
    fits = list(Fit.objects.filter(job=job).order_by("mean_error_px"))
    assert [(f.mean_error_px, f.sanity_ok) for f in fits] == [(4.0, False), (5.0, True), (6.0, True)]
    assert Render.objects.filter(fit__job=job, status="done").exclude(file="").count() == 9
    progress = job_progress(job)
    assert (progress["percent"], progress["devices"]) == (100.0, ["cpu"])
    assert Dataset.objects.get(pk=job.dataset_id).people_count == 3


def test_building_objects_imports_no_torch() -> None:
    env: dict[str, Any] = dict(os.environ, DJANGO_SETTINGS_MODULE="webapp.settings")
    code = (
        "import sys, django; django.setup(); import tests.factories; "
        "sys.exit('torch' in sys.modules and 'factories import torch')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
