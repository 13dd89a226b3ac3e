"""Writes of the crowd app: campaigns made from what exists (a fit job, or two over the same
people), their items packed into HITs."""

from __future__ import annotations

import random
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import Campaign, Hit, HitItem, Item
from webapp.fits.models import Fit, FitJob

SELECTIONS = ("all", "sanity", "sample")


def _check_job(job: FitJob, field: str) -> None:
    if job.status != TaskStatus.DONE:
        raise ValidationError({field: f"job {job.pk} is {job.status}: a campaign needs a finished job"})


def _pack(campaign: Campaign, items: list[Item]) -> list[Hit]:
    """Cut the items into HITs of ``items_per_hit``, in a seeded shuffled order (neighbours in a
    HIT come from different images)."""
    order = list(items)
    random.Random(campaign.pk).shuffle(order)
    size = campaign.items_per_hit
    hits = Hit.objects.bulk_create(
        [Hit(campaign=campaign, index=k) for k in range((len(order) + size - 1) // size)]
    )
    if any(h.pk is None for h in hits):
        hits = list(Hit.objects.filter(campaign=campaign).order_by("index"))
    HitItem.objects.bulk_create(
        [HitItem(hit=hits[n // size], item=item, position=n % size) for n, item in enumerate(order)]
    )
    return hits


def _create_items(campaign: Campaign, rows: list[Item]) -> list[Item]:
    created = Item.objects.bulk_create(rows)
    if any(i.pk is None for i in created):
        created = list(Item.objects.filter(campaign=campaign).order_by("id"))
    return created


@transaction.atomic
def campaign_create_validation(
    *, name: str, job: FitJob, selection: str = "all", sample_size: int = 0, **options: Any
) -> Campaign:
    """A validation campaign over a finished job's fits: every fit, those passing the sanity
    rule, or a seeded random sample of ``sample_size``. ``options`` are Campaign fields
    (votes_per_item, items_per_hit, reward_cents, provider, sandbox, gold_rate, budget_cents)."""
    _check_job(job, "job")
    if selection not in SELECTIONS:
        raise ValidationError(
            {"selection": f"unknown selection {selection!r}; choose from {list(SELECTIONS)}"}
        )
    fits = Fit.objects.filter(job=job).order_by("id")
    if selection == "sanity":
        fits = fits.filter(sanity_ok=True)
    ids = list(fits.values_list("id", flat=True))
    if selection == "sample":
        if not 0 < sample_size <= len(ids):
            raise ValidationError({"sample_size": f"must be between 1 and {len(ids)} (the job's fits)"})
        ids = sorted(random.Random(f"{name}:{job.pk}").sample(ids, sample_size))
    if not ids:
        raise ValidationError({"selection": f"job {job.pk} has no fit for selection {selection!r}"})
    campaign = Campaign(name=name, kind=Campaign.Kind.VALIDATION, job=job, selection=selection, **options)
    campaign.full_clean()
    campaign.save()
    items = _create_items(campaign, [Item(campaign=campaign, fit_id=pk) for pk in ids])
    _pack(campaign, items)
    return campaign


@transaction.atomic
def campaign_create_ab(*, name: str, job_a: FitJob, job_b: FitJob, **options: Any) -> Campaign:
    """An A/B campaign over the people both finished jobs fitted (for example EFT against
    SMPLify, or two checkpoints on one dataset): one item per person, fit A and fit B."""
    _check_job(job_a, "job_a")
    _check_job(job_b, "job_b")
    if job_a.pk == job_b.pk:
        raise ValidationError({"job_b": "an A/B campaign compares two different jobs"})
    if job_a.dataset_id != job_b.dataset_id:
        raise ValidationError({"job_b": f"jobs {job_a.pk} and {job_b.pk} fitted different datasets"})
    fits_b = dict(Fit.objects.filter(job=job_b).values_list("person_id", "id"))
    fits_a = Fit.objects.filter(job=job_a).order_by("id").values_list("id", "person_id")
    pairs = [(a, fits_b[p]) for a, p in fits_a if p in fits_b]
    if not pairs:
        raise ValidationError({"job_b": f"jobs {job_a.pk} and {job_b.pk} have no fitted person in common"})
    campaign = Campaign(name=name, kind=Campaign.Kind.AB, job=job_a, job_b=job_b, **options)
    campaign.full_clean()
    campaign.save()
    items = _create_items(campaign, [Item(campaign=campaign, fit_id=a, fit_b_id=b) for a, b in pairs])
    _pack(campaign, items)
    return campaign
