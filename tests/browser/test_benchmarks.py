"""Researcher pages in headless Chromium: staff publish a version from the benchmark's page; a
visitor finds it, reads its card with plots and the smplx code, and downloads the JSON."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from playwright.sync_api import Page, expect

from tests.factories import done_fit_job
from tests.support.users import STAFF_PASSWORD, STAFF_USERNAME
from webapp.benchmarks.models import BenchmarkVersion
from webapp.benchmarks.services import benchmark_create
from webapp.crowd.assignments import assignment_next_inhouse, assignment_token, vote_record
from webapp.crowd.services import campaign_create_validation, campaign_open, worker_for_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_publish_then_read_and_download(
    page: Page,
    live_server: Any,
    staff_user: AbstractBaseUser,
    tmp_path: Path,
    settings: Any,
    screenshots: Path,
) -> None:
    from django.contrib.auth import get_user_model

    settings.MEDIA_ROOT = tmp_path / "media"
    job = done_fit_job(6)
    campaign = campaign_open(
        campaign_create_validation(name="six people", job=job, items_per_hit=6, gold_rate=0)
    )
    for w in range(3):
        user = get_user_model().objects.create_user(username=f"w{w}", password="a-long-passphrase-1")
        assignment = assignment_next_inhouse(worker_for_user(user))
        assert assignment is not None
        for step in range(len(assignment.plan)):
            answer = "reject" if (w == 2 and step < 2) else "accept"
            vote_record(token=assignment_token(assignment), step=step, answer=answer, seconds=1)
    benchmark_create(name="Six synthetic people", description="A small benchmark for the browser test.")

    # Staff publish version 1 from the benchmark's page (eager Celery builds it at once).
    page.goto(f"{live_server}/benchmarks/six-synthetic-people/")
    page.goto(f"{live_server}/admin/login/?next=/benchmarks/six-synthetic-people/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Campaigns").select_option(label=str(campaign))
    page.get_by_role("button", name="Publish").click()
    expect(page.locator('[data-version="1"] .badge')).to_have_text("done")
    page.screenshot(path=str(screenshots / "benchmark.png"), full_page=True)
    version = BenchmarkVersion.objects.get()
    assert version.people == 4  # two items got a reject from the third worker

    # A visitor: the list, the version's card, its plots and code, the download.
    visitor = page.context.browser.new_context(accept_downloads=True)  # type: ignore[union-attr]
    tab = visitor.new_page()
    tab.goto(f"{live_server}/benchmarks/")
    tab.get_by_role("link", name="Six synthetic people").click()
    tab.get_by_role("link", name="v1").click()
    expect(tab.locator("#card")).to_contain_text("4 fits accepted of 6 judged")
    expect(tab.locator("#card")).to_contain_text("33% under unanimity")
    expect(tab.locator("#snippet")).to_contain_text("pose2rot=False")
    expect(tab.locator("#plots")).to_have_js_property("complete", True)
    expect(tab.locator("#plots")).not_to_have_js_property("naturalWidth", 0)
    tab.screenshot(path=str(screenshots / "benchmark-version.png"), full_page=True)
    with tab.expect_download() as download_info:
        tab.locator("#download").click()
    saved = tmp_path / "download.json"
    download_info.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == version.sha256
    assert len(json.loads(saved.read_text())["data"]) == 4
    visitor.close()
