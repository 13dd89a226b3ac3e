"""Writes of the crowd app: campaigns made from what exists (a fit job, or two over the same
people), their items packed into HITs, gold items mixed in, opening and closing; invitations of
in-house workers. Assignments and votes: webapp.crowd.assignments."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import Campaign, GoldItem, Hit, HitItem, Invite, Item, Provider, Worker
from webapp.fits.models import Fit, FitJob
from webapp.fits.renders import renders_request

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
    _add_gold(campaign)
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


def _add_gold(campaign: Campaign) -> int:
    """Every gold item as an item of the campaign (outside its HITs: assignments mix them in)."""
    if campaign.gold_rate <= 0:
        return 0
    gold = (
        GoldItem.objects.filter(example=False)
        .exclude(fit__in=campaign.items.values("fit"))
        .values_list("id", "fit_id")
    )
    made = Item.objects.bulk_create([Item(campaign=campaign, fit_id=fit, gold_id=pk) for pk, fit in gold])
    return len(made)


def campaign_renders_request(campaign: Campaign) -> int:
    """Ask for the pictures the campaign's items still lack (each fit's crop, camera and side
    views; drawn by the render workers). Returns how many are waiting."""
    fits = set(campaign.items.values_list("fit_id", flat=True)) | set(
        campaign.items.exclude(fit_b=None).values_list("fit_b_id", flat=True)
    )
    waiting = 0
    for job in FitJob.objects.filter(fits__in=fits).distinct():
        ids = list(Fit.objects.filter(job=job, pk__in=fits).values_list("id", flat=True))
        waiting += len(renders_request(job=job, fit_ids=ids))
    return waiting


@transaction.atomic
def campaign_open(campaign: Campaign) -> Campaign:
    """Open a draft (or closed) campaign to workers; its missing pictures are drawn first (a HIT
    is handed out once its pictures are there)."""
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.CLOSED):
        raise ValidationError(
            {"state": f"campaign {campaign.name!r} is {campaign.state}: it cannot be opened"}
        )
    if campaign.provider == Provider.MTURK:
        raise ValidationError(
            {"provider": "an MTurk campaign opens by launching its HITs (its page: Launch on MTurk)"}
        )
    campaign_renders_request(campaign)
    campaign.state = Campaign.State.OPEN
    campaign.save(update_fields=["state"])
    return campaign


@transaction.atomic
def campaign_close(campaign: Campaign, *, cancel: bool = False) -> Campaign:
    """Close a campaign (no new assignment, no new vote); ``cancel`` marks it given up."""
    if campaign.state == Campaign.State.CANCELLED:
        raise ValidationError({"state": f"campaign {campaign.name!r} is cancelled"})
    campaign.state = Campaign.State.CANCELLED if cancel else Campaign.State.CLOSED
    campaign.save(update_fields=["state"])
    return campaign


# --- gold items -----------------------------------------------------------------------------


def gold_mark_reviewed(*, fit: Fit, answer: str, reason: str) -> GoldItem:
    """An admin marks a reviewed real fit as gold: its right answer and why."""
    if answer not in GoldItem.Answer.values:
        raise ValidationError({"answer": f"answer must be one of {GoldItem.Answer.values}"})
    if not reason.strip():
        raise ValidationError({"reason": "say why the answer is right (workers who miss it are told)"})
    gold, created = GoldItem.objects.get_or_create(
        fit=fit, defaults={"source": GoldItem.Source.REVIEWED, "answer": answer, "reason": reason.strip()}
    )
    if not created:
        raise ValidationError({"fit": f"fit {fit.pk} is already a gold item ({gold.answer}: {gold.reason})"})
    return gold


# --- in-house workers -----------------------------------------------------------------------


def invite_create(*, note: str = "", created_by: AbstractBaseUser | None = None) -> Invite:
    """A one-use invitation for a person to become an in-house worker, valid CROWD_INVITE_DAYS."""
    return Invite.objects.create(
        code=secrets.token_urlsafe(24),
        note=note,
        created_by=created_by,  # type: ignore[misc]  # the project's user model
        expires_at=timezone.now() + timedelta(days=settings.CROWD_INVITE_DAYS),
    )


def invite_find(code: str) -> Invite:
    invite = Invite.objects.filter(code=code).first()
    if invite is None:
        raise ValidationError("this invitation does not exist: ask for a new link")
    if invite.used_at is not None:
        raise ValidationError("this invitation has been used already: sign in instead")
    if invite.expires_at <= timezone.now():
        raise ValidationError("this invitation has expired: ask for a new link")
    return invite


@transaction.atomic
def invite_accept(*, code: str, username: str, password: str) -> Worker:
    """Make the invited person's account (no staff rights) and its in-house worker."""
    invite = invite_find(code)
    invite = Invite.objects.select_for_update().get(pk=invite.pk)
    if invite.used_at is not None:
        raise ValidationError("this invitation has been used already: sign in instead")
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"the name {username!r} is taken: choose another"})
    user = user_model(username=username, is_staff=False, is_superuser=False)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    worker = worker_for_user(user)
    invite.used_by, invite.used_at = worker, timezone.now()
    invite.save(update_fields=["used_by", "used_at"])
    return worker


def worker_for_user(user: AbstractBaseUser) -> Worker:
    """The in-house worker of an account (made on first use: staff may vote too)."""
    worker, _ = Worker.objects.get_or_create(
        user=user, defaults={"provider": Provider.INHOUSE, "provider_id": user.get_username()}
    )
    return worker
