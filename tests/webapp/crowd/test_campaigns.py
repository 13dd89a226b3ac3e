"""Campaigns made from what exists: a validation campaign from a fit job (all, passing the
sanity rule, a sample), an A/B campaign from two jobs over the same people; items packed in HITs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import FitFactory, done_fit_job
from webapp.crowd.models import Assignment, Campaign, Hit, HitItem, Item, Vote, Worker
from webapp.crowd.services import campaign_create_ab, campaign_create_validation
from webapp.fits.models import Fit, FitJob

pytestmark = pytest.mark.django_db


def test_a_validation_campaign_packs_every_fit_into_hits(fit_job_with_fits: Callable[..., FitJob]) -> None:
    job = fit_job_with_fits(7, failing=2)
    campaign = campaign_create_validation(name="all fits", job=job, items_per_hit=3, reward_cents=12)
    assert campaign.kind == "validation"
    assert campaign.state == "draft"
    assert set(Item.objects.filter(campaign=campaign).values_list("fit_id", flat=True)) == set(
        Fit.objects.filter(job=job).values_list("id", flat=True)
    )
    # 7 items in HITs of 3: sizes 3, 3, 1; every item in exactly one HIT, positions 0.. per HIT.
    hits = list(Hit.objects.filter(campaign=campaign).order_by("index"))
    assert [h.items.count() for h in hits] == [3, 3, 1]
    assert HitItem.objects.filter(hit__campaign=campaign).values("item").distinct().count() == 7
    assert [list(HitItem.objects.filter(hit=h).values_list("position", flat=True)) for h in hits] == [
        [0, 1, 2], [0, 1, 2], [0]
    ]  # fmt: skip
    assert campaign.cost_cents == 3 * 3 * 12  # 3 HITs x 3 workers x 12 cents

    passing = campaign_create_validation(name="passing", job=job, selection="sanity")
    assert passing.items.count() == 5  # the 2 failing fits are left out
    assert not passing.items.filter(fit__sanity_ok=False).exists()

    sample = campaign_create_validation(name="sample", job=job, selection="sample", sample_size=4)
    assert sample.items.count() == 4
    assert set(sample.items.values_list("fit_id", flat=True)) <= set(
        Fit.objects.filter(job=job).values_list("id", flat=True)
    )


def test_bad_validation_requests(fit_job_with_fits: Callable[..., FitJob]) -> None:
    job = fit_job_with_fits(2)
    with pytest.raises(ValidationError, match=r"must be between 1 and 2 \(the job's fits\)"):
        campaign_create_validation(name="x", job=job, selection="sample", sample_size=5)
    with pytest.raises(ValidationError, match="unknown selection 'best'"):
        campaign_create_validation(name="x", job=job, selection="best")
    FitJob.objects.filter(pk=job.pk).update(status="running")
    job.refresh_from_db()
    with pytest.raises(ValidationError, match=f"job {job.pk} is running: a campaign needs a finished job"):
        campaign_create_validation(name="x", job=job)
    assert Campaign.objects.count() == 0


def test_an_ab_campaign_pairs_the_people_both_jobs_fitted(fit_job_with_fits: Callable[..., FitJob]) -> None:
    job_a = fit_job_with_fits(4)
    job_b = done_fit_job(0, dataset=job_a.dataset, method=FitJob.Method.SMPLIFY)
    people = [f.person for f in Fit.objects.filter(job=job_a).order_by("id")][:3]  # B fitted 3 of 4
    for person in people:
        FitFactory(job=job_b, person=person)
    campaign = campaign_create_ab(name="eft vs smplify", job_a=job_a, job_b=job_b, items_per_hit=10)
    pairs = set(
        campaign.items.values_list("fit__person_id", "fit_b__person_id", "fit__job_id", "fit_b__job_id")
    )
    assert pairs == {(p.pk, p.pk, job_a.pk, job_b.pk) for p in people}
    assert campaign.hits.count() == 1
    other = fit_job_with_fits(2)
    with pytest.raises(ValidationError, match="fitted different datasets"):
        campaign_create_ab(name="y", job_a=job_a, job_b=other)
    with pytest.raises(ValidationError, match="compares two different jobs"):
        campaign_create_ab(name="z", job_a=job_a, job_b=job_a)


def test_a_worker_votes_once_per_item_and_takes_a_hit_once(fit_job_with_fits: Callable[..., FitJob]) -> None:
    job = fit_job_with_fits(2)
    first = campaign_create_validation(name="one", job=job, items_per_hit=2)
    hit = first.hits.get()
    item = first.items.first()
    assert item is not None
    worker = Worker.objects.create(provider="inhouse", provider_id="ann")
    turn = Assignment.objects.create(hit=hit, worker=worker, expires_at=timezone.now())
    Vote.objects.create(assignment=turn, item=item, worker=worker, answer="accept", seconds=4.2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(assignment=turn, item=item, worker=worker, answer="reject", seconds=1.0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(hit=hit, worker=worker, expires_at=timezone.now())
    assert list(Vote.objects.values_list("answer", flat=True)) == ["accept"]  # the first one stands


def test_deleting_the_job_deletes_its_campaigns(
    fit_job_with_fits: Callable[..., FitJob], settings: Any
) -> None:
    from webapp.fits.services import fit_job_delete

    job = fit_job_with_fits(2)
    campaign_create_validation(name="gone", job=job)
    fit_job_delete(job=job)
    assert (Campaign.objects.count(), Item.objects.count(), Hit.objects.count()) == (0, 0, 0)
