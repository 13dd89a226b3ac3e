"""The fit-job pages and API (Django test client)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from PIL import Image

from fitting.config import EftConfig
from tests.conftest import STAFF_PASSWORD
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Client, staff_user: AbstractBaseUser) -> Client:
    assert client.login(username="staff", password=STAFF_PASSWORD)
    return client


def test_start_a_job_and_look_at_it(
    staff: Client,
    dataset: Dataset,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        form = {"dataset": dataset.pk, "method": "eft", "filter_name": "all", "split": "",
                "max_iterations": 1, "chunk_size": 2}  # fmt: skip
        response = staff.post("/staff/jobs/", form)
    job = FitJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/jobs/{job.pk}/"
    progress = staff.get(f"/api/fits/jobs/{job.pk}/").json()
    assert (progress["percent"], progress["people_done"], progress["status"]) == (
        100.0,
        job.people_total,
        "done",
    )
    assert progress["rate_per_s"] > 0
    assert progress["devices"] == ["cpu"]
    page = staff.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert page.count("/staff/fits/") == job.people_total
    assert f"/media/datasets/{job.dataset_id}/renders/job-{job.pk}/" in page
    plots = staff.get(f"/staff/jobs/{job.pk}/plots.png")
    assert Image.open(io.BytesIO(plots.content)).size[0] > 1000
    fit = Fit.objects.filter(job=job).first()
    assert fit is not None
    fit_page = staff.get(f"/staff/fits/{fit.pk}/").content.decode()
    assert f"{fit.mean_error_px:.2f} px" in fit_page
    assert "side view" in fit_page
    failing = staff.get(f"/staff/jobs/{job.pk}/?sanity=failed").content.decode()
    assert failing.count("/staff/fits/") == Fit.objects.filter(job=job, sanity_ok=False).count()
    assert [j["id"] for j in staff.get("/api/fits/jobs/").json()] == [job.pk]


def test_pages_need_staff(client: Client) -> None:
    assert client.get("/staff/jobs/").status_code == 302
    assert client.get("/api/fits/jobs/").status_code == 403


def test_cancel_and_retry_from_the_job_page(staff: Client, dataset: Dataset) -> None:
    from webapp.fits.models import FitChunk
    from webapp.fits.services import fit_job_start

    job = fit_job_start(dataset=dataset, filter_name="all", chunk_size=2, render=False, enqueue=False)
    response = staff.post(f"/staff/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == FitJob.Status.CANCELLED
    assert set(FitChunk.objects.filter(job=job).values_list("status", "error")) == {
        ("cancelled", "job cancelled")
    }
    staff.post(f"/staff/jobs/{job.pk}/retry/")  # cancelled chunks are not retried
    assert set(FitChunk.objects.filter(job=job).values_list("status", flat=True)) == {"cancelled"}


def test_pair_render_shows_two_fits(dataset: Dataset, django_capture_on_commit_callbacks: Any) -> None:
    import numpy as np

    from webapp.fits.renders import fit_pair_render
    from webapp.fits.services import fit_job_start

    with django_capture_on_commit_callbacks(execute=True):
        regressor = fit_job_start(dataset=dataset, method="regressor", filter_name="all", render=False)
        tuned = fit_job_start(
            dataset=dataset, filter_name="all", config=EftConfig(max_iterations=3), render=False
        )
    a = Fit.objects.filter(job=regressor).order_by("person_id").first()
    b = Fit.objects.filter(job=tuned, person_id=a.person_id).first() if a else None
    assert a is not None
    assert b is not None
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
    other = Fit.objects.filter(job=tuned).exclude(person_id=a.person_id).first()
    assert other is not None
    with pytest.raises(ValueError, match="different people"):
        fit_pair_render(fit_a=a, fit_b=other)
