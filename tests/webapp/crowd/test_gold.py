"""Gold items made by the product: a synthetic set imported like any dataset, a gold job of right
fits and fits wrong on purpose, drawn like real fits, mixed into campaigns; the instructions
page shows examples made the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from fitting.synth.gold import TRUTH_REASON, WRONG_KINDS
from webapp.crowd.gold import gold_set_make
from webapp.crowd.models import GoldItem, Item
from webapp.crowd.services import campaign_create_validation
from webapp.fits.engine import OPEN_BODY
from webapp.fits.models import Fit, FitJob, Render

pytestmark = pytest.mark.django_db


def test_a_gold_set_is_made_imported_fitted_and_drawn(
    media: Path,
    settings: Any,
    fit_job_with_fits: Callable[..., FitJob],
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.DATASET_WORK_DIR = media.parent / "work"
    said: list[str] = []
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: the renders are drawn
        job = gold_set_make(people=10, seed=5, say=said.append)
    assert job.method == "gold"
    assert job.status == "done"
    assert job.body_model == OPEN_BODY
    assert job.dataset.status == "done"
    assert job.dataset.licence.startswith("CC0-1.0")
    fits = list(Fit.objects.filter(job=job))
    gold = list(GoldItem.objects.filter(fit__job=job))
    assert len(gold) == len(fits) == job.people_total
    assert 6 <= len(fits) <= 10  # people the weak camera cannot lay the truth on are left out
    answers = {g.answer for g in gold}
    assert answers == {"accept", "reject"}
    assert {g.source for g in gold} == {"synthetic"}
    assert {g.reason for g in gold if g.answer == "accept"} == {TRUTH_REASON}
    assert {g.reason for g in gold if g.answer == "reject"} <= set(WRONG_KINDS.values())
    assert len({g.reason for g in gold if g.answer == "reject"}) >= 2
    assert said[-1].startswith(f"gold job {job.pk}:")
    # Drawn like any fit: crop, camera view and side view, the body over the person.
    assert Render.objects.filter(fit__job=job, status="done").count() == 3 * len(fits)
    right = next(g for g in gold if g.answer == "accept")
    pictures = {
        r.kind: np.asarray(Image.open(r.file.path).convert("RGB"), dtype=np.float64)
        for r in right.fit.renders.all()
    }
    drawn = np.abs(pictures["camera"] - pictures["crop"]).max(axis=2) > 40
    assert 0.03 < drawn.mean() < 0.8
    # One gold item of each kind is an example for the public instructions page, never a check.
    examples = [g for g in gold if g.example]
    kinds = {g.fit.sanity_reason for g in gold}
    assert len(examples) == len(kinds)
    # A campaign over a real job takes the other gold items in, outside its HITs.
    real = fit_job_with_fits(4)
    campaign = campaign_create_validation(name="with gold", job=real, items_per_hit=2, gold_rate=0.2)
    in_campaign = Item.objects.filter(campaign=campaign, gold__isnull=False)
    assert in_campaign.count() == len(gold) - len(examples)
    assert not in_campaign.filter(gold__example=True).exists()
    assert not in_campaign.filter(hits__isnull=False).exists()
    assert (
        campaign_create_validation(name="no gold", job=real, gold_rate=0.0)
        .items.filter(gold__isnull=False)
        .count()
        == 0
    )
    # The instructions page shows right and wrong examples with signed picture addresses.
    page = Client().get("/work/instructions/").content.decode()
    assert page.count('class="example example-accept"') == sum(1 for g in examples if g.answer == "accept")
    assert (
        page.count('class="example example-reject"') == sum(1 for g in examples if g.answer == "reject") >= 2
    )
    assert "token=" in page


def test_gold_renders_use_the_open_body_whatever_is_configured(settings: Any) -> None:
    from webapp.fits.engine import body_for

    settings.EFT_BODY_MODEL_PATH = "/nowhere/SMPL_NEUTRAL.pkl"
    body, _ = body_for(OPEN_BODY)
    assert body.faces.shape[1] == 3
    with pytest.raises(ValueError, match=r"SMPL_NEUTRAL\.pkl needs J_regressor_extra"):
        body_for("")


def test_a_gold_job_cannot_be_started_as_a_fit_job(
    staff_client: Client, fit_job_with_fits: Callable[..., FitJob]
) -> None:
    job = fit_job_with_fits(1)
    response = staff_client.post(
        "/api/fits/jobs/", {"dataset": job.dataset_id, "method": "gold"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "method" in response.json()
    assert FitJob.objects.count() == 1
