"""HIT pages: MTurk's ExternalQuestion target (preview, assignment, externalSubmit form), the
in-house queue and assignment page, invitations; framing allowed on HIT pages alone."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webapp.crowd.assignments import hit_key
from webapp.crowd.models import Assignment, Campaign, Invite, Worker
from webapp.crowd.services import invite_create

pytestmark = pytest.mark.django_db
SANDBOX = "https://workersandbox.mturk.com"


def hit_url(campaign: Campaign, index: int = 0, **params: str) -> str:
    hit = campaign.hits.get(index=index)
    query = "&".join(f"{k}={v}" for k, v in {"key": hit_key(hit), **params}.items())
    return f"/hit/{hit.pk}/?{query}"


def page_data(response: Any) -> dict[str, Any]:
    match = re.search(
        r'<script id="hit-data" type="application/json">(.*?)</script>', response.content.decode()
    )
    assert match, "the page carries its items as JSON"
    return dict(json.loads(match.group(1)))


def test_mturk_preview_shows_the_task_with_submit_disabled(open_campaign: Callable[..., Campaign]) -> None:
    campaign = open_campaign(fits=3, items_per_hit=2, provider="inhouse")
    response = Client().get(hit_url(campaign, assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="X"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Preview: accept the HIT to start answering" in page
    assert re.search(r'<button type="submit" class="submit" disabled id="submit-button">', page)
    assert page.count("disabled") >= 3  # both answers and the submit button
    data = page_data(response)
    assert data["mode"] == "preview"
    assert data["token"] == ""
    assert len(data["steps"]) == 2
    # Signed, expiring picture addresses that work without a session (a cross-site frame).
    crop = data["steps"][0]["crop"]
    assert "token=" in crop
    assert "expires=600" in crop
    assert Client().get(crop).status_code == 200
    assert Assignment.objects.count() == 0
    # Only the MTurk worker sites may frame it; Django's DENY is lifted here alone.
    policy = response["Content-Security-Policy"]
    assert f"frame-ancestors 'self' https://www.mturk.com {SANDBOX};" in policy
    assert f"form-action 'self' https://www.mturk.com {SANDBOX};" in policy
    assert "X-Frame-Options" not in response
    assert Client().get("/").headers["X-Frame-Options"] == "DENY"


def test_an_mturk_assignment_page_ends_with_the_external_submit_form(
    open_campaign: Callable[..., Campaign],
) -> None:
    campaign = open_campaign(fits=3, items_per_hit=2)
    params = {"assignmentId": "ASSIGN1", "hitId": "", "workerId": "A1WORKER", "turkSubmitTo": SANDBOX}
    response = Client().get(hit_url(campaign, **params))
    assert response.status_code == 200, response.content
    page = response.content.decode()
    assert f'action="{SANDBOX}/mturk/externalSubmit"' in page
    assert '<input type="hidden" name="assignmentId" value="ASSIGN1">' in page
    assignment = Assignment.objects.get()
    assert (assignment.worker.provider, assignment.worker.provider_id) == ("mturk", "A1WORKER")
    assert assignment.provider_assignment_id == "ASSIGN1"
    data = page_data(response)
    assert data["mode"] == "mturk"
    assert data["token"]
    assert [s["item"] for s in data["steps"]] == assignment.item_ids()
    # A reload is the same assignment; the worker returning the HIT and taking it again brings a
    # new assignment id to the same record.
    assert Client().get(hit_url(campaign, **params)).status_code == 200
    assert Client().get(hit_url(campaign, **{**params, "assignmentId": "ASSIGN2"})).status_code == 200
    assignment = Assignment.objects.get()
    assert assignment.provider_assignment_id == "ASSIGN2"


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"turkSubmitTo": "https://evil.example"}, 400, "is not an MTurk worker site"),
        ({"turkSubmitTo": f"{SANDBOX}/elsewhere"}, 400, "is not an MTurk worker site"),
        ({"turkSubmitTo": ""}, 400, "is not an MTurk worker site"),
        ({"workerId": ""}, 400, "workerId is missing"),
    ],
)
def test_a_bad_mturk_request_gets_no_assignment(
    open_campaign: Callable[..., Campaign], change: dict[str, str], code: int, message: str
) -> None:
    campaign = open_campaign(fits=2, items_per_hit=2)
    params = {"assignmentId": "A", "hitId": "", "workerId": "W", "turkSubmitTo": SANDBOX, **change}
    response = Client().get(hit_url(campaign, **params))
    assert response.status_code == code
    assert message in response.content.decode()
    assert Assignment.objects.count() == 0


def test_hit_pages_cannot_be_found_by_counting(open_campaign: Callable[..., Campaign]) -> None:
    campaign = open_campaign(fits=2, items_per_hit=2)
    hit = campaign.hits.get()
    assert Client().get(f"/hit/{hit.pk}/").status_code == 404
    assert Client().get(f"/hit/{hit.pk}/?key=forged").status_code == 404
    other = open_campaign(fits=2, items_per_hit=2).hits.get()
    assert Client().get(f"/hit/{other.pk}/?key={hit_key(hit)}").status_code == 404
    # A HIT whose MTurk id is known refuses another one.
    hit.provider_hit_id = "3HITID"
    hit.save()
    params = {"assignmentId": "A", "hitId": "OTHER", "workerId": "W", "turkSubmitTo": SANDBOX}
    response = Client().get(hit_url(campaign, **params))
    assert response.status_code == 400
    assert "hitId does not match" in response.content.decode()
    Campaign.objects.filter(pk=campaign.pk).update(state="closed")
    assert Client().get(hit_url(campaign)).status_code == 410


def test_a_blocked_mturk_worker_gets_no_assignment(open_campaign: Callable[..., Campaign]) -> None:
    campaign = open_campaign(fits=2, items_per_hit=2)
    Worker.objects.create(provider="mturk", provider_id="BAD", blocked=True)
    params = {"assignmentId": "A", "hitId": "", "workerId": "BAD", "turkSubmitTo": SANDBOX}
    response = Client().get(hit_url(campaign, **params))
    assert response.status_code == 403
    assert Assignment.objects.count() == 0


def test_an_in_house_worker_works_through_its_queue(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    open_campaign(fits=4, items_per_hit=2)
    worker, client = make_worker("ann")
    queue = client.get("/work/")
    assert queue.status_code == 200
    assert "2 HITs waiting in 1 open campaign" in queue.content.decode()
    started = client.post("/work/")
    assignment = Assignment.objects.get(worker=worker)
    assert started.status_code == 302
    assert started["Location"] == f"/work/assignments/{assignment.pk}/"
    page = client.get(started["Location"])
    assert page.status_code == 200
    data = page_data(page)
    assert data["mode"] == "inhouse"
    assert [s["item"] for s in data["steps"]] == assignment.item_ids()
    assert 'action="/work/"' in page.content.decode()  # "Next HIT" goes back to the queue
    # Another worker cannot open it; signed-out people are sent to the worker sign-in.
    _, other = make_worker("bob")
    assert other.get(f"/work/assignments/{assignment.pk}/").status_code == 404
    signed_out = Client().get(f"/work/assignments/{assignment.pk}/")
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith("/work/sign-in/")
    # The queue page itself is not framable.
    assert queue.headers["X-Frame-Options"] == "DENY"


def test_an_invitation_makes_a_worker_account_without_staff_rights(staff_user: Any) -> None:
    invite = invite_create(note="lab volunteer", created_by=staff_user)
    client = Client()
    page = client.get(f"/work/join/{invite.code}/")
    assert page.status_code == 200
    assert "lab volunteer" in page.content.decode()
    weak = client.post(
        f"/work/join/{invite.code}/",
        {"username": "zoe", "password": "password", "password_again": "password"},
    )
    assert weak.status_code == 200
    assert "too common" in weak.content.decode()
    assert not get_user_model().objects.filter(username="zoe").exists()
    joined = client.post(
        f"/work/join/{invite.code}/",
        {"username": "zoe", "password": "long enough phrase 42", "password_again": "long enough phrase 42"},
    )
    assert joined.status_code == 302
    assert joined["Location"] == "/work/"
    user = get_user_model().objects.get(username="zoe")
    assert not user.is_staff
    assert not user.is_superuser
    assert Worker.objects.get(user=user).provider == "inhouse"
    assert Invite.objects.get(pk=invite.pk).used_by == Worker.objects.get(user=user)
    assert client.get("/work/").status_code == 200  # signed in
    assert client.get("/staff/jobs/").status_code == 302  # but not staff
    # Used once only.
    again = Client().get(f"/work/join/{invite.code}/")
    assert again.status_code == 410
    assert "used already" in again.content.decode()
    assert Client().get("/work/join/made-up-code/").status_code == 410
