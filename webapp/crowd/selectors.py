"""Reads of the crowd app: what a HIT page shows, a worker's queue."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import Q

from webapp.core.media import media_url
from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import Assignment, Campaign, GoldItem, Hit, Item, Provider, Vote, Worker
from webapp.fits.models import Render

#: Lifetime of the picture addresses of a HIT preview (no assignment yet).
PREVIEW_SECONDS = 600


_PICTURE_SALT = "webapp.crowd.picture"
#: The pictures of a HIT page's item: the crop; validation: the fit over the photo and from the
#: side; A/B: each side's two views.
VALIDATION_VIEWS = ("crop", "camera", "side")
AB_VIEWS = ("crop", "left-camera", "left-side", "right-camera", "right-side")


def picture_url(*, step: int, view: str, expires: int, assignment: int = 0, hit: int = 0) -> str:
    """An opaque, signed, expiring address of one picture of a HIT page: the assignment (or, in a
    preview, the HIT), the step and the view. It names no file, job or fit, so a worker cannot
    tell a gold item from a real one by its address."""
    from django.urls import reverse

    payload = {"a": assignment, "h": hit, "s": step, "v": view, "x": expires}
    return reverse("crowd:picture", args=[signing.dumps(payload, salt=_PICTURE_SALT, compress=True)])


def picture_file(signed: str) -> str:
    """The stored file an address of ``picture_url`` names, if it is genuine and unexpired and
    the picture is drawn; "" otherwise."""
    try:
        data = signing.loads(signed, salt=_PICTURE_SALT)
        data = signing.loads(signed, salt=_PICTURE_SALT, max_age=int(data["x"]))
        step, view = int(data["s"]), str(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return ""
    if data.get("a"):
        assignment = Assignment.objects.filter(pk=data["a"]).first()
        plan = assignment.plan if assignment is not None else []
    else:
        hit = Hit.objects.filter(pk=data.get("h") or 0).first()
        plan = _preview_plan(hit) if hit is not None else []
    if not 0 <= step < len(plan):
        return ""
    item = Item.objects.filter(pk=plan[step]["item"]).first()
    if item is None:
        return ""
    side, _, kind = view.rpartition("-")
    fit_id = item.fit_id
    if side and item.fit_b_id is not None:
        a_side = "left" if plan[step].get("a_on_left") else "right"
        fit_id = item.fit_id if side == a_side else item.fit_b_id
    render = Render.objects.filter(fit_id=fit_id, kind=kind, status=TaskStatus.DONE).first()
    return render.file.name if render is not None else ""


def _pictures(fit_ids: set[int], expires: int) -> dict[int, dict[str, str]]:
    """Signed, expiring addresses of the fits' done renders, by fit and kind."""
    pictures: dict[int, dict[str, str]] = {}
    for fit_id, kind, name in Render.objects.filter(fit_id__in=fit_ids, status=TaskStatus.DONE).values_list(
        "fit_id", "kind", "file"
    ):
        pictures.setdefault(fit_id, {})[kind] = media_url(name, expires=expires)
    return pictures


def hit_steps(
    campaign: Campaign,
    plan: list[dict[str, Any]],
    *,
    expires: int,
    assignment: int = 0,
    hit: int = 0,
    voted: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """The steps of a HIT page in the plan's order: their pictures' opaque addresses
    (``picture_url``) and the answer already given (a reload resumes). No item id, job or fit
    reaches the page."""
    views = AB_VIEWS if campaign.kind == Campaign.Kind.AB else VALIDATION_VIEWS
    voted = voted or {}
    steps = []
    for number, step in enumerate(plan):
        urls = {
            view: picture_url(step=number, view=view, expires=expires, assignment=assignment, hit=hit)
            for view in views
        }
        steps.append(
            {"step": number, "number": number + 1, "views": urls, "voted": voted.get(int(step["item"]), "")}
        )
    return steps


def _page_answer(vote: Vote) -> str:
    """A stored vote as the page's own word (A/B: the side the worker chose)."""
    if vote.answer in (Vote.Answer.A, Vote.Answer.B):
        return "left" if (vote.answer == Vote.Answer.A) == bool(vote.a_on_left) else "right"
    return str(vote.answer)


def assignment_steps(assignment: Assignment) -> list[dict[str, Any]]:
    """The steps of an assignment's page; an item the worker voted on (here, or in another HIT
    where it met it too) shows as answered."""
    items = assignment.item_ids()
    votes = Vote.objects.filter(worker_id=assignment.worker_id, item_id__in=items).order_by()
    voted = {v.item_id: _page_answer(v) for v in votes}
    return hit_steps(
        assignment.hit.campaign, assignment.plan, expires=settings.CROWD_ASSIGNMENT_SECONDS,
        assignment=assignment.pk, voted=voted,
    )  # fmt: skip


def _preview_plan(hit: Hit) -> list[dict[str, Any]]:
    ab = hit.campaign.kind == Campaign.Kind.AB
    items = hit.items.order_by("hititem__position").values_list("id", flat=True)
    return [{"item": pk, "a_on_left": True if ab else None} for pk in items]


def preview_steps(hit: Hit) -> list[dict[str, Any]]:
    """What a worker previewing a HIT sees: its items, in order (no gold item, A on the left)."""
    return hit_steps(hit.campaign, _preview_plan(hit), expires=PREVIEW_SECONDS, hit=hit.pk)


def worker_queue(worker: Worker) -> dict[str, Any]:
    """An in-house worker's view of its queue: open campaigns it may work on, HITs still wanting
    workers there, what it has done."""
    from webapp.crowd.assignments import open_hits, worker_current

    campaigns = Campaign.objects.filter(state=Campaign.State.OPEN, provider=Provider.INHOUSE).order_by(
        "created_at"
    )
    rows = [{"campaign": c, "open_hits": open_hits(c, worker).count()} for c in campaigns]
    done = worker.assignments.exclude(state__in=(Assignment.State.ACCEPTED, Assignment.State.EXPIRED))
    return {
        "campaigns": rows,
        "available": sum(r["open_hits"] for r in rows),
        "current": worker_current(worker),
        "assignments_done": done.count(),
        "votes": worker.votes.count(),
    }


def gold_examples(per_reason: int = 1, lifetime: int = 3600) -> list[dict[str, Any]]:
    """Examples for the instructions: right fits and one wrong fit per reason, made the way gold
    items are (synthetic people first), with their pictures."""
    chosen: list[GoldItem] = []
    seen: dict[tuple[str, str], int] = {}
    golds = GoldItem.objects.filter(
        example=True, source=GoldItem.Source.SYNTHETIC, fit__renders__kind="camera",
        fit__renders__status=TaskStatus.DONE,
    )  # fmt: skip
    for gold in golds.order_by("-source", "id").distinct()[:500]:
        key = (gold.answer, gold.reason if gold.answer == GoldItem.Answer.REJECT else "")
        limit = per_reason * (2 if gold.answer == GoldItem.Answer.ACCEPT else 1)
        if seen.get(key, 0) < limit:
            seen[key] = seen.get(key, 0) + 1
            chosen.append(gold)
    pictures = _pictures({g.fit_id for g in chosen}, lifetime)
    chosen.sort(key=lambda g: (g.answer != GoldItem.Answer.ACCEPT, g.reason))
    return [{"gold": g, **pictures.get(g.fit_id, {})} for g in chosen]


# --- staff: campaigns, reviews, workers ---------------------------------------------------------


def campaign_progress(campaign: Campaign) -> dict[str, Any]:
    """Live figures of a campaign: votes in (gold, blocked workers and rejected assignments left
    out), items with all their votes, cost so far (finished assignments at the campaign's reward,
    soft rejects and paid bonuses included; MTurk's fee not), budget left, assignments by state,
    workers, gold accuracy."""
    from collections import Counter

    from django.db.models import Count, F, Q, Sum

    real = Item.objects.filter(campaign=campaign, gold__isnull=True)
    items_total = real.count()
    # Votes that count: not from blocked workers, not from assignments rejected on review.
    counted = Q(votes__worker__blocked=False) & ~Q(votes__assignment__state=Assignment.State.REJECTED)
    votes_in = real.aggregate(n=Count("votes", filter=counted))["n"]
    wanted = items_total * campaign.votes_per_item
    complete = real.annotate(n=Count("votes", filter=counted)).filter(n__gte=campaign.votes_per_item).count()
    gold = Vote.objects.filter(item__campaign=campaign, item__gold__isnull=False)
    gold_seen = gold.count()
    gold_right = gold.filter(answer=F("item__gold__answer")).count()
    assignments = Assignment.objects.filter(hit__campaign=campaign)
    states = Counter(assignments.values_list("state", flat=True))
    # Paid or to be paid: finished assignments, and rejected ones MTurk approved (soft rejects);
    # plus the bonuses paid.
    paid = assignments.filter(
        Q(state__in=(Assignment.State.SUBMITTED, Assignment.State.APPROVED))
        | Q(state=Assignment.State.REJECTED, provider_status="Approved")
    ).count()
    bonuses = assignments.filter(bonus_paid_at__isnull=False).aggregate(c=Sum("bonus_cents"))["c"] or 0
    cost = paid * campaign.reward_cents + bonuses
    return {
        "id": campaign.pk,
        "state": campaign.state,
        "items_total": items_total,
        "items_complete": complete,
        "votes_in": votes_in,
        "votes_wanted": wanted,
        "percent": min(100.0, round(100.0 * votes_in / wanted, 1)) if wanted else 0.0,
        "hits": campaign.hits.count(),
        "assignments": {state: states.get(state, 0) for state in Assignment.State.values},
        "workers": Vote.objects.filter(item__campaign=campaign).values("worker").distinct().count(),
        "gold_votes": gold_seen,
        "gold_accuracy": round(gold_right / gold_seen, 3) if gold_seen else None,
        "cost_cents": cost,
        "budget_cents": campaign.budget_cents,
        "budget_left_cents": campaign.budget_cents - cost if campaign.budget_cents else None,
    }


def _answers_of(campaign: Campaign) -> tuple[str, str]:
    return ("a", "b") if campaign.kind == Campaign.Kind.AB else ("accept", "reject")


def campaign_disagreements(campaign: Campaign, limit: int = 200) -> list[dict[str, Any]]:
    """Items where voters disagreed (both answers given), most split first, with their votes and
    staff picture addresses: the review page."""
    from collections import defaultdict

    first, second = _answers_of(campaign)
    votes: dict[int, list[Vote]] = defaultdict(list)
    for vote in Vote.objects.filter(item__campaign=campaign, item__gold__isnull=True).select_related(
        "worker"
    ):
        votes[vote.item_id].append(vote)
    split = {pk: vs for pk, vs in votes.items() if {v.answer for v in vs} >= {first, second}}
    items = Item.objects.filter(pk__in=split).select_related("fit", "fit__person", "fit__person__image")
    fits = {i.fit_id for i in items} | {i.fit_b_id for i in items if i.fit_b_id}
    pictures: dict[int, dict[str, str]] = {}
    for render in Render.objects.filter(fit_id__in=fits, status=TaskStatus.DONE):
        pictures.setdefault(render.fit_id, {})[render.kind] = media_url(render.file.name)
    rows: list[dict[str, Any]] = []
    for item in items:
        answers = [v.answer for v in split[item.pk]]
        rows.append({
            "item": item,
            "votes": split[item.pk],
            "first": answers.count(first),
            "second": answers.count(second),
            "pictures": pictures.get(item.fit_id, {}),
            "pictures_b": pictures.get(item.fit_b_id, {}) if item.fit_b_id else {},
            "is_gold": GoldItem.objects.filter(fit_id=item.fit_id).exists(),
        })  # fmt: skip
    rows.sort(key=lambda r: (-min(int(r["first"]), int(r["second"])), r["item"].pk))
    return rows[:limit]


def worker_list() -> Any:
    """Every worker with its votes, gold votes and gold answers right (for the workers page)."""
    from django.db.models import Count, F, Q

    gold = Q(votes__item__gold__isnull=False)
    return Worker.objects.annotate(
        n_votes=Count("votes", distinct=True),
        n_gold=Count("votes", filter=gold, distinct=True),
        n_gold_right=Count(
            "votes", filter=gold & Q(votes__answer=F("votes__item__gold__answer")), distinct=True
        ),
        n_assignments=Count("assignments", distinct=True),
    ).order_by("blocked", "-n_votes", "provider_id")


def worker_statistics(worker: Worker) -> dict[str, Any]:
    """A worker's record: votes, gold accuracy, agreement with the majority of the other voters
    of the same items, median time per item, share of accepts (an always-accept worker shows)."""
    from collections import Counter, defaultdict
    from statistics import median

    own = list(Vote.objects.filter(worker=worker).select_related("item__gold"))
    gold = [v for v in own if v.item.gold is not None]
    gold_right = len([v for v in gold if v.item.gold is not None and v.answer == v.item.gold.answer])
    real = [v for v in own if v.item.gold is None]
    others: dict[int, Counter[str]] = defaultdict(Counter)
    for item_id, answer in (
        Vote.objects.filter(item_id__in=[v.item_id for v in real])
        .exclude(worker=worker)
        .values_list("item_id", "answer")
    ):
        others[item_id][answer] += 1
    agree = compared = 0
    for vote in real:
        ranked = others[vote.item_id].most_common()
        if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
            continue  # nobody else voted, or the others are split evenly
        compared += 1
        agree += ranked[0][0] == vote.answer
    validation = [v for v in real if v.answer in ("accept", "reject")]
    return {
        "votes": len(own),
        "gold_votes": len(gold),
        "gold_right": gold_right,
        "gold_accuracy": gold_right / len(gold) if gold else None,
        "agreement": agree / compared if compared else None,
        "agreement_items": compared,
        "median_seconds": median(v.seconds for v in own) if own else None,
        "accept_share": (
            sum(1 for v in validation if v.answer == "accept") / len(validation) if validation else None
        ),
        "assignments": sorted(Counter(worker.assignments.values_list("state", flat=True)).items()),
        "recent": sorted(own, key=lambda v: v.created_at, reverse=True)[:30],
    }


# --- results --------------------------------------------------------------------------------

#: MTurk statuses under which MTurk vouches for an assignment's worker (webapp.crowd.mturk).
MTURK_CONFIRMED = ("Submitted", "Approved")


def counted_votes(campaigns: list[Campaign]) -> list[tuple[int, int, str]]:
    """The raw votes a publication counts, as ``(item, worker, answer)``: the campaigns' items
    (gold left out), from workers not blocked, in assignments not rejected on review, and on MTurk
    only in assignments MTurk has confirmed (its sync saw them submitted or approved)."""
    votes = (
        Vote.objects.filter(item__campaign__in=campaigns, item__gold__isnull=True, worker__blocked=False)
        .exclude(assignment__state=Assignment.State.REJECTED)
        .exclude(
            Q(assignment__hit__campaign__provider=Provider.MTURK)
            & ~Q(assignment__provider_status__in=MTURK_CONFIRMED)
        )
        .order_by("item_id", "worker_id")
        .values_list("item_id", "worker_id", "answer")
    )
    return [(int(i), int(w), str(a)) for i, w, a in votes]


def rejection_by_dataset(campaigns: list[Campaign], votes: Any, need: int) -> list[tuple[str, Any]]:
    """The paper's Table 1 per source dataset of the campaigns' items: ``(dataset name,
    fitting.votes.RejectionRow)``, datasets with no counted vote left out."""
    from fitting import votes as aggregation

    dataset_of = dict(
        Item.objects.filter(campaign__in=campaigns, gold__isnull=True).values_list(
            "id", "fit__person__dataset__name"
        )
    )
    rows = []
    for dataset in sorted(set(dataset_of.values())):
        subset = [v for v in votes if dataset_of.get(v[0]) == dataset]
        if subset:
            rows.append((dataset, aggregation.rejection_table(subset, need=need)))
    return rows


def agreement(votes: Any) -> tuple[float | None, float | None]:
    """(Fleiss' kappa, percent agreement) of the votes; None where it is undefined (no item with
    two votes, or every vote alike)."""
    from fitting import votes as aggregation

    def measure(function: Any) -> float | None:
        try:
            value = float(function(votes))
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    return measure(lambda v: aggregation.fleiss_kappa(v).kappa), measure(aggregation.percent_agreement)


def campaign_results(campaign: Campaign) -> dict[str, Any]:
    """What a campaign's counted votes say (fitting.votes): validation, the paper's Table 1 columns
    per dataset (initial, final, rejection rate, and under 2 of 3) with agreement; A/B, the share
    of items each fit won by majority and the share of all votes, with 95% intervals."""
    from fitting import votes as aggregation

    votes = counted_votes([campaign])
    if not votes:
        return {"votes": 0}
    if campaign.kind == Campaign.Kind.AB:
        ab = aggregation.ab_results(votes)
        return {"votes": len(votes), "kind": "ab", "a": ab.a, "b": ab.b, "ties": ab.ties, "items": ab.n_items}
    kappa, percent = agreement(votes)
    return {
        "votes": len(votes), "kind": "validation", "kappa": kappa, "agreement": percent,
        "rows": rejection_by_dataset([campaign], votes, campaign.votes_per_item),
    }  # fmt: skip
