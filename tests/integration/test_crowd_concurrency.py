"""The vote endpoint and the in-house queue under concurrent requests, on PostgreSQL: the same
vote sent at once from many connections is stored once; conflicting answers leave one; workers
racing for the last places of a HIT get exactly ``votes_per_item`` of them."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tests.factories import done_fit_job
from webapp.core.throttling import WindowRateThrottle
from webapp.crowd.assignments import assignment_next_inhouse, assignment_token
from webapp.crowd.models import Assignment, Campaign, Vote
from webapp.crowd.services import campaign_create_validation, campaign_open, worker_for_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WindowRateThrottle, "THROTTLE_RATES", {"crowd-vote": "10000/min"})


def _campaign(media: Path, fits: int, **options: Any) -> Campaign:
    job = done_fit_job(fits)
    return campaign_open(campaign_create_validation(name="race", job=job, gold_rate=0.0, **options))


def _together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment; each thread has its own
    database connection (closed at its end)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # reported to the test, never lost in a thread
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _worker(name: str) -> Any:
    user = get_user_model().objects.create_user(username=name, password="a-long-passphrase-1")
    return worker_for_user(user)


def _post(body: dict[str, Any]) -> int:
    response = Client().post("/api/crowd/votes/", json.dumps(body), content_type="application/json")
    return int(response.status_code)


def test_the_same_vote_sent_at_once_is_stored_once(integration_services: None, media: Path) -> None:
    assert connection.vendor == "postgresql"
    _campaign(media, 2, items_per_hit=2)
    assignment = assignment_next_inhouse(_worker("ann"))
    assert assignment is not None
    body = {
        "token": assignment_token(assignment),
        "step": 0,
        "answer": "accept",
        "seconds": 1,
    }
    codes = _together(8, lambda _: _post(body))
    assert not [c for c in codes if isinstance(c, Exception)], codes
    assert Counter(codes) == {201: 1, 200: 7}
    assert Vote.objects.count() == 1


def test_conflicting_answers_at_once_leave_one_vote(integration_services: None, media: Path) -> None:
    _campaign(media, 2, items_per_hit=2)
    assignment = assignment_next_inhouse(_worker("bob"))
    assert assignment is not None
    token = assignment_token(assignment)
    codes = _together(
        8,
        lambda i: _post({"token": token, "step": 0, "answer": "accept" if i % 2 else "reject", "seconds": 1}),
    )
    assert not [c for c in codes if isinstance(c, Exception)], codes
    assert Vote.objects.count() == 1
    # One stored; the 3 others with its answer are "the same vote", the 4 with the other answer
    # are refused ("a vote is never changed").
    assert Counter(codes) == {201: 1, 200: 3, 409: 4}


def test_workers_racing_for_a_hit_get_exactly_its_places(integration_services: None, media: Path) -> None:
    campaign = _campaign(media, 2, items_per_hit=2, votes_per_item=3)  # one HIT, three places
    workers = [_worker(f"w{i}") for i in range(8)]
    got = _together(8, lambda i: assignment_next_inhouse(workers[i]))
    assert not [g for g in got if isinstance(g, Exception)], got
    taken = [g for g in got if g is not None]
    assert len(taken) == 3
    assert Assignment.objects.filter(hit__campaign=campaign).count() == 3
    assert len({a.worker_id for a in taken}) == 3
