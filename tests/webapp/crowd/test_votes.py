"""Votes: only for assignments the app issued, once per worker and item, stored before answered;
forged, replayed, tampered, fuzzed and out-of-order submissions write nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from webapp.core.throttling import WindowRateThrottle
from webapp.crowd.assignments import (
    assignment_next_inhouse,
    assignment_token,
    assignments_expire,
    vote_record,
)
from webapp.crowd.models import Assignment, Campaign, Item, Vote, Worker

pytestmark = pytest.mark.django_db
VOTE_URL = "/api/crowd/votes/"


def post_vote(client: Client, **body: Any) -> Any:
    return client.post(VOTE_URL, data=json.dumps(body), content_type="application/json")


def vote_all(client: Client, assignment: Assignment, answer: str = "accept") -> None:
    token = assignment_token(assignment)
    for step in range(len(assignment.plan)):
        assert post_vote(client, token=token, step=step, answer=answer, seconds=2.5).status_code == 201


def test_an_assignment_is_voted_item_by_item_and_submitted_with_its_last_vote(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    campaign = open_campaign(fits=5, items_per_hit=2)
    worker, _ = make_worker("ann")
    assignment = assignment_next_inhouse(worker)
    assert assignment is not None
    assert assignment.hit.index == 0
    assert sorted(assignment.item_ids()) == sorted(assignment.hit.items.values_list("id", flat=True))
    token = assignment_token(assignment)
    first = assignment.item_ids()[0]
    # A client without cookies or CSRF token (MTurk's frame is cross-site): the token is enough.
    anonymous = Client(enforce_csrf_checks=True)
    answer = post_vote(anonymous, token=token, step=0, answer="accept", seconds=3.25)
    assert answer.status_code == 201, answer.content
    assert answer.json() == {
        "vote": Vote.objects.get().pk,
        "repeated": False,
        "remaining": 1,
        "submitted": False,
    }
    vote = Vote.objects.get()
    assert (vote.worker_id, vote.item_id, vote.answer, vote.seconds, vote.a_on_left) == (
        worker.pk, first, "accept", 3.25, None
    )  # fmt: skip
    # The same submission again (a retried request): the same vote, nothing new written.
    again = post_vote(anonymous, token=token, step=0, answer="accept", seconds=9.0)
    assert again.status_code == 200
    assert again.json()["repeated"] is True
    assert again.json()["vote"] == vote.pk
    assert Vote.objects.count() == 1
    assert Vote.objects.get().seconds == 3.25
    # The last item submits the assignment.
    last = post_vote(anonymous, token=token, step=1, answer="reject", seconds=1.0)
    assert last.status_code == 201
    assert last.json()["submitted"] is True
    assert last.json()["remaining"] == 0
    assignment.refresh_from_db()
    assert assignment.state == "submitted"
    assert assignment.submitted_at is not None
    assert campaign.state == "open"
    # The last vote sent again once the assignment is closed: still answered as itself.
    retried = post_vote(anonymous, token=token, step=1, answer="reject", seconds=1.0)
    assert retried.status_code == 200, retried.content
    assert retried.json() == {
        "vote": last.json()["vote"],
        "repeated": True,
        "remaining": 0,
        "submitted": True,
    }
    assert post_vote(anonymous, token=token, step=1, answer="accept", seconds=1.0).status_code == 409
    assert Vote.objects.count() == 2


def test_forged_tampered_and_fuzzed_votes_write_nothing(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    open_campaign(fits=4, items_per_hit=2, votes_per_item=1)  # ann has HIT 0, bob HIT 1
    ann, _ = make_worker("ann")
    bob, _ = make_worker("bob")
    mine = assignment_next_inhouse(ann)
    other = assignment_next_inhouse(bob)
    assert mine is not None
    assert other is not None
    token = assignment_token(mine)
    item = 0
    client = Client()
    forged = signing.dumps(
        {"a": mine.pk, "w": ann.pk}, key="not the secret key", salt="webapp.crowd.assignment"
    )
    mixed = signing.dumps({"a": other.pk, "w": ann.pk}, salt="webapp.crowd.assignment", compress=True)
    not_mine = 2  # steps 0 and 1 only
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"token": forged, "step": item, "answer": "accept", "seconds": 1}, 403, "not one this app issued"),
        ({"token": token[:-2] + "xx", "step": item, "answer": "accept", "seconds": 1}, 403, "not one"),
        # a genuinely signed token whose assignment belongs to another worker than the one it names
        ({"token": mixed, "step": not_mine, "answer": "accept", "seconds": 1}, 403, "names no assignment"),
        ({"token": token, "step": not_mine, "answer": "accept", "seconds": 1}, 400, "not part of this"),
        ({"token": token, "step": item, "answer": "maybe", "seconds": 1}, 400, "one of ['accept', 'reject']"),
        ({"token": token, "step": item, "answer": "left", "seconds": 1}, 400, "answer must be one of"),
        ({"token": token, "step": "1; DROP TABLE", "answer": "accept", "seconds": 1}, 400, "step:"),
        ({"token": token, "step": item, "answer": "accept", "seconds": -4}, 400, "seconds:"),
        ({"token": token, "step": item, "answer": "accept"}, 400, "seconds: This field is required"),
        ({"step": item, "answer": "accept", "seconds": 1}, 400, "token: This field is required"),
        ({"token": ["a"], "step": [item], "answer": {"x": 1}, "seconds": "NaN"}, 400, "step:"),
        ({"token": token, "step": -1, "answer": "accept", "seconds": 1}, 400, "step:"),
    ]  # fmt: skip
    for body, code, message in cases:
        response = post_vote(client, **body)
        assert response.status_code == code, (body, response.content)
        assert message in response.json()["detail"], (body, response.json())
    assert client.post(VOTE_URL, data="{not json", content_type="application/json").status_code == 400
    assert client.get(VOTE_URL).status_code == 405
    assert Vote.objects.count() == 0
    assert set(Assignment.objects.values_list("state", flat=True)) == {"accepted"}


def test_a_vote_is_never_changed_and_a_worker_never_votes_twice_on_an_item(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    open_campaign(fits=4, items_per_hit=2)
    ann, _ = make_worker("ann")
    assignment = assignment_next_inhouse(ann)
    assert assignment is not None
    token = assignment_token(assignment)
    item = assignment.item_ids()[0]
    client = Client()
    assert post_vote(client, token=token, step=0, answer="accept", seconds=1).status_code == 201
    changed = post_vote(client, token=token, step=0, answer="reject", seconds=1)
    assert changed.status_code == 409
    assert changed.json() == {
        "detail": "this item already has this worker's vote: a vote is never changed", "settled": True,
    }  # fmt: skip
    # The same item in another assignment of the same worker (as a gold item can meet it twice):
    # its one vote stands for both; another answer is refused; no second vote either way.
    second = assignment.hit.campaign.hits.exclude(pk=assignment.hit_id).first()
    assert second is not None
    later = Assignment.objects.create(
        hit=second, worker=ann, plan=[{"item": item, "a_on_left": None}],
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    same = post_vote(client, token=assignment_token(later), step=0, answer="accept", seconds=1)
    assert same.status_code == 200
    assert same.json()["repeated"] is True
    assert same.json()["submitted"] is True  # its only item has the worker's vote
    other = post_vote(client, token=assignment_token(later), step=0, answer="reject", seconds=1)
    assert other.status_code == 409
    assert Vote.objects.filter(worker=ann).count() == 1


def test_votes_out_of_order_are_refused(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any], settings: Any
) -> None:
    campaign = open_campaign(fits=4, items_per_hit=2)
    ann, _ = make_worker("ann")
    client = Client()
    assignment = assignment_next_inhouse(ann)
    assert assignment is not None
    first, second = 0, 1
    token = assignment_token(assignment)
    # After the assignment's time: expired, its place given back, its votes refused.
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post_vote(client, token=token, step=first, answer="accept", seconds=1)
    assert response.status_code == 409
    assert "past its time" in response.json()["detail"]
    assert assignments_expire() == 1
    assert Assignment.objects.get(pk=assignment.pk).state == "expired"
    # A token older than the assignment's lifetime is refused whatever the row says.
    Assignment.objects.filter(pk=assignment.pk).update(
        state="accepted", expires_at=timezone.now() + timedelta(hours=1)
    )
    settings.CROWD_ASSIGNMENT_SECONDS = -301
    response = post_vote(client, token=token, step=first, answer="accept", seconds=1)
    assert response.status_code == 403
    assert "time is over" in response.json()["detail"]
    settings.CROWD_ASSIGNMENT_SECONDS = 3600
    # A closed campaign takes no vote.
    Campaign.objects.filter(pk=campaign.pk).update(state="closed")
    response = post_vote(client, token=token, step=first, answer="accept", seconds=1)
    assert response.status_code == 409
    assert "the campaign is closed" in response.json()["detail"]
    Campaign.objects.filter(pk=campaign.pk).update(state="open")
    # A blocked worker's votes are refused.
    Worker.objects.filter(pk=ann.pk).update(blocked=True, block_reason="test")
    response = post_vote(client, token=token, step=first, answer="accept", seconds=1)
    assert response.status_code == 403
    assert "blocked" in response.json()["detail"]
    Worker.objects.filter(pk=ann.pk).update(blocked=False)
    # A submitted assignment takes no new vote (a replay of a stored one is still the same vote).
    vote_all(client, assignment)
    assert Assignment.objects.get(pk=assignment.pk).state == "submitted"
    replay = post_vote(client, token=token, step=second, answer="accept", seconds=1)
    assert replay.status_code == 200
    assert replay.json() == {
        "vote": Vote.objects.get(item_id=assignment.item_ids()[second]).pk,
        "repeated": True,
        "remaining": 0,
        "submitted": True,
    }
    assert Vote.objects.count() == 2


def test_three_workers_take_a_hit_then_it_is_full(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    campaign = open_campaign(fits=4, items_per_hit=2, votes_per_item=3)  # 2 HITs
    client = Client()
    workers = [make_worker(name)[0] for name in ("ann", "bob", "cat", "dan")]
    taken = []
    for worker in workers[:3]:
        assignment = assignment_next_inhouse(worker)
        assert assignment is not None
        taken.append(assignment.hit.index)
        # Asking again while it is unfinished gives the same assignment back.
        assert assignment_next_inhouse(worker) == assignment
        vote_all(client, assignment)
    assert taken == [0, 0, 0]
    fourth = assignment_next_inhouse(workers[3])
    assert fourth is not None
    assert fourth.hit.index == 1
    # Ann has done HIT 0: her next is HIT 1; after it, nothing is left for her.
    ann_next = assignment_next_inhouse(workers[0])
    assert ann_next is not None
    assert ann_next.hit.index == 1
    vote_all(client, ann_next)
    assert assignment_next_inhouse(workers[0]) is None
    # An expired assignment gives its place back.
    Assignment.objects.filter(pk=fourth.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assignments_expire()
    bob_next = assignment_next_inhouse(workers[1])
    assert bob_next is not None
    assert bob_next.hit.index == 1
    assert campaign.hits.get(index=1).assignments.filter(state="accepted").count() == 1


def test_a_hit_is_handed_out_only_once_its_pictures_are_drawn(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    from webapp.fits.models import Render

    campaign = open_campaign(fits=4, items_per_hit=2)
    first_hit = campaign.hits.get(index=0)
    Render.objects.filter(fit__crowd_items__hits=first_hit, kind="side").update(status="queued")
    ann, _ = make_worker("ann")
    assignment = assignment_next_inhouse(ann)
    assert assignment is not None
    assert assignment.hit.index == 1


def test_gold_items_are_mixed_in_and_strikes_block_a_worker(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any], settings: Any
) -> None:
    settings.CROWD_GOLD_STRIKES = 2
    settings.CROWD_GOLD_MIN_ACCURACY = 0.75
    settings.CROWD_GOLD_EARLY_ASSIGNMENTS = 1
    campaign = open_campaign(fits=8, items_per_hit=4, gold=6, gold_rate=0.2)
    gold_items = set(Item.objects.filter(campaign=campaign, gold__isnull=False).values_list("id", flat=True))
    assert len(gold_items) == 6
    assert not campaign.hits.filter(items__in=gold_items).exists()  # gold lives outside the HITs
    ann, _ = make_worker("ann")
    first = assignment_next_inhouse(ann)
    assert first is not None
    # First assignment: twice the rate (0.4): 4 real items and round(4 * 0.4 / 0.6) = 3 gold.
    assert len(set(first.item_ids()) & gold_items) == 3
    assert len(first.plan) == 7
    # The server's plan says which items are gold (votes on the others skip the gold look-up).
    assert {step["item"] for step in first.plan if step["gold"]} == set(first.item_ids()) & gold_items
    client = Client()
    token = assignment_token(first)
    for step, item in enumerate(first.item_ids()):
        answer = "accept"
        if item in gold_items:
            answer = "reject" if Item.objects.get(pk=item).gold.answer == "accept" else "accept"  # type: ignore[union-attr]
        post_vote(client, token=token, step=step, answer=answer, seconds=1)
    ann.refresh_from_db()
    assert ann.blocked
    assert ann.block_reason == "2 wrong answers on 2 gold items (accuracy 0%)"
    # Blocked: no new assignment; the vote that blocked it is kept, later ones refused.
    assert assignment_next_inhouse(ann) is None
    assert Vote.objects.filter(worker=ann).count() < len(first.plan)
    # A careful worker sees gold it has not seen, at the normal rate after its first assignment.
    bob, _ = make_worker("bob")
    seen: set[int] = set()
    for _ in range(2):
        assignment = assignment_next_inhouse(bob)
        assert assignment is not None
        gold_here = set(assignment.item_ids()) & gold_items
        assert not gold_here & seen
        seen |= gold_here
        token = assignment_token(assignment)
        for step, item in enumerate(assignment.item_ids()):
            gold = Item.objects.get(pk=item).gold
            post_vote(client, token=token, step=step, answer=gold.answer if gold else "accept", seconds=1)
    bob.refresh_from_db()
    assert not bob.blocked
    assert len(seen) == 3 + 1  # 3 at twice the rate, then round(4 * 0.2 / 0.8) = 1
    # An assignment made before plans said which items are gold: its gold is still checked.
    cat, _ = make_worker("cat")
    old = assignment_next_inhouse(cat)
    assert old is not None
    old.plan = [{"item": step["item"], "a_on_left": step["a_on_left"]} for step in old.plan]
    old.save(update_fields=["plan"])
    token = assignment_token(old)
    for step, item in enumerate(old.item_ids()):
        gold = Item.objects.get(pk=item).gold
        wrong = "reject" if gold and gold.answer == "accept" else "accept"
        post_vote(client, token=token, step=step, answer=wrong if gold else "accept", seconds=1)
    cat.refresh_from_db()
    assert cat.blocked


def test_the_vote_endpoint_is_rate_limited(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WindowRateThrottle, "THROTTLE_RATES", {"crowd-vote": "3/min"})
    monkeypatch.setattr(WindowRateThrottle, "timer", staticmethod(lambda: 6000.0))  # one window
    open_campaign(fits=2, items_per_hit=2)
    ann, _ = make_worker("ann")
    assignment = assignment_next_inhouse(ann)
    assert assignment is not None
    token = assignment_token(assignment)
    client = Client()
    codes = [post_vote(client, token=token, step=0, answer="accept", seconds=1).status_code for _ in range(5)]
    assert codes == [201, 200, 200, 429, 429]
    assert Vote.objects.count() == 1
    # A made-up X-Forwarded-For header on each request is no way round it.
    spoofed = [
        client.post(
            VOTE_URL, data=json.dumps({"token": token, "step": 0, "answer": "accept", "seconds": 1}),
            content_type="application/json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        ).status_code
        for n in range(3)
    ]  # fmt: skip
    assert spoofed == [429, 429, 429]


def test_behind_a_proxy_the_client_is_the_address_the_proxy_saw(settings: Any) -> None:
    from django.test import RequestFactory

    from webapp.core.auth import _client

    settings.USE_X_FORWARDED_FOR = True
    settings.TRUSTED_PROXIES = 1
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.1")
    assert _client(request) == "203.0.113.9"  # the proxy's entry, not the client's claim
    settings.TRUSTED_PROXIES = 2
    assert _client(request) == "6.6.6.6"


def test_vote_record_refuses_a_token_of_another_salt(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    from webapp.core.media import media_url
    from webapp.crowd.assignments import RefusedError

    open_campaign(fits=2, items_per_hit=2)
    ann, _ = make_worker("ann")
    assignment = assignment_next_inhouse(ann)
    assert assignment is not None
    picture_token = media_url("x.jpg", expires=60).split("token=")[1].split("&")[0]
    with pytest.raises(RefusedError, match="not one this app issued"):
        vote_record(token=picture_token, step=0, answer="accept", seconds=1)


def test_fuzzed_vote_bodies_never_fail_the_server_nor_write(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    monkeypatch.setattr(WindowRateThrottle, "THROTTLE_RATES", {"crowd-vote": "100000/min"})
    open_campaign(fits=2, items_per_hit=2)
    ann, _ = make_worker("ann")
    assignment = assignment_next_inhouse(ann)
    assert assignment is not None
    token = assignment_token(assignment)
    rng = random.Random(17)
    values: list[Any] = [
        None, True, 0, -1, 2**70, 1.5, float("1e308"), "", "x" * 5000, "accept", "reject", "left", [], {},
        [1], {"$gt": ""}, "\x00", "' OR 1=1 --", token, token + "x", token.upper(), 0, 1, 2,
    ]  # fmt: skip
    client = Client()
    for _ in range(300):
        body = {
            key: rng.choice(values) for key in ("token", "step", "answer", "seconds") if rng.random() < 0.9
        }
        if body.get("token") == token and body.get("step") in (0, 1):
            body["answer"] = "maybe"  # a valid vote is not the point here
        raw = json.dumps(body) if rng.random() < 0.9 else json.dumps(body)[: rng.randrange(1, 40)]
        response = client.post(VOTE_URL, data=raw, content_type="application/json")
        assert response.status_code in (400, 403, 409), (body, response.status_code, response.content[:200])
    assert Vote.objects.count() == 0


def test_the_periodic_task_marks_expired_assignments(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    from tasks.crowd import expire_assignments_task

    open_campaign(fits=2, items_per_hit=2)
    ann, _ = make_worker("ann")
    assignment = assignment_next_inhouse(ann)
    assert assignment is not None
    assert expire_assignments_task.delay().get() == 0
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_assignments_task.delay().get() == 1
    assert Assignment.objects.get(pk=assignment.pk).state == "expired"


def test_a_blocked_worker_gives_its_places_back(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    from webapp.crowd.assignments import worker_block
    from webapp.crowd.selectors import campaign_progress

    campaign = open_campaign(fits=2, items_per_hit=2, votes_per_item=2)  # one HIT, two places
    ann, bob, cat = (make_worker(n)[0] for n in ("ann", "bob", "cat"))
    client = Client()
    for worker in (ann, bob):
        assignment = assignment_next_inhouse(worker)
        assert assignment is not None
        vote_all(client, assignment)
    assert assignment_next_inhouse(cat) is None  # full
    assert campaign_progress(campaign)["items_complete"] == 2
    worker_block(bob, "spam")
    # Bob's votes no longer count and his place is free again.
    progress = campaign_progress(campaign)
    assert (progress["items_complete"], progress["votes_in"]) == (0, 2)
    again = assignment_next_inhouse(cat)
    assert again is not None
    assert again.hit.index == 0
    assert Vote.objects.filter(worker=bob).count() == 2  # raw votes stay
