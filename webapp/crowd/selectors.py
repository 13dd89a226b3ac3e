"""Reads of the crowd app: what a HIT page shows, a worker's queue."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from webapp.core.media import media_url
from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import Assignment, Campaign, GoldItem, Hit, Item, Provider, Vote, Worker
from webapp.fits.models import Render

#: Lifetime of the picture addresses of a HIT preview (no assignment yet).
PREVIEW_SECONDS = 600


def _pictures(fit_ids: set[int], expires: int) -> dict[int, dict[str, str]]:
    """Signed, expiring addresses of the fits' done renders, by fit and kind."""
    pictures: dict[int, dict[str, str]] = {}
    for fit_id, kind, name in Render.objects.filter(fit_id__in=fit_ids, status=TaskStatus.DONE).values_list(
        "fit_id", "kind", "file"
    ):
        pictures.setdefault(fit_id, {})[kind] = media_url(name, expires=expires)
    return pictures


def hit_steps(
    campaign: Campaign, plan: list[dict[str, Any]], *, expires: int, voted: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """The items of a HIT page in the plan's order, with their pictures: for validation the crop,
    the camera view and the side view; for A/B the crop and each side's two views (fit A on the
    left where the plan says so). ``voted``: the answers already given (a reload resumes)."""
    items = {item.pk: item for item in Item.objects.filter(pk__in=[int(s["item"]) for s in plan])}
    fit_ids = {i.fit_id for i in items.values()} | {i.fit_b_id for i in items.values() if i.fit_b_id}
    pictures = _pictures(fit_ids, expires)
    voted = voted or {}
    steps = []
    for number, step in enumerate(plan, start=1):
        item = items[int(step["item"])]
        views = pictures.get(item.fit_id, {})
        row: dict[str, Any] = {"item": item.pk, "number": number, "crop": views.get("crop", "")}
        if campaign.kind == Campaign.Kind.AB and item.fit_b_id is not None:
            a_views, b_views = views, pictures.get(item.fit_b_id, {})
            left, right = (a_views, b_views) if step.get("a_on_left") else (b_views, a_views)
            row["left"] = {"camera": left.get("camera", ""), "side": left.get("side", "")}
            row["right"] = {"camera": right.get("camera", ""), "side": right.get("side", "")}
        else:
            row["camera"], row["side"] = views.get("camera", ""), views.get("side", "")
        row["voted"] = voted.get(item.pk, "")
        steps.append(row)
    return steps


def _page_answer(vote: Vote) -> str:
    """A stored vote as the page's own word (A/B: the side the worker chose)."""
    if vote.answer in (Vote.Answer.A, Vote.Answer.B):
        return "left" if (vote.answer == Vote.Answer.A) == bool(vote.a_on_left) else "right"
    return str(vote.answer)


def assignment_steps(assignment: Assignment) -> list[dict[str, Any]]:
    voted = {v.item_id: _page_answer(v) for v in assignment.votes.all()}
    return hit_steps(
        assignment.hit.campaign, assignment.plan, expires=settings.CROWD_ASSIGNMENT_SECONDS, voted=voted
    )


def preview_steps(hit: Hit) -> list[dict[str, Any]]:
    """What a worker previewing a HIT sees: its items, in order (no gold item, A on the left)."""
    plan = [
        {"item": pk, "a_on_left": True if hit.campaign.kind == Campaign.Kind.AB else None}
        for pk in hit.items.order_by("hititem__position").values_list("id", flat=True)
    ]
    return hit_steps(hit.campaign, plan, expires=PREVIEW_SECONDS)


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
    golds = GoldItem.objects.filter(fit__renders__kind="camera", fit__renders__status=TaskStatus.DONE)
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
    """Live figures of a campaign: votes in (gold left out), items with all their votes, cost so
    far (finished assignments at the campaign's reward; MTurk's fee not included), budget left,
    assignments by state, workers, gold accuracy."""
    from collections import Counter

    from django.db.models import Count, F

    real = Item.objects.filter(campaign=campaign, gold__isnull=True)
    items_total = real.count()
    votes_in = Vote.objects.filter(item__campaign=campaign, item__gold__isnull=True).count()
    wanted = items_total * campaign.votes_per_item
    complete = real.annotate(n=Count("votes")).filter(n__gte=campaign.votes_per_item).count()
    gold = Vote.objects.filter(item__campaign=campaign, item__gold__isnull=False)
    gold_seen = gold.count()
    gold_right = gold.filter(answer=F("item__gold__answer")).count()
    states = Counter(Assignment.objects.filter(hit__campaign=campaign).values_list("state", flat=True))
    finished = states[Assignment.State.SUBMITTED] + states[Assignment.State.APPROVED]
    cost = finished * campaign.reward_cents
    return {
        "id": campaign.pk,
        "state": campaign.state,
        "items_total": items_total,
        "items_complete": complete,
        "votes_in": votes_in,
        "votes_wanted": wanted,
        "percent": round(100.0 * votes_in / wanted, 1) if wanted else 0.0,
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
