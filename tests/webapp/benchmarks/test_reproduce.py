"""A researcher's view: a published file, loaded with smplx by the dataset card's snippet alone
(no code of this project), reproduces each person's stored 2D keypoint error."""

from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage

from fitting.config import EftConfig
from fitting.synth.generate import SynthConfig, generate
from webapp.benchmarks.services import benchmark_create, version_build, version_publish_request
from webapp.crowd.assignments import assignment_next_inhouse, assignment_token, vote_record
from webapp.crowd.services import campaign_create_validation, campaign_open, worker_for_user
from webapp.datasets.services import dataset_create, dataset_import
from webapp.fits.services import fit_job_start

pytestmark = pytest.mark.django_db


def test_the_card_snippet_reproduces_every_stored_2d_error(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.DATASET_IMPORT_ROOTS = [tmp_path / "imports"]
    settings.DATASET_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = tmp_path / "imports" / "synth"
    generate(
        SynthConfig(people=4, seed=45, width=192, height=192, max_people_per_image=1), folder, progress=False
    )
    dataset = dataset_import(dataset_id=dataset_create(
        name="synth", source_format="coco", source_kind="server", source_location=str(folder),
        annotation_path="annotations.json", images_path="images", enqueue=False).pk)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):  # eager: real EFT fits (2 updates each)
        job = fit_job_start(
            dataset=dataset, filter_name="all", config=EftConfig(max_iterations=2), render=False
        )
    job.refresh_from_db()
    assert job.status == "done"
    with django_capture_on_commit_callbacks(execute=True):  # its pictures, drawn on opening
        campaign = campaign_open(
            campaign_create_validation(name="all", job=job, items_per_hit=10, gold_rate=0.0)
        )
    for w in range(3):
        user = get_user_model().objects.create_user(username=f"w{w}", password="a-long-passphrase-1")
        assignment = assignment_next_inhouse(worker_for_user(user))
        assert assignment is not None
        for step in range(len(assignment.plan)):
            vote_record(token=assignment_token(assignment), step=step, answer="accept", seconds=1)
    version = version_publish_request(
        benchmark=benchmark_create(name="reproduce"), campaigns=[campaign], enqueue=False
    )
    version = version_build(version_id=version.pk)
    assert version.status == "done", version.error
    assert version.people == job.fits.count() >= 3
    # The researcher's side: the version's zip, unpacked, and the code of its CARD.md, run in
    # the unpacked folder (it names the JSON and body/ relative to it).
    researcher = tmp_path / "researcher"
    with default_storage.open(version.archive.name, "rb") as handle, zipfile.ZipFile(handle) as bundle:
        bundle.extractall(researcher)
    card = (researcher / "CARD.md").read_text()
    code = card.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    with contextlib.chdir(researcher):
        exec(code, scope)
    document = json.loads((researcher / "reproduce-v1.json").read_text())
    assert len(scope["errors"]) == len(document["data"])
    compared, worst = 0, 0.0
    for person, error in zip(document["data"], scope["errors"], strict=True):
        stored = np.array(
            [np.nan if e is None else e for e in person["fit"]["joint_error_px_gt24"]], dtype=float
        )
        assert np.array_equal(np.isnan(stored), np.isnan(error)), person["annotId"]
        np.testing.assert_allclose(error[~np.isnan(error)], stored[~np.isnan(stored)], atol=0.05, rtol=1e-4)
        compared += int((~np.isnan(stored)).sum())
        worst = max(worst, float(np.nanmax(np.abs(error - stored))))
    assert compared >= 30
    print(f"{compared} joints of {len(document['data'])} people reproduced, worst difference {worst:.2e} px")
