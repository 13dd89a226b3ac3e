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
