"""Crowd work: campaigns that ask people whether fits are right (validation) or which of two fits
is better (A/B), their items, HITs, assignments, votes, workers and gold items.

Votes are raw facts and are never modified: aggregation (issue 18) is a function over them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.fits.models import Fit, FitJob


class Provider(models.TextChoices):
    INHOUSE = "inhouse", "in-house (invited workers sign in here)"
    MTURK = "mturk", "Amazon Mechanical Turk"


class Worker(models.Model):
    """A person who votes: an in-house account or an MTurk worker id."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    provider_id = models.CharField(max_length=128, help_text="MTurk WorkerId, or the in-house username")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="crowd_worker",
    )
    blocked = models.BooleanField(default=False)
    block_reason = models.CharField(max_length=300, blank=True)
    # MTurk: whether the "blocked" qualification is set on the worker there (the sandbox and
    # production are separate), so a block or an unblock in the app is sent once (webapp.crowd.mturk).
    blocked_on_sandbox = models.BooleanField(
        default=False, help_text="MTurk sandbox: blocked qualification set"
    )
    blocked_on_production = models.BooleanField(
        default=False, help_text="MTurk production: blocked qualification set"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("provider", "provider_id"), name="worker_unique_per_provider"),
        )
        ordering = ("provider", "provider_id")

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_id}"


class GoldItem(models.Model):
    """An item whose right answer is known, and why: a synthetic person's true fit or a fit made
    wrong on purpose (made by the product), or a real item an admin reviewed."""

    class Source(models.TextChoices):
        SYNTHETIC = "synthetic", "made by the product from a synthetic person with known truth"
        REVIEWED = "reviewed", "a real item an admin reviewed"

    class Answer(models.TextChoices):
        ACCEPT = "accept", "the fit is right"
        REJECT = "reject", "the fit is wrong"

    fit = models.ForeignKey(Fit, on_delete=models.CASCADE, related_name="gold_items")
    source = models.CharField(max_length=16, choices=Source.choices)
    answer = models.CharField(max_length=8, choices=Answer.choices)
    reason = models.CharField(max_length=300, help_text='why, e.g. "left and right legs swapped"')
    example = models.BooleanField(
        default=False,
        help_text="shown on the public instructions page, and so never mixed into HITs",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("fit",), name="gold_unique_fit"),)

    def __str__(self) -> str:
        return f"gold {self.answer}: {self.reason}"


class Campaign(models.Model):
    class Kind(models.TextChoices):
        VALIDATION = "validation", "validation: is this fit right?"
        AB = "ab", "A/B: which of two fits is better?"

    class State(models.TextChoices):
        DRAFT = "draft", "draft"
        OPEN = "open", "open (HITs can be worked)"
        CLOSED = "closed", "closed"
        CANCELLED = "cancelled", "cancelled"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    job = models.ForeignKey(FitJob, on_delete=models.CASCADE, related_name="campaigns")
    job_b = models.ForeignKey(
        FitJob, null=True, blank=True, on_delete=models.CASCADE, related_name="campaigns_as_b",
        help_text="A/B: the other job, over the same people",
    )  # fmt: skip
    selection = models.CharField(max_length=16, default="all", help_text="all, sanity (passing) or sample")
    votes_per_item = models.PositiveSmallIntegerField(default=3, help_text="the paper asks 3 workers")
    items_per_hit = models.PositiveSmallIntegerField(default=10)
    reward_cents = models.PositiveIntegerField(default=10, help_text="per HIT (assignment), in US cents")
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.INHOUSE)
    sandbox = models.BooleanField(default=True, help_text="MTurk: the sandbox (no money paid)")
    qualification_requirements = models.JSONField(default=list, blank=True)
    gold_rate = models.FloatField(default=0.1, help_text="share of gold items mixed into HITs")
    budget_cents = models.PositiveIntegerField(default=0, help_text="0: no limit (in-house)")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    # MTurk (webapp.crowd.mturk): the HIT type made at launch, when the launch finished, the last
    # sync, and the last failure talking to MTurk (cleared by the next success).
    hit_type_id = models.CharField(max_length=64, blank=True, help_text="MTurk HITTypeId")
    launched_at = models.DateTimeField(null=True, blank=True, help_text="MTurk: every HIT was made")
    synced_at = models.DateTimeField(null=True, blank=True, help_text="MTurk: last sync of assignments")
    provider_error = models.TextField(blank=True, help_text="MTurk: the last failure, in words")

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.state})"

    @property
    def cost_cents(self) -> int:
        """What every assignment of every HIT costs (MTurk's fee not included)."""
        return self.hits.count() * self.votes_per_item * self.reward_cents


class Item(models.Model):
    """One thing to judge: a fit (validation) or two fits of one person (A/B)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    fit = models.ForeignKey(Fit, on_delete=models.CASCADE, related_name="crowd_items")
    fit_b = models.ForeignKey(
        Fit, null=True, blank=True, on_delete=models.CASCADE, related_name="crowd_items_b"
    )
    gold = models.ForeignKey(GoldItem, null=True, blank=True, on_delete=models.CASCADE, related_name="items")

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("campaign", "fit", "fit_b"), name="item_unique_per_campaign"),
        )
        ordering = ("campaign", "id")

    def __str__(self) -> str:
        return f"item {self.pk} of {self.campaign_id}"


class Hit(models.Model):
    """A batch of items one worker judges in one go; ``votes_per_item`` workers take it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="hits")
    index = models.PositiveIntegerField()
    items: models.ManyToManyField[Item, HitItem] = models.ManyToManyField(
        Item, through="HitItem", related_name="hits"
    )
    provider_hit_id = models.CharField(max_length=64, blank=True, help_text="MTurk HITId")
    expired_at = models.DateTimeField(null=True, blank=True, help_text="MTurk: expired on request")
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="MTurk: deleted (disposed of)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("campaign", "index"), name="hit_unique_index"),)
        ordering = ("campaign", "index")

    def __str__(self) -> str:
        return f"HIT {self.index} of {self.campaign_id}"


class HitItem(models.Model):
    hit = models.ForeignKey(Hit, on_delete=models.CASCADE)
    item = models.ForeignKey(Item, on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField()

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("hit", "position"), name="hititem_unique_position"),
            models.UniqueConstraint(fields=("hit", "item"), name="hititem_unique_item"),
        )
        ordering = ("hit", "position")

    def __str__(self) -> str:
        return f"item {self.item_id} at {self.position} of HIT {self.hit_id}"


class Assignment(models.Model):
    """One worker's turn at one HIT (one worker takes a HIT once), issued by the app: the plan
    is what this worker is shown, in order (the HIT's items with gold items mixed in; for A/B,
    which side fit A is on)."""

    class State(models.TextChoices):
        ACCEPTED = "accepted", "accepted (working)"
        SUBMITTED = "submitted", "submitted (every item voted)"
        APPROVED = "approved", "approved (paid)"
        REJECTED = "rejected", "rejected"
        EXPIRED = "expired", "returned or expired before it was finished"

    hit = models.ForeignKey(Hit, on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="assignments")
    provider_assignment_id = models.CharField(max_length=64, blank=True)
    provider_status = models.CharField(
        max_length=16, blank=True,
        help_text="MTurk's AssignmentStatus as last seen or set: Submitted, Approved or Rejected",
    )  # fmt: skip
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACCEPTED)
    plan = models.JSONField(default=list, help_text='[{"item": id, "a_on_left": bool | null}, ...]')
    started_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="votes are refused after this moment")
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    feedback = models.CharField(max_length=1000, blank=True, help_text="said to the worker on review")
    bonus_cents = models.PositiveIntegerField(default=0, help_text="owed after review")
    bonus_paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("hit", "worker"), name="assignment_one_per_worker"),)

    def __str__(self) -> str:
        return f"{self.worker} on {self.hit}"

    def item_ids(self) -> list[int]:
        return [int(step["item"]) for step in self.plan]


class Vote(models.Model):
    """One answer, as given; never modified."""

    class Answer(models.TextChoices):
        ACCEPT = "accept", "accept"
        REJECT = "reject", "reject"
        A = "a", "fit A is better"
        B = "b", "fit B is better"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="votes")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="votes")
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="votes")
    answer = models.CharField(max_length=8, choices=Answer.choices)
    a_on_left = models.BooleanField(null=True, help_text="A/B: whether fit A was shown on the left")
    seconds = models.FloatField(help_text="time on the item")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            # One vote per worker and item, across HITs; a repeated submission is the same vote.
            models.UniqueConstraint(fields=("worker", "item"), name="vote_one_per_worker_item"),
        )
        ordering = ("item", "created_at")

    def __str__(self) -> str:
        return f"{self.worker} on item {self.item_id}: {self.answer}"


class MturkAccount(models.Model):
    """What this app made once on one side of MTurk (the sandbox or production: separate worlds,
    separate ids): the "blocked" qualification that keeps blocked workers off its HITs."""

    sandbox = models.BooleanField(unique=True)
    blocked_qualification_id = models.CharField(max_length=64, help_text="MTurk QualificationTypeId")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"MTurk {'sandbox' if self.sandbox else 'production'}"


class Invite(models.Model):
    """A link an admin hands to a person to become an in-house worker (an account without staff
    rights); used once, until it expires."""

    code = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=200, blank=True, help_text="who it is for")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="crowd_invites"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_by = models.OneToOneField(
        Worker, null=True, blank=True, on_delete=models.SET_NULL, related_name="invite"
    )
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"invite for {self.note or 'a worker'}"
