"""Staff pages of crowd work: campaigns made and opened from a page, live progress (votes, items
complete, cost, budget), the review of disagreements with gold marking, worker statistics,
blocking and invitations; none of it open to workers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from webapp.crowd.assignments import assignment_next_inhouse, assignment_token
from webapp.crowd.models import Campaign, GoldItem, Invite, Item, Vote, Worker
from webapp.crowd.selectors import campaign_progress, worker_statistics
from webapp.fits.models import FitJob

pytestmark = pytest.mark.django_db


def _vote(worker: Worker, answers: dict[int, str] | Callable[[int], str]) -> None:
    assignment = assignment_next_inhouse(worker)
    assert assignment is not None
    token = assignment_token(assignment)
    for step, item in enumerate(assignment.item_ids()):
        answer = answers(item) if callable(answers) else answers[item]
        body = {"token": token, "step": step, "answer": answer, "seconds": 2.0}
        response = Client().post("/api/crowd/votes/", json.dumps(body), content_type="application/json")
        assert response.status_code == 201


def test_a_campaign_is_made_and_opened_from_its_page(
    staff_client: Client, fit_job_with_fits: Callable[..., FitJob]
) -> None:
    job = fit_job_with_fits(5, failing=1)
    page = staff_client.get("/staff/campaigns/")
    assert page.status_code == 200
    assert "No campaign yet" in page.content.decode()
    made = staff_client.post("/staff/campaigns/", {
        "name": "first look", "kind": "validation", "job": job.pk, "selection": "sanity", "votes_per_item": 3,
        "items_per_hit": 2, "reward_cents": 10, "gold_rate": 0.1, "provider": "inhouse", "budget_cents": 500,
    })  # fmt: skip
    campaign = Campaign.objects.get(name="first look")
    assert made.status_code == 302
    assert made["Location"] == f"/staff/campaigns/{campaign.pk}/"
    assert campaign.items.count() == 4  # the failing fit left out
    assert campaign.state == "draft"
    detail = staff_client.get(made["Location"]).content.decode()
    assert "Open to workers" in detail
    assert staff_client.post(f"/staff/campaigns/{campaign.pk}/open/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "open"
    # A bad request says what is wrong and makes nothing.
    bad = staff_client.post("/staff/campaigns/", {
        "name": "ab without b", "kind": "ab", "job": job.pk, "selection": "all", "votes_per_item": 3,
        "items_per_hit": 2, "reward_cents": 10, "gold_rate": 0.1, "provider": "inhouse", "budget_cents": 0,
    })  # fmt: skip
    assert bad.status_code == 200
    assert "an A/B campaign needs job B" in bad.content.decode()
    assert Campaign.objects.count() == 1


def test_progress_review_and_worker_statistics(
    staff_client: Client, open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    campaign = open_campaign(fits=4, items_per_hit=4, votes_per_item=3, reward_cents=25, budget_cents=1000)
    ann, bob, cat = (make_worker(n)[0] for n in ("ann", "bob", "cat"))
    items = sorted(campaign.items.filter(gold__isnull=True).values_list("id", flat=True))
    disputed = items[0]
    _vote(ann, lambda item: "accept")
    _vote(bob, lambda item: "accept")
    _vote(cat, lambda item: "reject" if item == disputed else "accept")
    progress = campaign_progress(campaign)
    assert progress["votes_in"] == 12
    assert progress["votes_wanted"] == 12
    assert progress["percent"] == 100.0
    assert progress["items_complete"] == 4
    assert progress["cost_cents"] == 3 * 25
    assert progress["budget_left_cents"] == 1000 - 75
    assert progress["workers"] == 3
    detail = staff_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    assert '<td id="p-assignments">submitted 3</td>' in detail
    # The paper's Table 1 columns: 4 judged, 3 accepted by all three, 25% rejected; 0% under 2 of 3.
    dataset = campaign.job.dataset.name
    assert f"<tr><td>{dataset}</td><td>4</td><td>3</td><td>25%</td><td>0%</td><td>0</td></tr>" in detail
    assert '75</span>¢; budget left <span id="p-budget">925</span>¢ of 1000¢' in detail
    api = staff_client.get(f"/api/crowd/campaigns/{campaign.pk}/").json()
    assert api["items_complete"] == 4
    assert api["assignments"]["submitted"] == 3
    # The review page lists the one item voters disagreed on.
    review = staff_client.get(f"/staff/campaigns/{campaign.pk}/review/").content.decode()
    assert review.count('class="review-item"') == 1
    assert f'data-item="{disputed}"' in review
    assert "accept 2 · reject 1" in review
    # ... and can make it gold, once.
    item = Item.objects.get(pk=disputed)
    marked = staff_client.post(
        f"/staff/campaigns/{campaign.pk}/review/",
        {"item": disputed, "answer": "accept", "reason": "checked by hand"},
    )
    assert marked.status_code == 302
    gold = GoldItem.objects.get(fit=item.fit)
    assert (gold.source, gold.answer, gold.reason) == ("reviewed", "accept", "checked by hand")
    staff_client.post(
        f"/staff/campaigns/{campaign.pk}/review/", {"item": disputed, "answer": "reject", "reason": "x"}
    )
    assert GoldItem.objects.get(fit=item.fit).answer == "accept"
    # Cat disagreed with the majority once in four items.
    stats = worker_statistics(cat)
    assert stats["votes"] == 4
    assert stats["agreement"] == 0.75
    assert stats["agreement_items"] == 4
    assert stats["accept_share"] == 0.75
    assert stats["median_seconds"] == 2.0
    page = staff_client.get(f"/staff/workers/{cat.pk}/").content.decode()
    assert "75% of 4 items" in page
    # Staff block and unblock from the worker's page.
    staff_client.post(f"/staff/workers/{cat.pk}/", {"action": "block", "reason": "too fast"})
    cat.refresh_from_db()
    assert (cat.blocked, cat.block_reason) == (True, "too fast")
    staff_client.post(f"/staff/workers/{cat.pk}/", {"action": "unblock"})
    cat.refresh_from_db()
    assert not cat.blocked
    assert Vote.objects.count() == 12  # reviewing changes no vote


def test_invitations_from_the_workers_page(staff_client: Client) -> None:
    made = staff_client.post("/staff/workers/", {"note": "Sam from the lab"}, follow=True)
    invite = Invite.objects.get()
    page = made.content.decode()
    assert f"/work/join/{invite.code}/" in page
    assert "Sam from the lab" in page


def test_staff_pages_are_staff_only(
    open_campaign: Callable[..., Campaign], make_worker: Callable[..., Any]
) -> None:
    campaign = open_campaign(fits=2)
    worker, client = make_worker("ann")
    for url in (
        "/staff/campaigns/", f"/staff/campaigns/{campaign.pk}/", f"/staff/campaigns/{campaign.pk}/review/",
        "/staff/workers/", f"/staff/workers/{worker.pk}/",
    ):  # fmt: skip
        assert client.get(url).status_code == 302, url  # to the staff sign-in
    assert client.post(f"/staff/campaigns/{campaign.pk}/close/").status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).state == "open"
    assert client.get(f"/api/crowd/campaigns/{campaign.pk}/").status_code == 403
    assert Client().get(f"/api/crowd/campaigns/{campaign.pk}/").status_code == 403


def test_mturk_actions_are_sent_to_the_workers(
    staff_client: Client, fit_job_with_fits: Callable[..., FitJob], django_capture_on_commit_callbacks: Any
) -> None:
    from webapp.crowd.services import campaign_create_validation

    inhouse = campaign_create_validation(name="here", job=fit_job_with_fits(2))
    refused = staff_client.post(f"/staff/campaigns/{inhouse.pk}/launch/", follow=True).content.decode()
    assert "is not on MTurk" in refused
    mturk = campaign_create_validation(
        name="there", job=fit_job_with_fits(2), provider="mturk", budget_cents=100
    )
    page = staff_client.get(f"/staff/campaigns/{mturk.pk}/").content.decode()
    assert "Launch on MTurk (sandbox)" in page
    assert "Open to workers" not in page
    for action in ("launch", "sync-review", "sync-soft-review", "expire"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert staff_client.post(f"/staff/campaigns/{mturk.pk}/{action}/").status_code == 302
        assert len(callbacks) == 1, action


def test_ab_results_show_shares_of_items_and_votes(
    staff_client: Client, fit_job_with_fits: Callable[..., FitJob], make_worker: Callable[..., Any]
) -> None:
    from tests.factories import FitFactory, done_fit_job
    from webapp.crowd.services import campaign_create_ab, campaign_open

    job_a = fit_job_with_fits(2)
    job_b = done_fit_job(0, dataset=job_a.dataset, method="smplify")
    for fit in job_a.fits.all():
        FitFactory(job=job_b, person=fit.person)
    from webapp.fits.models import Render

    for fit in job_b.fits.all():  # its pictures, as a finished job has them
        for kind in ("crop", "camera", "side"):
            Render.objects.create(fit=fit, kind=kind, size=512, status="done", file=f"x/{fit.pk}-{kind}.jpg")
    campaign = campaign_open(
        campaign_create_ab(name="eft vs smplify", job_a=job_a, job_b=job_b, items_per_hit=2)
    )
    for name in ("ann", "bob", "cat"):
        assignment = assignment_next_inhouse(make_worker(name)[0])
        assert assignment is not None
        token = assignment_token(assignment)
        for step, planned in enumerate(assignment.plan):
            # Ann and Bob always choose fit A, Cat always fit B, wherever they were shown.
            a_side = "left" if planned["a_on_left"] else "right"
            answer = a_side if name != "cat" else ("right" if a_side == "left" else "left")
            body = {"token": token, "step": step, "answer": answer, "seconds": 2.0}
            assert (
                Client()
                .post("/api/crowd/votes/", json.dumps(body), content_type="application/json")
                .status_code
                == 201
            )
    page = staff_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    assert 'id="ab-results"' in page
    assert "100% (2 of 2;" in page  # A won both items by majority
    assert "67% (4 of 6;" in page  # and 4 of the 6 votes
