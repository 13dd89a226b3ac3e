"""The regressor and training pages in a browser: a bad upload is refused with its reason, a
training job queued from the form ends in a new regressor with its curves drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from playwright.sync_api import Page, expect

from fitting.config import EftConfig
from fitting.synth.generate import SynthConfig, generate
from tests.support.users import STAFF_PASSWORD, STAFF_USERNAME
from webapp.datasets.services import dataset_create, dataset_import
from webapp.fits.models import Fit, FitChunk
from webapp.fits.services import fit_chunk_run, fit_job_start
from webapp.regressors.models import Regressor, TrainingJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_then_train_a_regressor(
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
    settings.DATA_DIR = tmp_path / "data"
    folder = tmp_path / "imports" / "synth"
    generate(
        SynthConfig(people=6, seed=47, width=160, height=160, max_people_per_image=2), folder, progress=False
    )
    dataset = dataset_import(dataset_id=dataset_create(
        name="synth people", source_format="coco", source_kind="server", source_location=str(folder),
        annotation_path="annotations.json", images_path="images", enqueue=False).pk)  # fmt: skip
    job = fit_job_start(dataset=dataset, filter_name="all", config=EftConfig(max_iterations=1), render=False,
                        enqueue=False)  # fmt: skip
    for chunk in FitChunk.objects.filter(job=job):
        fit_chunk_run(chunk_id=chunk.pk)
    Fit.objects.filter(job=job).update(sanity_ok=True)

    page.goto(f"{live_server}/staff/regressors/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    table = page.locator("#regressors")
    expect(table).to_contain_text("bootstrap (shipped)")
    expect(table).to_contain_text("ready")

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    page.get_by_label("Name").fill("broken upload")
    page.get_by_label("File").set_input_files(str(broken))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#refused")).to_contain_text("regressor checkpoint broken.pt cannot be read")
    expect(page.locator("#network")).to_have_text("not known: the file did not load")
    page.screenshot(path=str(screenshots / "regressor_refused.png"), full_page=True)

    page.goto(f"{live_server}/staff/training/")
    page.get_by_label("Name").fill("tuned on synth people")
    page.get_by_label("Fit jobs").select_option(str(job.pk))
    page.get_by_label("Max steps").fill("6")
    page.get_by_label("Batch size").fill("2")
    page.get_by_role("button", name="Queue the training job").click()
    expect(page.locator("#state")).to_have_text("done", timeout=120_000)
    expect(page.locator("#result")).to_have_text("tuned on synth people")
    curves = page.locator("img.plots")
    expect(curves).to_be_visible()
    page.wait_for_function("document.querySelector('img.plots').naturalWidth > 100")  # the picture loads
    page.screenshot(path=str(screenshots / "training.png"), full_page=True)
    trained = TrainingJob.objects.get(name="tuned on synth people")
    assert trained.result is not None
    assert trained.result.parent == Regressor.objects.get(name="bootstrap (shipped)")

    page.locator("#result").click()
    expect(page.locator("#facts")).to_contain_text("made by a training job")
    expect(page.locator("#facts")).not_to_contain_text("Uploaded as")  # its file is the job's best step
    page.goto(f"{live_server}/staff/regressors/")
    expect(page.locator("#regressors")).to_contain_text("tuned on synth people")
    expect(page.locator("#regressors")).to_contain_text("refused")
    page.screenshot(path=str(screenshots / "regressors.png"), full_page=True)
