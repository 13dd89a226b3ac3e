"""The job page follows a job's progress live, without reloading, up to 100%."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count
from playwright.sync_api import Page, expect

from fitting.config import EftConfig
from fitting.synth.generate import SynthConfig, generate
from tests.support.users import STAFF_PASSWORD, STAFF_USERNAME
from webapp.datasets.services import dataset_create, dataset_import
from webapp.fits.models import Fit, FitChunk
from webapp.fits.services import fit_chunk_run, fit_job_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_progress_reaches_100_percent_live(
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
    folder = tmp_path / "imports" / "synth"
    generate(
        SynthConfig(people=4, seed=46, width=160, height=160, max_people_per_image=1), folder, progress=False
    )
    dataset = dataset_import(dataset_id=dataset_create(
        name="synth", source_format="coco", source_kind="server", source_location=str(folder),
        annotation_path="annotations.json", images_path="images", enqueue=False).pk)  # fmt: skip
    job = fit_job_start(dataset=dataset, filter_name="all", config=EftConfig(max_iterations=1), chunk_size=1,
                        render=False, enqueue=False)  # fmt: skip

    page.goto(f"{live_server}/staff/jobs/{job.pk}/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    row = page.locator(f'[data-job="{job.pk}"]')
    # Nothing fitted yet: the server's page and the page's polls write the same "0.0%".
    expect(row.locator(".job-percent")).to_have_text("0.0%")
    loads = page.evaluate("performance.getEntriesByType('navigation').length")
    for chunk in FitChunk.objects.filter(job=job).order_by("index"):
        fit_chunk_run(chunk_id=chunk.pk)  # as a worker would; the page polls the API meanwhile
    expect(row.locator(".job-percent")).to_have_text("100.0%", timeout=30_000)
    expect(row.locator(".job-status")).to_have_text("done")
    # The 4 synthetic people, each with labelled keypoints: the filter "all" keeps the 4 of them.
    expect(row.locator(".job-counts")).to_have_text("4 / 4")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads  # no reload
    page.screenshot(path=str(screenshots / "job.png"), full_page=True)


def test_a_job_page_filters_its_fits_by_the_check_that_rejected_them(
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
    folder = tmp_path / "imports" / "hard"
    hard = SynthConfig(people=6, seed=3, width=192, height=192, max_people_per_image=1, distribution="hard")
    generate(hard, folder, progress=False)
    dataset = dataset_import(dataset_id=dataset_create(
        name="hard poses", source_format="coco", source_kind="server", source_location=str(folder),
        annotation_path="annotations.json", images_path="images", enqueue=False).pk)  # fmt: skip
    config = EftConfig(max_iterations=2, sanity="plausible", upright_search=True)
    job = fit_job_start(dataset=dataset, filter_name="all", config=config, chunk_size=6, render=False,
                        enqueue=False)  # fmt: skip
    for chunk in FitChunk.objects.filter(job=job):
        fit_chunk_run(chunk_id=chunk.pk)
    failed = Fit.objects.filter(job=job, sanity_ok=False)
    rejected = dict(failed.values("sanity_code").annotate(n=Count("id")).values_list("sanity_code", "n"))
    assert rejected, "hard poses after 2 updates: some fit should fail the plausible rule"

    page.goto(f"{live_server}/staff/jobs/{job.pk}/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    reasons = page.locator("#rejection-reasons a")
    expect(reasons).to_have_count(len(rejected))
    code = reasons.first.get_attribute("data-code")
    assert code in rejected
    reasons.first.click()
    expect(page.locator("#fits figure")).to_have_count(rejected[code])
    assert f"sanity={code}" in page.url
    expect(page.locator("#rejection-reasons a.current")).to_have_attribute("data-code", code)
    page.screenshot(path=str(screenshots / "job-rejections.png"), full_page=True)
    page.locator("#fits figure a").first.click()
    expect(page.locator("#fit-numbers")).to_contain_text("plausible rule")
    page.screenshot(path=str(screenshots / "fit-rejected.png"), full_page=True)
