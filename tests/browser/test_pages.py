"""Pages opened in headless Chromium, asserting on what a person sees."""

from pathlib import Path

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from playwright.sync_api import Page, expect

from tests.conftest import STAFF_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / ".test-data" / "screenshots"


def test_home_page_explains_the_product(page: Page, live_server: object) -> None:
    page.goto(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("3D pseudo-ground truth")
    expect(page.get_by_text("Exemplar Fine-Tuning")).to_be_visible()
    expect(page.get_by_role("link", name="Staff sign-in").first).to_be_visible()


def test_staff_signs_in_and_sees_status(
    page: Page, live_server: object, staff_user: AbstractBaseUser
) -> None:
    page.goto(f"{live_server}/staff/status/")
    # Not signed in: the admin's login form, which returns to the status page.
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("System status")
    database = page.locator("#check-database")
    expect(database).to_contain_text("ok")
    expect(database).to_contain_text("sqlite")
    expect(page.locator("#check-renderer")).to_contain_text("egl")
    # No worker in this lane: the page says so rather than pretending.
    expect(page.locator("#check-worker")).to_contain_text("no worker answered")
    expect(page.locator("#overall-status")).to_have_text("degraded")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "status.png"), full_page=True)
