"""The fit-job pages and API (Django test client)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from PIL import Image

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
    page = staff.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert page.count("/staff/fits/") == job.people_total
    assert f"/media/renders/job-{job.pk}/" in page
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
