"""The datasets API and staff pages (Django test client; the browser test drives the form)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from PIL import Image as PILImage

from tests.support.coco import coco_zip, make_coco
from tests.support.users import STAFF_PASSWORD
from webapp.datasets.models import Dataset, Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def roots(tmp_path: Path, settings: Any) -> Path:
    settings.DATASET_IMPORT_ROOTS = [tmp_path / "imports"]
    settings.DATASET_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "imports").mkdir()
    return tmp_path / "imports"


@pytest.fixture
def staff(client: Client, staff_user: AbstractBaseUser) -> Client:
    assert client.login(username="staff", password=STAFF_PASSWORD)
    return client


def test_api_needs_staff(client: Client, roots: Path) -> None:
    assert client.get("/api/datasets/").status_code == 403
    get_user_model().objects.create_user(username="worker", password="pw-123456789012")
    client.login(username="worker", password="pw-123456789012")
    assert client.post("/api/datasets/", {"name": "x"}).status_code == 403


def test_api_zip_upload_runs_the_import(
    staff: Client, roots: Path, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    archive = io.BytesIO(coco_zip(make_coco(tmp_path / "src")))
    archive.name = "coco-mini.zip"
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/api/datasets/",
            {"name": "coco-mini", "source_format": "coco", "annotation_path": "annotations.json",
             "images_path": "images", "archive": archive},
        )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"  # its task is sent once the request commits
    detail = staff.get(f"/api/datasets/{response.json()['id']}/").json()
    assert (detail["status"], detail["state"]) == ("done", "ready"), detail["error"]
    assert (detail["people_count"], detail["images_count"], detail["progress_percent"]) == (4, 3, 100.0)
    assert detail["filter_counts"]["coco-all"] == 3
    assert [d["name"] for d in staff.get("/api/datasets/").json()] == ["coco-mini"]


def test_api_refuses_bad_requests(staff: Client, roots: Path, tmp_path: Path) -> None:
    base = {"name": "x", "source_format": "coco", "annotation_path": "annotations.json"}
    neither = staff.post("/api/datasets/", base, content_type="application/json")
    assert neither.status_code == 400
    assert "exactly one of archive (zip), server_folder, s3_prefix" in str(neither.json())
    outside = staff.post(
        "/api/datasets/", {**base, "server_folder": str(tmp_path)}, content_type="application/json"
    )
    assert outside.status_code == 400
    assert "outside the import roots" in str(outside.json()["server_folder"])  # the field sent
    assert Dataset.objects.count() == 0


def test_pages_show_datasets_filters_and_samples(staff: Client, roots: Path) -> None:
    folder = make_coco(roots / "coco")
    response = staff.post(
        "/staff/datasets/",
        {"name": "page-import", "source_format": "coco", "server_folder": str(folder),
         "annotation_path": "annotations.json", "images_path": "images", "outside_policy": "keep"},
    )  # fmt: skip
    dataset = Dataset.objects.get(name="page-import")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/datasets/{dataset.pk}/"
    listing = staff.get("/staff/datasets/").content.decode()
    assert "page-import" in listing
    assert 'name="archive"' in listing


def test_detail_page_and_person_picture(
    staff: Client, roots: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from webapp.datasets.services import dataset_create

    folder = make_coco(roots / "coco")
    with django_capture_on_commit_callbacks(execute=True):
        dataset = dataset_create(name="shown", source_format="coco", source_kind="server",
                                 source_location=str(folder), annotation_path="annotations.json",
                                 images_path="images")  # fmt: skip
    page = staff.get(f"/staff/datasets/{dataset.pk}/").content.decode()
    assert "COCO-Part (12 limbs): all 12 limb keypoints labelled" in page
    assert page.count("/staff/people/") == 4
    person = Person.objects.filter(dataset=dataset).first()
    assert person is not None
    picture = staff.get(f"/staff/people/{person.pk}.png")
    assert picture["Content-Type"] == "image/png"
    image = PILImage.open(io.BytesIO(picture.content))
    assert image.size == (320, 320)
    # the skeleton is drawn: some pixels carry the left-side blue
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert int((pixels == (40, 120, 255)).all(axis=1).sum()) > 20


def test_admin_add_goes_to_the_import_form_and_delete_removes_files(
    staff: Client, roots: Path, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from webapp.datasets.services import dataset_create

    response = staff.get("/admin/datasets/dataset/add/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/datasets/#import"
    with django_capture_on_commit_callbacks(execute=True):
        dataset = dataset_create(name="gone", source_format="coco", source_kind="server",
                                 source_location=str(make_coco(roots / "coco")),
                                 annotation_path="annotations.json", images_path="images")  # fmt: skip
    stored = list((tmp_path / "media" / "datasets" / str(dataset.pk)).rglob("*.jpg"))
    assert len(stored) == 3
    staff.post(f"/admin/datasets/dataset/{dataset.pk}/delete/", {"post": "yes"})
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not any(path.exists() for path in stored)
