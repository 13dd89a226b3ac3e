"""Pages opened in headless Chromium, asserting on what a person sees."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from playwright.sync_api import Page, expect

from tests.support.render import first_working_backend
from tests.support.users import STAFF_PASSWORD, STAFF_USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_explains_the_product(page: Page, live_server: object) -> None:
    page.goto(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("3D pseudo-ground truth")
    expect(page.get_by_text("Exemplar Fine-Tuning")).to_be_visible()
    expect(page.get_by_role("link", name="Staff sign-in").first).to_be_visible()


def test_staff_signs_in_and_sees_status(
    page: Page, live_server: object, staff_user: AbstractBaseUser, screenshots: Path
) -> None:
    page.goto(f"{live_server}/staff/status/")
    # Not signed in: the admin's login form, which returns to the status page.
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("System status")
    database = page.locator("#check-database")
    expect(database).to_contain_text("ok")
    expect(database).to_contain_text("sqlite")
    # The renderer the page names is the first configured backend that renders on this host
    # (probed here the same way), or "none".
    renderer = first_working_backend(settings.EFT_RENDER_BACKENDS)
    expect(page.locator("#check-renderer")).to_contain_text(renderer or "none")
    # No worker in this lane: the page says so rather than pretending.
    expect(page.locator("#check-worker")).to_contain_text("no worker answered")
    expect(page.locator("#overall-status")).to_have_text("degraded")
    page.screenshot(path=str(screenshots / "status.png"), full_page=True)
