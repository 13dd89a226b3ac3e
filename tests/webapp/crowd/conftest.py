"""Campaigns ready to be worked, and in-house workers with their signed-in clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from tests.factories import done_fit_job
from webapp.crowd.models import Campaign, GoldItem, Worker
from webapp.crowd.services import campaign_create_validation, campaign_open, worker_for_user
from webapp.fits.models import Fit

WORKER_PASSWORD = "a-long-worker-passphrase"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()  # vote throttle counts and sign-in failures


@pytest.fixture
def open_campaign(fit_job_with_fits: Callable[..., Any]) -> Callable[..., Campaign]:
    """``open_campaign(fits=5, items_per_hit=2, gold=0, **options)``: an open in-house validation
    campaign over a done job; ``gold=n`` first makes n gold items (every other one right) from a
    job of their own, mixed in at the campaign's gold_rate."""

    def make(fits: int = 5, gold: int = 0, **options: Any) -> Campaign:
        if gold:
            gold_job = done_fit_job(gold)
            for n, fit in enumerate(Fit.objects.filter(job=gold_job).order_by("id")):
                right = n % 2 == 0
                GoldItem.objects.create(
                    fit=fit, source=GoldItem.Source.SYNTHETIC,
                    answer=GoldItem.Answer.ACCEPT if right else GoldItem.Answer.REJECT,
                    reason="the truth" if right else "left and right legs swapped",
                )  # fmt: skip
        options.setdefault("gold_rate", 0.0 if not gold else 0.25)
        options.setdefault("items_per_hit", 2)
        job = fit_job_with_fits(fits)
        name = options.pop("name", f"campaign {Campaign.objects.count() + 1}")
        return campaign_open(campaign_create_validation(name=name, job=job, **options))

    return make


@pytest.fixture
def mturk_campaign_live(open_campaign: Callable[..., Campaign]) -> Callable[..., Campaign]:
    """``mturk_campaign_live(fits=3, **options)``: an MTurk campaign as a launch leaves it (open,
    every HIT with its MTurk HITId "HIT" + index), without talking to MTurk."""
    from django.utils import timezone

    from webapp.crowd.models import Hit

    def make(fits: int = 3, **options: Any) -> Campaign:
        options.setdefault("items_per_hit", 2)
        job = done_fit_job(fits)
        campaign = campaign_create_validation(
            name=f"mturk {Campaign.objects.count() + 1}", job=job, provider="mturk", budget_cents=10_000,
            gold_rate=options.pop("gold_rate", 0.0), **options,
        )  # fmt: skip
        for hit in Hit.objects.filter(campaign=campaign):
            hit.provider_hit_id = f"HIT{hit.index:05d}C{campaign.pk:05d}"
            hit.save(update_fields=["provider_hit_id"])
        Campaign.objects.filter(pk=campaign.pk).update(state="open", launched_at=timezone.now())
        campaign.refresh_from_db()
        return campaign

    return make


@pytest.fixture
def make_worker(db: None) -> Callable[[str], tuple[Worker, Client]]:
    """``make_worker("ann")``: an in-house worker (an account without staff rights) and a client
    signed in as it."""

    def make(name: str) -> tuple[Worker, Client]:
        user = get_user_model().objects.create_user(username=name, password=WORKER_PASSWORD)
        client = Client()
        assert client.login(username=name, password=WORKER_PASSWORD)
        return worker_for_user(user), client

    return make
