"""HIT pages in headless Chromium: an in-house worker working through a queue by click and by
keyboard, MTurk preview, the externalSubmit form posting to a local turkSubmitTo, an A/B page, a
phone-sized screen. Items are real pictures: a gold set of synthetic people, drawn like fits."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, Request, Route, expect

from webapp.crowd.assignments import hit_key
from webapp.crowd.gold import gold_set_make
from webapp.crowd.models import Assignment, Campaign, Hit, Vote
from webapp.crowd.services import campaign_create_ab, campaign_create_validation, campaign_open
from webapp.fits.models import Fit, FitJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-worker-passphrase"


@pytest.fixture
def gold_job(tmp_path: Path, settings: Any) -> FitJob:
    """A done job of 8 synthetic people's gold fits, drawn (eager Celery draws on commit)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATASET_WORK_DIR = tmp_path / "work"
    return gold_set_make(people=8, seed=11)


def _validation(job: FitJob, **options: Any) -> Campaign:
    return campaign_open(campaign_create_validation(name="browser", job=job, gold_rate=0.0, **options))


def _pictures_loaded(page: Page) -> None:
    """Every picture of the item drawn and the answers open (polled from Python: the HIT page's
    CSP forbids the string evaluation wait_for_function uses)."""
    for img in page.locator(".view img").all():
        expect(img).to_have_js_property("complete", True)
        expect(img).not_to_have_js_property("naturalWidth", 0)
    expect(page.locator("button.answer").first).to_be_enabled()


def _sign_in(page: Page, live_server: Any, name: str) -> None:
    get_user_model().objects.create_user(username=name, password=PASSWORD)
    page.goto(f"{live_server}/work/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My queue")


def test_an_in_house_worker_completes_a_queue_by_click_and_keyboard(
    page: Page, live_server: Any, gold_job: FitJob, screenshots: Path
) -> None:
    campaign = _validation(gold_job, items_per_hit=3)
    hits = campaign.hits.count()
    _sign_in(page, live_server, "ann")
    expect(page.locator("#available")).to_contain_text(f"{hits} HITs waiting in 1 open campaign")
    done_hits = 0
    page.get_by_role("button", name="Start the next HIT").click()
    while True:
        expect(page.get_by_role("heading", level=1)).to_have_text("Does the body fit the person?")
        total = int(page.locator("#step-total").inner_text())
        for step in range(1, total + 1):
            expect(page.locator("#step-number")).to_have_text(str(step))
            _pictures_loaded(page)
            if done_hits == 0 and step == 1:
                page.screenshot(path=str(screenshots / "hit-validation.png"), full_page=True)
            if step % 2:
                page.get_by_role("button", name="Accept: it fits").click()
            else:
                page.keyboard.press("r")
        expect(page.locator("#done")).to_be_visible()
        done_hits += 1
        page.get_by_role("button", name="Next HIT").click()
        if page.get_by_role("heading", level=1).inner_text() == "My queue":
            break
    expect(page.locator(".notice").first).to_contain_text("No HIT is waiting for you right now")
    page.screenshot(path=str(screenshots / "queue-done.png"), full_page=True)
    assert done_hits == hits
    assert Vote.objects.filter(worker__provider_id="ann").count() == campaign.items.count()
    answers = set(Vote.objects.values_list("answer", flat=True))
    assert answers == {"accept", "reject"}
    assert set(Assignment.objects.values_list("state", flat=True)) == {"submitted"}
    assert all(v.seconds > 0 for v in Vote.objects.all())


def test_mturk_preview_then_assignment_posts_to_turk_submit_to(
    page: Page, live_server: Any, gold_job: FitJob, settings: Any, screenshots: Path
) -> None:
    settings.CROWD_WORKER_SITES = [str(live_server)]
    campaign = campaign_create_validation(
        name="on mturk", job=gold_job, gold_rate=0.0, items_per_hit=2, provider="mturk", budget_cents=1000
    )
    hit = campaign.hits.get(index=0)
    Hit.objects.filter(pk=hit.pk).update(provider_hit_id="3HITONMTURK")
    Campaign.objects.filter(pk=campaign.pk).update(state="open")  # as a launch leaves it
    base = f"{live_server}/hit/{hit.pk}/?key={hit_key(hit)}&hitId=3HITONMTURK"
    # Preview: the task shows, nothing can be answered or submitted.
    page.goto(f"{base}&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE")
    expect(page.locator("#preview-banner")).to_be_visible()
    expect(page.locator("#view-crop")).to_have_js_property("complete", True)
    expect(page.locator("#view-crop")).not_to_have_js_property("naturalWidth", 0)
    expect(page.get_by_role("button", name="Accept: it fits")).to_be_disabled()
    expect(page.locator("#submit-button")).to_be_disabled()
    page.keyboard.press("a")
    page.screenshot(path=str(screenshots / "hit-preview.png"), full_page=True)
    assert Vote.objects.count() == 0
    assert Assignment.objects.count() == 0
    # The accepted assignment: answer both items, then the form posts to turkSubmitTo.
    posted: list[Request] = []

    def external_submit(route: Route, request: Request) -> None:
        posted.append(request)
        route.fulfill(status=200, content_type="text/html", body="<h1>MTurk got it</h1>")

    page.route("**/mturk/externalSubmit", external_submit)
    page.goto(f"{base}&assignmentId=ASSIGNX&workerId=AWORKER&turkSubmitTo={live_server}")
    _pictures_loaded(page)
    page.keyboard.press("a")
    expect(page.locator("#step-number")).to_have_text("2")
    _pictures_loaded(page)
    page.keyboard.press("r")
    expect(page.locator("#submit-button")).to_be_visible()
    page.get_by_role("button", name="Submit HIT").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("MTurk got it")
    assert len(posted) == 1
    assert posted[0].method == "POST"
    form = parse_qs(posted[0].post_data or "")
    assert form["assignmentId"] == ["ASSIGNX"]
    assert form["answered"] == ["2"]
    assignment = Assignment.objects.get()
    assert (assignment.provider_assignment_id, assignment.state) == ("ASSIGNX", "submitted")
    assert sorted(Vote.objects.values_list("answer", flat=True)) == ["accept", "reject"]


def test_an_ab_hit_by_keyboard_records_the_side_shown(
    page: Page, live_server: Any, gold_job: FitJob, screenshots: Path
) -> None:
    # Job B: the same people's fits, so the two sides differ only where the gold fits differ.
    other = FitJob.objects.create(
        dataset=gold_job.dataset, method="regressor", status="done", people_total=gold_job.people_total,
        people_done=gold_job.people_total,
    )  # fmt: skip
    fits = list(Fit.objects.filter(job=gold_job).order_by("id"))
    for fit in fits:
        fit.pk = None
        fit.job = other
        fit.pose_rotmat = fits[0].pose_rotmat
        fit.save()
    from webapp.fits.renders import renders_request

    renders_request(job=other, fit_ids=list(other.fits.values_list("id", flat=True)))
    campaign = campaign_open(
        campaign_create_ab(name="ab", job_a=gold_job, job_b=other, items_per_hit=4, gold_rate=0.0)
    )
    _sign_in(page, live_server, "bob")
    page.get_by_role("button", name="Start the next HIT").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Which body fits the person better?")
    _pictures_loaded(page)
    page.screenshot(path=str(screenshots / "hit-ab.png"), full_page=True)
    total = int(page.locator("#step-total").inner_text())
    for step in range(1, total + 1):
        expect(page.locator("#step-number")).to_have_text(str(step))
        _pictures_loaded(page)
        page.keyboard.press("ArrowLeft" if step % 2 else "2")
    expect(page.locator("#done")).to_be_visible()
    assignment = Assignment.objects.get()
    sides = {step["item"]: step["a_on_left"] for step in assignment.plan}
    assert set(sides.values()) <= {True, False}
    for vote in Vote.objects.all():
        assert vote.a_on_left == sides[vote.item_id]
    # A vote "left" is fit A exactly when A was on the left.
    order = [step["item"] for step in assignment.plan]
    for n, item in enumerate(order, start=1):
        vote = Vote.objects.get(item_id=item)
        chose_left = n % 2 == 1
        assert vote.answer == ("a" if chose_left == sides[item] else "b")
    assert campaign.kind == "ab"


def test_a_hit_on_a_phone_screen(page: Page, live_server: Any, gold_job: FitJob, screenshots: Path) -> None:
    _validation(gold_job, items_per_hit=3)
    page.set_viewport_size({"width": 375, "height": 740})
    _sign_in(page, live_server, "cat")
    page.get_by_role("button", name="Start the next HIT").click()
    _pictures_loaded(page)
    page.screenshot(path=str(screenshots / "hit-phone.png"))
    # Nothing wider than the screen; both answers on screen without scrolling, big enough to tap.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for name in ("Accept: it fits", "Reject"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= 740
        assert box["height"] >= 44
    crop = page.locator("#view-crop").bounding_box()
    assert crop is not None
    assert crop["width"] >= 150  # two pictures a row
    page.get_by_role("button", name="Accept: it fits").click()
    expect(page.locator("#step-number")).to_have_text("2")
    assert Vote.objects.count() == 1
    # A key held down answers one item only (auto-repeat is ignored, and the next item's answers
    # open only once its pictures have shown).
    _pictures_loaded(page)
    page.keyboard.down("a")
    page.keyboard.down("a")  # the browser's repeat
    page.keyboard.up("a")
    expect(page.locator("#step-number")).to_have_text("3")
    page.wait_for_timeout(1000)
    assert Vote.objects.count() == 2
