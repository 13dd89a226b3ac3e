"""Writes of crowd work: assignments the app issues (in-house from a worker's queue, on MTurk when
a worker opens the HIT page), the votes given on them, and the gold checks that follow.

Rules every provider shares:

- a vote is taken only for an assignment the app issued, named by a signed token that binds the
  assignment and its worker (``assignment_token``); it lives as long as the assignment;
- the page names an item by its place in the assignment's plan, never by its id (gold items
  cannot be told apart);
- the vote of a worker on an item is stored once: a repeated submission with the same answer is
  the same vote (answered as such), another answer is refused, and a worker never votes twice on
  one item, whatever the HIT;
- a vote is stored before it is answered; the assignment is submitted when its last item is voted;
- a blocked worker gets no new assignment and its votes are refused.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import Assignment, Campaign, Hit, Item, Provider, Vote, Worker
from webapp.fits.models import Render
from webapp.fits.renders import RENDER_KINDS

_TOKEN_SALT = "webapp.crowd.assignment"
#: Assignments that hold a place in a HIT: an expired one gives its place back, and so does a
#: rejected one or one of a worker blocked since (their votes do not count: another worker
#: takes the place).
HOLDING = (
    Assignment.State.ACCEPTED,
    Assignment.State.SUBMITTED,
    Assignment.State.APPROVED,
)
#: What a HIT page sends: accept / reject, or (A/B) the side the worker chose; which fit was on
#: which side is the assignment's own record, never the page's word.
VALIDATION_ANSWERS = ("accept", "reject")
AB_ANSWERS = ("left", "right")


class RefusedError(Exception):
    """A vote (or an assignment) the app does not give; ``status`` is the HTTP status that says
    why, ``message`` says it in words."""

    def __init__(self, status: int, message: str, *, settled: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.settled = settled  # the item already has this worker's vote: the page goes on


# --- tokens ---------------------------------------------------------------------------------


def assignment_token(assignment: Assignment) -> str:
    """The signed token a HIT page sends with each vote: the assignment, its worker and (MTurk)
    the assignment id MTurk gave it (a token of an assignment taken over by a new MTurk
    assignment id stops working)."""
    payload = {"a": assignment.pk, "w": assignment.worker_id, "p": assignment.provider_assignment_id}
    return signing.dumps(payload, salt=_TOKEN_SALT, compress=True)


def assignment_from_token(token: str) -> Assignment:
    """The assignment a token names, if the token is genuine, unexpired and still matches it."""
    try:
        data = signing.loads(token, salt=_TOKEN_SALT, max_age=settings.CROWD_ASSIGNMENT_SECONDS + 300)
    except signing.SignatureExpired:
        raise RefusedError(403, "this assignment's time is over: its votes are no longer taken") from None
    except signing.BadSignature:
        raise RefusedError(403, "the token is not one this app issued") from None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int) or not isinstance(data.get("w"), int):
        raise RefusedError(403, "the token is not one this app issued")
    # get() rather than first(): no ORDER BY to build and run on the vote's hot path
    try:
        assignment = Assignment.objects.select_related("worker", "hit__campaign").get(pk=data["a"])
    except Assignment.DoesNotExist:
        assignment = None
    if (
        assignment is None
        or assignment.worker_id != data["w"]
        or assignment.provider_assignment_id != data.get("p", "")
    ):
        raise RefusedError(403, "the token names no assignment of this app")
    return assignment


_HIT_SALT = "webapp.crowd.hit"


def hit_key(hit: Hit) -> str:
    """The signed key in a HIT page's address (an MTurk ExternalURL): HIT pages cannot be found
    by counting ids."""
    return signing.Signer(salt=_HIT_SALT).sign(str(hit.pk)).split(":", 1)[1]


def hit_key_valid(hit_id: int, key: str) -> bool:
    try:
        signing.Signer(salt=_HIT_SALT).unsign(f"{hit_id}:{key}")
    except signing.BadSignature:
        return False
    return True


# --- issuing --------------------------------------------------------------------------------


def _hit_ready(hit: Hit) -> bool:
    """Whether every picture of the HIT's items is drawn (a HIT is issued only then)."""
    fits = set(hit.items.values_list("fit_id", flat=True)) | set(
        hit.items.exclude(fit_b=None).values_list("fit_b_id", flat=True)
    )
    done = Render.objects.filter(fit_id__in=fits, status=TaskStatus.DONE, kind__in=RENDER_KINDS).count()
    return done == len(fits) * len(RENDER_KINDS)


def _gold_count(campaign: Campaign, worker: Worker, items: int) -> int:
    """Gold items to mix into an assignment of ``items`` items: the campaign's rate, doubled for a
    worker's first assignments; at least one where the rate is above zero."""
    if campaign.gold_rate <= 0:
        return 0
    early = worker.assignments.filter(hit__campaign=campaign).count() < settings.CROWD_GOLD_EARLY_ASSIGNMENTS
    rate = min(1.0, campaign.gold_rate * (2 if early else 1))
    return max(1, round(items * rate / (1 - rate))) if rate < 1 else items


def _plan(hit: Hit, worker: Worker, seed: str) -> list[dict[str, Any]]:
    """What the worker is shown: the HIT's items (minus any it voted on already) and gold items
    it has not seen, shuffled; for A/B, a random side for fit A."""
    campaign = hit.campaign
    rng = random.Random(seed)
    own = Vote.objects.filter(worker=worker, item__campaign=campaign).order_by()  # no ordering joins
    voted = set(own.values_list("item_id", flat=True))
    # ... and the items of the worker's other open assignments (MTurk workers accept several HITs
    # at once): an item is in one plan of a worker at a time.
    for other in worker.assignments.filter(state=Assignment.State.ACCEPTED, hit__campaign=campaign):
        voted.update(other.item_ids())
    items = [
        pk for pk in hit.items.order_by("hititem__position").values_list("id", flat=True) if pk not in voted
    ]
    wanted = _gold_count(campaign, worker, len(items))
    gold: list[int] = []
    if wanted:
        drawn = Count("fit__renders", filter=Q(fit__renders__status=TaskStatus.DONE))
        gold_pool = list(
            Item.objects.filter(campaign=campaign, gold__isnull=False, hits=None)
            .exclude(pk__in=voted)
            .annotate(drawn=drawn)
            .filter(drawn=len(RENDER_KINDS))
            .order_by("id")
            .values_list("id", flat=True)
        )
        gold = rng.sample(gold_pool, min(len(gold_pool), wanted))
    order = items + gold
    rng.shuffle(order)
    ab = campaign.kind == Campaign.Kind.AB
    golds = set(gold)  # the server's own record (the page never sees the plan): votes on the
    # other items skip the gold check's look-up
    return [
        {"item": pk, "a_on_left": rng.random() < 0.5 if ab else None, "gold": pk in golds} for pk in order
    ]


def _issue(hit: Hit, worker: Worker, provider_assignment_id: str = "") -> Assignment:
    plan = _plan(hit, worker, f"{hit.pk}:{worker.pk}:{provider_assignment_id}")
    return Assignment.objects.create(
        hit=hit,
        worker=worker,
        provider_assignment_id=provider_assignment_id,
        plan=plan,
        expires_at=timezone.now() + timedelta(seconds=settings.CROWD_ASSIGNMENT_SECONDS),
    )


def holding_filter(now: datetime | None = None) -> Q:
    """Assignments that hold a place in their HIT: finished ones, and open ones not yet expired."""
    now = now or timezone.now()
    return (
        Q(state__in=HOLDING)
        & ~Q(state=Assignment.State.ACCEPTED, expires_at__lte=now)
        & Q(worker__blocked=False)
    )


def open_hits(campaign: Campaign, worker: Worker) -> QuerySet[Hit]:
    """HITs of the campaign that still want a worker and that this worker has not taken."""
    places = Count("assignments", filter=Q(assignments__in=Assignment.objects.filter(holding_filter())))
    return (
        Hit.objects.filter(campaign=campaign)
        .exclude(assignments__worker=worker)
        .annotate(places=places)
        .filter(places__lt=campaign.votes_per_item)
        .order_by("index")
    )


def worker_current(worker: Worker) -> Assignment | None:
    """The worker's unfinished in-house assignment, if it has one still open."""
    return (
        worker.assignments.filter(
            state=Assignment.State.ACCEPTED,
            expires_at__gt=timezone.now(),
            hit__campaign__state=Campaign.State.OPEN,
        )
        .order_by("started_at")
        .first()
    )


def assignment_next_inhouse(worker: Worker) -> Assignment | None:
    """The worker's next in-house assignment: the unfinished one it holds, or a new one on the
    first HIT of an open in-house campaign that still wants a worker (oldest campaign first).
    None when there is no work for it, or it is blocked."""
    if worker.blocked:
        return None
    current = worker_current(worker)
    if current is not None:
        return current
    campaigns = Campaign.objects.filter(state=Campaign.State.OPEN, provider=Provider.INHOUSE).order_by(
        "created_at"
    )
    for campaign in campaigns:
        for hit in open_hits(campaign, worker)[:20]:
            if not _hit_ready(hit):
                continue
            with transaction.atomic():
                # One place at a time per HIT: count again under the HIT's row lock.
                locked = Hit.objects.select_for_update().get(pk=hit.pk)
                if (
                    locked.assignments.filter(holding_filter()).count() >= campaign.votes_per_item
                    or locked.assignments.filter(worker=worker).exists()
                ):
                    continue
                assignment = _issue(locked, worker)
            if assignment.plan:
                return assignment
            assignment.state = Assignment.State.SUBMITTED  # nothing left this worker may vote on
            assignment.save(update_fields=["state"])
    return None


#: What MTurk's ids look like (upper-case letters and digits); anything else is not MTurk's.
MTURK_ID = re.compile(r"^[A-Z0-9]{1,64}$")


def assignment_for_mturk(*, hit: Hit, worker_id: str, assignment_id: str) -> Assignment:
    """The assignment of an MTurk worker who opened the HIT page with a real assignment id: made
    the first time (while the HIT has a place left), found again on reloads. A worker who
    returned the HIT and accepted it again comes back with a new assignment id: it takes over
    the worker's record only once the old one has expired (an open one is refused, so an id
    typed into the address cannot take a live assignment over).

    MTurk vouches for the (assignment, worker) pair only later, when the periodic sync lists it
    (``Assignment.provider_status``): results count MTurk votes once MTurk has confirmed them."""
    for name, value in (("workerId", worker_id), ("assignmentId", assignment_id)):
        if not MTURK_ID.match(value):
            raise RefusedError(400, f"{name} is not an MTurk id")
    worker, _ = Worker.objects.get_or_create(provider=Provider.MTURK, provider_id=worker_id)
    if worker.blocked:
        raise RefusedError(403, "this worker may no longer work on this campaign's HITs")
    now = timezone.now()
    with transaction.atomic():
        locked = Hit.objects.select_for_update().get(pk=hit.pk)
        locked.campaign = hit.campaign  # read with the HIT (its row is not locked: other HITs go on)
        existing = Assignment.objects.filter(hit=locked, worker=worker).first()
        if existing is not None and existing.provider_assignment_id == assignment_id:
            return existing
        if existing is not None:
            if existing.state == Assignment.State.ACCEPTED and existing.expires_at > now:
                raise RefusedError(
                    409, "this worker holds another assignment of this HIT: finish or return it"
                )
            if existing.state not in (Assignment.State.ACCEPTED, Assignment.State.EXPIRED):
                raise RefusedError(409, "this worker has already submitted this HIT")
        if locked.assignments.filter(holding_filter(now)).count() >= hit.campaign.votes_per_item:
            raise RefusedError(409, "this HIT has all its workers")
        if existing is None:
            return _issue(locked, worker, assignment_id)
        existing.provider_assignment_id = assignment_id
        existing.state = Assignment.State.ACCEPTED
        existing.expires_at = now + timedelta(seconds=settings.CROWD_ASSIGNMENT_SECONDS)
        existing.save(update_fields=["provider_assignment_id", "state", "expires_at"])
        return existing


def assignments_expire(now: datetime | None = None) -> int:
    """Mark open assignments whose time is over as expired (their places go back to their HITs;
    votes already given stay, as raw votes always do). Returns how many."""
    return Assignment.objects.filter(
        state=Assignment.State.ACCEPTED, expires_at__lte=now or timezone.now()
    ).update(state=Assignment.State.EXPIRED)


# --- votes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    created: bool  # False: the same vote was submitted again
    remaining: int  # items of the assignment still to vote on
    submitted: bool  # the assignment is complete


def _answers(campaign: Campaign) -> tuple[str, ...]:
    return AB_ANSWERS if campaign.kind == Campaign.Kind.AB else VALIDATION_ANSWERS


def vote_record(*, token: str, step: Any, answer: Any, seconds: Any) -> VoteResult:
    """Store one answer of an assignment's worker on the ``step``-th item of its plan (the page
    never learns item ids: gold items cannot be told apart); refuse with a RefusedError that
    says why, writing nothing."""
    assignment = assignment_from_token(str(token))
    campaign = assignment.hit.campaign
    if not isinstance(step, int) or isinstance(step, bool):
        raise RefusedError(400, "step must be the item's place in the assignment (an integer)")
    if answer not in _answers(campaign):
        raise RefusedError(400, f"answer must be one of {list(_answers(campaign))} in this campaign")
    try:
        spent = float(seconds)
    except (TypeError, ValueError):
        raise RefusedError(400, "seconds must be a number (time on the item)") from None
    if not 0 <= spent < 1e7:
        raise RefusedError(400, "seconds must be 0 or more")
    if not 0 <= step < len(assignment.plan):
        raise RefusedError(400, f"step {step} is not part of this assignment (it has {len(assignment.plan)})")
    item_id = int(assignment.plan[step]["item"])
    a_on_left = assignment.plan[step]["a_on_left"]
    if campaign.kind == Campaign.Kind.AB:
        answer = Vote.Answer.A if (answer == "left") == bool(a_on_left) else Vote.Answer.B
    refusal = _closed(assignment, campaign)
    if refusal is not None:
        # A vote given before the assignment closed is still answered as itself.
        existing = Vote.objects.filter(worker_id=assignment.worker_id, item_id=item_id).first()
        if existing is not None:
            return _again(existing, assignment, answer)
        raise refusal
    # The vote is written first: the unique (worker, item) constraint tells a repeated submission
    # (one statement, not a look-up before each vote).
    vote = Vote(
        assignment=assignment, item_id=item_id, worker_id=assignment.worker_id, answer=answer,
        a_on_left=a_on_left, seconds=min(spent, float(settings.CROWD_ASSIGNMENT_SECONDS)),
    )  # fmt: skip
    try:
        _insert(vote)
    except IntegrityError:  # submitted before (or twice at once: the other one stored it)
        return _again(Vote.objects.get(worker_id=assignment.worker_id, item_id=item_id), assignment, answer)
    remaining = remaining_steps(assignment)
    submitted = remaining == 0 and _submit(assignment)
    if assignment.plan[step].get("gold", True):  # plans made before the flag: look
        gold_check(vote)
    return VoteResult(vote, True, remaining, submitted)


def _insert(row: Vote) -> None:
    """INSERT a vote; a refused one leaves the connection as it was. Outside a transaction the
    INSERT is a transaction of its own, stored when it returns (one round trip, where an atomic
    block adds a BEGIN and a COMMIT); inside a caller's, a savepoint keeps the caller's usable."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            row.save(force_insert=True)
    else:
        row.save(force_insert=True)


def _closed(assignment: Assignment, campaign: Campaign) -> RefusedError | None:
    """Why the assignment takes no new vote, if it takes none."""
    if assignment.worker.blocked:
        return RefusedError(403, "this worker is blocked: its votes are no longer taken")
    if campaign.state != Campaign.State.OPEN:
        return RefusedError(409, f"the campaign is {campaign.state}: votes are no longer taken")
    if assignment.state != Assignment.State.ACCEPTED or assignment.expires_at <= timezone.now():
        return RefusedError(
            409, f"this assignment is {_state_words(assignment)}: its votes are no longer taken"
        )
    return None


def remaining_steps(assignment: Assignment) -> int:
    """Items of the plan the worker has not voted on (in this assignment or, for an item that met
    it twice, in another: its one vote stands for both)."""
    items = assignment.item_ids()
    return len(items) - Vote.objects.filter(worker_id=assignment.worker_id, item_id__in=items).count()


def _state_words(assignment: Assignment) -> str:
    if assignment.state == Assignment.State.ACCEPTED:
        return "past its time"
    return str(assignment.State(assignment.state).label)


def _again(existing: Vote, assignment: Assignment, answer: str) -> VoteResult:
    """The worker's vote on this item exists: the same answer is the same vote; another answer
    is refused (the page goes on: the item has its vote)."""
    if existing.answer != answer:
        raise RefusedError(
            409, "this item already has this worker's vote: a vote is never changed", settled=True
        )
    remaining = remaining_steps(assignment)
    if remaining == 0:
        _submit(assignment)
    assignment.refresh_from_db(fields=["state"])
    return VoteResult(existing, False, remaining, assignment.state != Assignment.State.ACCEPTED)


def _submit(assignment: Assignment) -> bool:
    return bool(
        Assignment.objects.filter(pk=assignment.pk, state=Assignment.State.ACCEPTED).update(
            state=Assignment.State.SUBMITTED, submitted_at=timezone.now()
        )
    )


# --- quality control ------------------------------------------------------------------------


def gold_record(worker: Worker) -> tuple[int, int]:
    """(gold votes, wrong gold votes) of a worker, every campaign together."""
    votes = Vote.objects.filter(worker=worker, item__gold__isnull=False)
    return votes.count(), votes.exclude(answer=F("item__gold__answer")).count()


def gold_check(vote: Vote) -> bool:
    """After a vote on a gold item: block the worker once it has CROWD_GOLD_STRIKES wrong gold
    answers and its gold accuracy is under CROWD_GOLD_MIN_ACCURACY. Returns whether it was
    blocked now."""
    gold = vote.item.gold
    if gold is None or vote.answer == gold.answer:
        return False
    seen, wrong = gold_record(vote.worker)
    if wrong < settings.CROWD_GOLD_STRIKES or (seen - wrong) / seen >= settings.CROWD_GOLD_MIN_ACCURACY:
        return False
    return worker_block(
        vote.worker,
        f"{wrong} wrong answers on {seen} gold items (accuracy {(seen - wrong) / seen:.0%})",
    )


def worker_block(worker: Worker, reason: str) -> bool:
    """Block a worker: no new assignment, no further vote (MTurk: its blocked qualification is
    set by the provider's sync). Returns whether it was not blocked before."""
    changed = Worker.objects.filter(pk=worker.pk, blocked=False).update(
        blocked=True, block_reason=reason[:300]
    )
    worker.blocked, worker.block_reason = True, reason[:300]
    # Its open assignments give their places back at once (their votes stay, as raw votes do).
    worker.assignments.filter(state=Assignment.State.ACCEPTED).update(state=Assignment.State.EXPIRED)
    return bool(changed)


def worker_unblock(worker: Worker) -> None:
    Worker.objects.filter(pk=worker.pk).update(blocked=False, block_reason="")
    worker.blocked, worker.block_reason = False, ""
