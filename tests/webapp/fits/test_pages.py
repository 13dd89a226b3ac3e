"""The fit-job pages and API (Django test client).

Starting a job from the page runs EFT for real (eager Celery); the pages that only show stored
fits are tested on factory-made fits (tests/factories.py), which need no EFT."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from tests.factories import DatasetFactory, FitFactory, FitJobFactory, PersonFactory
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitJob, Render

pytestmark = pytest.mark.django_db

#: The `dataset` fixture (conftest.py) is 5 synthetic people, each with labelled keypoints, so
#: the filter "all" keeps the 5 of them.
FIXTURE_PEOPLE = 5


def test_start_a_job_from_the_page_fits_and_renders_everyone(
    staff_client: Client,
    dataset: Dataset,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        form = {"dataset": dataset.pk, "method": "eft", "filter_name": "all", "split": "",
                "max_iterations": 1, "chunk_size": 2}  # fmt: skip
        response = staff_client.post("/staff/jobs/", form)
    job = FitJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/jobs/{job.pk}/"
    progress = staff_client.get(f"/api/fits/jobs/{job.pk}/").json()
    assert (progress["percent"], progress["people_done"], progress["status"]) == (
        100.0,
        FIXTURE_PEOPLE,
        "done",
    )
    assert progress["rate_per_s"] > 0
    assert progress["devices"] == ["cpu"]
    # Eager Celery: every fit's crop, camera and side views were drawn before the request returned.
    assert Render.objects.filter(fit__job=job, status="done").count() == 3 * FIXTURE_PEOPLE
    page = staff_client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert page.count("/staff/fits/") == FIXTURE_PEOPLE
    assert f"/media/datasets/{job.dataset_id}/renders/job-{job.pk}/" in page


def test_job_and_fit_pages_show_the_stored_fits(
    staff_client: Client, fit_job_with_fits: Callable[..., FitJob]
) -> None:
    # Three fits with 4.0, 5.0 and 6.0 px of error; the first (4.0 px) fails the sanity rule.
    job = fit_job_with_fits(3, failing=1)
    progress = staff_client.get(f"/api/fits/jobs/{job.pk}/").json()
    assert (progress["percent"], progress["people_done"], progress["status"]) == (100.0, 3, "done")
    page = staff_client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert page.count("/staff/fits/") == 3
    assert f"/media/datasets/{job.dataset_id}/renders/job-{job.pk}/" in page
    by_error = staff_client.get(f"/staff/jobs/{job.pk}/?order=error").content.decode()
    assert by_error.index("6.0 px") < by_error.index("5.0 px") < by_error.index("4.0 px")
    plots = staff_client.get(f"/staff/jobs/{job.pk}/plots.png")
    assert Image.open(io.BytesIO(plots.content)).size[0] > 1000
    fit = Fit.objects.get(job=job, mean_error_px=5.0)
    fit_page = staff_client.get(f"/staff/fits/{fit.pk}/").content.decode()
    assert "5.00 px" in fit_page
    assert "side view" in fit_page
    failing = staff_client.get(f"/staff/jobs/{job.pk}/?sanity=failed").content.decode()
    assert failing.count("/staff/fits/") == 1
    assert "max |beta| 5.50 &gt; 5.0" in failing
    assert [j["id"] for j in staff_client.get("/api/fits/jobs/").json()] == [job.pk]


def test_the_job_page_filters_fits_by_the_check_that_rejected_them(
    staff_client: Client, fit_job_with_fits: Callable[..., FitJob]
) -> None:
    job = fit_job_with_fits(4, failing=1)  # one fails on its betas
    limbs, small = Fit.objects.filter(job=job, sanity_ok=True)[:2]
    Fit.objects.filter(pk=limbs.pk).update(
        sanity_ok=False, sanity_rule="plausible", sanity_code="joint_limits",
        sanity_reason="left knee bent backwards by 40 degrees", turn_deg=180,
    )  # fmt: skip
    Fit.objects.filter(pk=small.pk).update(
        sanity_ok=False, sanity_code="relative_error", sanity_reason="2D error 9.0% of the person's size > 5%"
    )
    page = staff_client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert 'id="rejection-reasons"' in page
    for words in (
        "max |beta| too large (1)",
        "a joint beyond its limits (1)",
        "for the person&#x27;s size (1)",
    ):
        assert words in page
    only = staff_client.get(f"/staff/jobs/{job.pk}/?sanity=joint_limits").content.decode()
    assert only.count("/staff/fits/") == 1
    assert "left knee bent backwards by 40 degrees" in only
    assert f'href="/staff/fits/{limbs.pk}/"' in only
    assert "?sanity=joint_limits&order=error" in only  # sorting keeps the filter
    assert staff_client.get(f"/staff/jobs/{job.pk}/?sanity=betas").content.decode().count("/staff/fits/") == 1
    assert staff_client.get(f"/staff/jobs/{job.pk}/?sanity=bogus").content.decode().count("/staff/fits/") == 4
    fit_page = staff_client.get(f"/staff/fits/{limbs.pk}/").content.decode()
    assert "(a joint beyond its limits)" in fit_page
    assert "started from the crop turned 180 degrees" in fit_page


def test_fits_made_before_the_codes_get_theirs_from_their_reasons() -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("webapp.fits.migrations.0008_fit_sanity_code_turn")
    job = FitJobFactory()
    betas = FitFactory(job=job, failing=True)
    loss = FitFactory(job=job, keypoint_loss=0.05)
    good = FitFactory(job=job)
    Fit.objects.update(sanity_code="ok")  # as the migration finds them
    migration.codes_from_reasons(apps, None)
    codes = dict(Fit.objects.values_list("pk", "sanity_code"))
    assert (codes[betas.pk], codes[loss.pk], codes[good.pk]) == ("betas", "keypoint_loss", "ok")
    # A job started before the threshold had units keeps stopping in image pixels.
    old = {k: v for k, v in job.config.items() if k not in ("threshold_units", "upright_search")}
    FitJob.objects.filter(pk=job.pk).update(config=old)
    smplify = FitJobFactory(method="smplify", config={"lr": 0.01})
    migration.threshold_units_of_old_jobs(apps, None)
    job.refresh_from_db()
    assert (job.config["threshold_units"], job.config["upright_search"]) == ("image", False)
    assert job.method_config().threshold_units == "image"  # type: ignore[union-attr]
    smplify.refresh_from_db()
    assert smplify.config == {"lr": 0.01}


def test_pages_need_staff(client: Client) -> None:
    assert client.get("/staff/jobs/").status_code == 302
    assert client.get("/api/fits/jobs/").status_code == 403


def test_cancel_and_retry_from_the_job_page(staff_client: Client, media: Path) -> None:
    from webapp.fits.models import FitChunk
    from webapp.fits.services import fit_job_start

    dataset = DatasetFactory()
    PersonFactory.create_batch(4, dataset=dataset)
    job = fit_job_start(dataset=dataset, filter_name="all", chunk_size=2, render=False, enqueue=False)
    response = staff_client.post(f"/staff/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == FitJob.Status.CANCELLED
    assert set(FitChunk.objects.filter(job=job).values_list("status", "error")) == {
        ("cancelled", "job cancelled")
    }
    staff_client.post(f"/staff/jobs/{job.pk}/retry/")  # cancelled chunks are not retried
    assert set(FitChunk.objects.filter(job=job).values_list("status", flat=True)) == {"cancelled"}


def test_pair_render_shows_two_fits(media: Path) -> None:
    import numpy as np

    from webapp.fits.renders import fit_pair_render

    dataset = DatasetFactory()
    person, someone_else = PersonFactory.create_batch(2, dataset=dataset)
    regressor = FitJobFactory(dataset=dataset, method=FitJob.Method.REGRESSOR)
    tuned = FitJobFactory(dataset=dataset)
    a = FitFactory(job=regressor, person=person)
    b = FitFactory(job=tuned, person=person, betas=[1.5] + [0.0] * 9)
    pair = fit_pair_render(fit_a=a, fit_b=b, size=256)
    assert fit_pair_render(fit_a=a, fit_b=b, size=256).pk == pair.pk  # made once
    with pair.file.open("rb") as handle:
        picture = np.asarray(Image.open(handle).convert("RGB")).astype(int)
    assert picture.shape == (512, 2 * 256 + 8, 3)
    left, right = picture[256:, :256], picture[256:, 264:]  # the side views, on white
    blue = ((left[..., 2] - left[..., 0]) > 30).sum()
    orange = ((right[..., 0] - right[..., 2]) > 30).sum()
    assert blue > 500
    assert orange > 500
    other = FitFactory(job=tuned, person=someone_else)
    with pytest.raises(ValueError, match="different people"):
        fit_pair_render(fit_a=a, fit_b=other)
