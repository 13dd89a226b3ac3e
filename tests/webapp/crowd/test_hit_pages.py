"""HIT pages: MTurk's ExternalQuestion target (preview, assignment, externalSubmit form), the
in-house queue and assignment page, invitations; framing allowed on HIT pages alone."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from webapp.crowd.assignments import hit_key
from webapp.crowd.models import Assignment, Campaign, Invite, Worker
from webapp.crowd.services import invite_create

pytestmark = pytest.mark.django_db
SANDBOX = "https://workersandbox.mturk.com"


def hit_url(campaign: Campaign, index: int = 0, **params: str) -> str:
    """The HIT's ExternalURL with what MTurk appends (``hitId`` is the HIT's own unless given)."""
    hit = campaign.hits.get(index=index)
    params = {"key": hit_key(hit), "hitId": hit.provider_hit_id, **params}
    return f"/hit/{hit.pk}/?" + "&".join(f"{k}={v}" for k, v in params.items())


def page_data(response: Any) -> dict[str, Any]:
    match = re.search(
        r'<script id="hit-data" type="application/json">(.*?)</script>', response.content.decode()
    )
    assert match, "the page carries its items as JSON"
    return dict(json.loads(match.group(1)))


def test_mturk_preview_shows_the_task_with_submit_disabled(
    mturk_campaign_live: Callable[..., Campaign], settings: Any
) -> None:
    campaign = mturk_campaign_live(fits=3, items_per_hit=2)
    response = Client().get(hit_url(campaign, assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Preview: accept the HIT to start answering" in page
    assert re.search(r'<button type="submit" class="submit" disabled id="submit-button">', page)
    assert page.count("disabled") >= 3  # both answers and the submit button
    data = page_data(response)
    assert data["mode"] == "preview"
    assert data["token"] == ""
    assert len(data["steps"]) == 2
    # Opaque, signed, expiring picture addresses that work without a session (a cross-site
    # frame) and name no file, job or fit.
    crop = data["steps"][0]["views"]["crop"]
    assert crop.startswith("/hit/pictures/")
    assert "datasets" not in crop
    assert "renders" not in crop
    picture = Client().get(crop)
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/jpeg"
    assert Client().get(crop[:-3] + "xx/").status_code == 403
    settings.CROWD_ASSIGNMENT_SECONDS = 60
    assert "item" not in data["steps"][0]
    assert Assignment.objects.count() == 0
    # Only the MTurk worker sites may frame it; Django's DENY is lifted here alone.
    policy = response["Content-Security-Policy"]
    assert f"frame-ancestors 'self' https://www.mturk.com {SANDBOX};" in policy
    assert f"form-action 'self' https://www.mturk.com {SANDBOX};" in policy
    assert "X-Frame-Options" not in response
    assert Client().get("/").headers["X-Frame-Options"] == "DENY"


def test_an_mturk_assignment_page_ends_with_the_external_submit_form(
    mturk_campaign_live: Callable[..., Campaign],
) -> None:
    campaign = mturk_campaign_live(fits=3, items_per_hit=2)
    params = {"assignmentId": "ASSIGN1", "workerId": "A1WORKER", "turkSubmitTo": SANDBOX}
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
    assert [s["step"] for s in data["steps"]] == list(range(len(assignment.plan)))
    # A reload is the same assignment. Another assignment id for the same worker and HIT is
    # refused while the first is open (an id typed into the address takes nothing over); once
    # it has expired (the worker returned the HIT and accepted it again), it takes the record
    # over, and the old page's token stops working.
    assert Client().get(hit_url(campaign, **params)).status_code == 200
    taken = Client().get(hit_url(campaign, **{**params, "assignmentId": "ASSIGN2"}))
    assert taken.status_code == 409
    assert "holds another assignment of this HIT" in taken.content.decode()
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now())
    assert Client().get(hit_url(campaign, **{**params, "assignmentId": "ASSIGN2"})).status_code == 200
    assignment = Assignment.objects.get()
    assert assignment.provider_assignment_id == "ASSIGN2"
    body = {"token": data["token"], "step": 0, "answer": "accept", "seconds": 1}
    old = Client().post("/api/crowd/votes/", json.dumps(body), content_type="application/json")
    assert old.status_code == 403


def test_an_mturk_hit_takes_no_more_workers_than_its_places(
    mturk_campaign_live: Callable[..., Campaign],
) -> None:
    campaign = mturk_campaign_live(fits=2, items_per_hit=2, votes_per_item=2)
    codes = [
        Client()
        .get(hit_url(campaign, assignmentId=f"A{n}", workerId=f"W{n}", turkSubmitTo=SANDBOX))
        .status_code
        for n in range(3)
    ]
    assert codes == [200, 200, 409]
    assert Assignment.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"turkSubmitTo": "https://evil.example"}, 400, "is not an MTurk worker site"),
        ({"turkSubmitTo": f"{SANDBOX}/elsewhere"}, 400, "is not an MTurk worker site"),
        ({"turkSubmitTo": ""}, 400, "is not an MTurk worker site"),
        ({"turkSubmitTo": "https://[x"}, 400, "is not an MTurk worker site"),
        ({"workerId": ""}, 400, "workerId is missing"),
        ({"workerId": "w" * 65}, 400, "workerId is not an MTurk id"),
        ({"workerId": "BAD\x00ID"}, 400, "workerId is not an MTurk id"),
        ({"assignmentId": "A" * 65}, 400, "assignmentId is not an MTurk id"),
        ({"assignmentId": "a<script>"}, 400, "assignmentId is not an MTurk id"),
        ({"hitId": "OTHER"}, 400, "hitId does not match this HIT"),
        ({"hitId": ""}, 400, "hitId does not match this HIT"),
    ],
)
def test_a_bad_mturk_request_gets_no_assignment(
    mturk_campaign_live: Callable[..., Campaign], change: dict[str, str], code: int, message: str
) -> None:
    campaign = mturk_campaign_live(fits=2, items_per_hit=2)
    params = {"assignmentId": "A", "workerId": "W", "turkSubmitTo": SANDBOX, **change}
    response = Client().get(hit_url(campaign, **{k: quote(v) for k, v in params.items()}))
    assert response.status_code == code
    assert message in response.content.decode()
    assert Assignment.objects.count() == 0


def test_hit_pages_cannot_be_found_by_counting(
    mturk_campaign_live: Callable[..., Campaign], open_campaign: Callable[..., Campaign]
) -> None:
    campaign = mturk_campaign_live(fits=2, items_per_hit=2)
    hit = campaign.hits.get()
    assert Client().get(f"/hit/{hit.pk}/").status_code == 404
    assert Client().get(f"/hit/{hit.pk}/?key=forged").status_code == 404
    other = mturk_campaign_live(fits=2, items_per_hit=2).hits.get()
    assert Client().get(f"/hit/{other.pk}/?key={hit_key(hit)}").status_code == 404
    # In-house HITs are worked from the queue only.
    inhouse = open_campaign(fits=2, items_per_hit=2).hits.get()
    assert Client().get(f"/hit/{inhouse.pk}/?key={hit_key(inhouse)}").status_code == 404
    Campaign.objects.filter(pk=campaign.pk).update(state="closed")
    assert Client().get(hit_url(campaign)).status_code == 410


def test_a_blocked_mturk_worker_gets_no_assignment(mturk_campaign_live: Callable[..., Campaign]) -> None:
    campaign = mturk_campaign_live(fits=2, items_per_hit=2)
    Worker.objects.create(provider="mturk", provider_id="BAD", blocked=True)
    params = {"assignmentId": "A", "workerId": "BAD", "turkSubmitTo": SANDBOX}
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
    assert [s["step"] for s in data["steps"]] == list(range(len(assignment.plan)))
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
