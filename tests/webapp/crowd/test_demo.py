"""The demo make run leaves: a worker account (credentials once) and an open in-house campaign
over fitted synthetic people with gold items mixed in; running it again changes nothing."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from webapp.crowd.assignments import assignment_next_inhouse
from webapp.crowd.demo import DEMO_CAMPAIGN, demo_campaign_prepare
from webapp.crowd.models import Campaign, GoldItem, Worker
from webapp.fits.models import FitJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_worker_account(db: None) -> None:
    out = StringIO()
    call_command("crowd_demo", "worker", stdout=out)
    line = out.getvalue().strip()
    assert line.startswith("Worker user created: username worker  password ")
    password = line.rsplit(" ", 1)[1]
    user = get_user_model().objects.get(username="worker")
    assert not user.is_staff
    assert Worker.objects.get(user=user).provider == "inhouse"
    assert Client().login(username="worker", password=password)
    again = StringIO()
    call_command("crowd_demo", "worker", stdout=again)
    assert "exists; its password is unchanged" in again.getvalue()
    assert Client().login(username="worker", password=password)


def test_the_demo_campaign_is_open_with_fits_and_gold(media: Path, settings: Any) -> None:
    settings.DATASET_WORK_DIR = media.parent / "work"
    said: list[str] = []
    # Eager Celery: the fit job and the renders run as they are sent.
    campaign = demo_campaign_prepare(people=3, gold_people=14, max_iterations=2, say=said.append, timeout=120)
    assert campaign.name == DEMO_CAMPAIGN
    assert campaign.state == "open"
    assert campaign.provider == "inhouse"
    job = campaign.job
    assert (job.method, job.status, job.dataset.name) == ("eft", "done", "demo: synthetic people")
    assert campaign.items.filter(gold=None).count() == job.fits.count() >= 2
    assert campaign.items.exclude(gold=None).count() == GoldItem.objects.filter(example=False).count() > 0
    assert said[-1].startswith("the demo campaign is open:")
    # A worker gets a HIT at once.
    user = get_user_model().objects.create_user(username="w", password="a-long-passphrase-1")
    from webapp.crowd.services import worker_for_user

    assert assignment_next_inhouse(worker_for_user(user)) is not None
    # Again: nothing new.
    jobs = FitJob.objects.count()
    assert demo_campaign_prepare(people=3, gold_people=14, max_iterations=2, timeout=5) == campaign
    assert FitJob.objects.count() == jobs
    assert Campaign.objects.count() == 1
