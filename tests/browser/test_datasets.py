"""A staff member imports a dataset zip through the page and looks at the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from playwright.sync_api import Page, expect

from tests.support.coco import coco_zip, make_coco
from tests.support.users import STAFF_PASSWORD, STAFF_USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_imports_a_zip_and_sees_people(
    page: Page,
    live_server: object,
    staff_user: AbstractBaseUser,
    tmp_path: Path,
    settings: Any,
    screenshots: Path,
) -> None:
    settings.DATASET_IMPORT_ROOTS = [tmp_path / "imports"]
    settings.DATASET_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    archive = tmp_path / "coco-mini.zip"
    archive.write_bytes(coco_zip(make_coco(tmp_path / "src")))

    page.goto(f"{live_server}/staff/datasets/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Datasets")
    page.get_by_label("Name").fill("coco-mini")
    page.get_by_label("Format").select_option("coco")
    page.get_by_label("Archive").set_input_files(str(archive))
    page.get_by_label("Annotation path").fill("annotations.json")
    page.get_by_label("Images path").fill("images")
    page.get_by_role("button", name="Start the import").click()

    # Eager Celery in this lane: the import has run by the time the dataset page opens.
    expect(page.locator("#dataset-status")).to_have_text("ready")
    expect(page.locator("#filter-coco-all")).to_contain_text("3")
    expect(page.locator("#counts")).to_contain_text("1 crowd region")
    pictures = page.locator(".samples img")
    expect(pictures).to_have_count(4)
    for i in range(4):
        expect(pictures.nth(i)).to_have_js_property("complete", True)
        assert pictures.nth(i).evaluate("img => img.naturalWidth") == 320
    page.screenshot(path=str(screenshots / "dataset.png"), full_page=True)

    page.get_by_role("link", name="Datasets").first.click()
    expect(page.locator("#datasets")).to_contain_text("coco-mini")
    expect(page.locator("#datasets")).to_contain_text("ready")
