"""The MTurk provider (webapp.crowd.mturk) against botocore's Stubber: every call is checked
against the real MTurk API model and against the parameters the app must send; nothing reaches
the network (a call nobody stubbed fails the test)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from django.core.exceptions import ValidationError
from django.test import Client

from tasks.crowd import (
    expire_mturk_campaign_task,
    launch_mturk_campaign_task,
    review_mturk_campaign_task,
    sync_mturk_campaigns_task,
)
from tests.factories import done_fit_job
from webapp.crowd import mturk
from webapp.crowd.assignments import (
    assignment_for_mturk,
    assignment_token,
    hit_key,
    vote_record,
    worker_block,
)
from webapp.crowd.models import (
    Assignment,
    Campaign,
    GoldItem,
    Hit,
    Item,
    MturkAccount,
    Vote,
    Worker,
)
from webapp.crowd.services import campaign_create_validation, worker_for_user
from webapp.fits.models import Fit

pytestmark = pytest.mark.django_db

BASE = "https://crowd.example.org"
BLOCKED = "3BLOCKEDQUALIFICATION00000001"
HIT_TYPE = "3HITTYPE0000000000000000000001"
APPROVAL_RATE = {
    "QualificationTypeId": "000000000000000000L0",
    "Comparator": "GreaterThanOrEqualTo",
    "IntegerValues": [95],
}
XMLNS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
SUBMIT_TIME = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def hit_id(n: int) -> str:
    return f"3HIT{n:026d}"


def request_error(stubber: Stubber, method: str, message: str, **kwargs: Any) -> None:
    stubber.add_client_error(method, service_error_code="RequestError", service_message=message, **kwargs)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def mturk_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings.MTURK_ENABLED = True
    settings.MTURK_SANDBOX = True
    settings.MTURK_EXTERNAL_BASE_URL = BASE
    settings.MTURK_RETRY_SECONDS = 0  # retried calls pause 0 s
    settings.CROWD_ASSIGNMENT_SECONDS = 3600
    settings.MTURK_AUTO_APPROVAL_SECONDS = 3 * 86400
    settings.MTURK_HIT_LIFETIME_SECONDS = 7 * 86400

    def no_real_client(sandbox: bool) -> Any:
        raise AssertionError("a test made a real MTurk client: pass the stubbed one")

    monkeypatch.setattr(mturk, "mturk_client", no_real_client)
    return settings


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    """A sandbox MTurk client with dummy credentials under a Stubber."""
    client = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=mturk.SANDBOX_ENDPOINT,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def mturk_campaign(fit_job_with_fits: Callable[..., Any]) -> Callable[..., Campaign]:
    """``mturk_campaign(fits=5, **options)``: a draft MTurk validation campaign (items_per_hit 2:
    3 HITs for 5 fits; 3 votes per item at 10 cents; a budget of 10 USD; no gold)."""

    def make(fits: int = 5, **options: Any) -> Campaign:
        options = {"provider": "mturk", "items_per_hit": 2, "budget_cents": 1000, "gold_rate": 0.0, **options}
        name = options.pop("name", f"mturk campaign {Campaign.objects.count() + 1}")
        return campaign_create_validation(name=name, job=fit_job_with_fits(fits), **options)

    return make


def launched(campaign: Campaign) -> list[Hit]:
    """The campaign as a finished launch leaves it (without stubbing the launch again)."""
    MturkAccount.objects.get_or_create(
        sandbox=campaign.sandbox, defaults={"blocked_qualification_id": BLOCKED}
    )
    hits = list(campaign.hits.order_by("index"))
    for hit in hits:
        hit.provider_hit_id = hit_id(hit.index)
        hit.save(update_fields=["provider_hit_id"])
    Campaign.objects.filter(pk=campaign.pk).update(state="open", hit_type_id=HIT_TYPE)
    campaign.refresh_from_db()
    return hits


def work(hit: Hit, worker_id: str, assignment_id: str, votes: int | None = None) -> Assignment:
    """An MTurk worker opens the HIT page (the app issues its assignment) and answers ``votes``
    of its items (all by default: the app then holds it submitted)."""
    assignment = assignment_for_mturk(hit=hit, worker_id=worker_id, assignment_id=assignment_id)
    token = assignment_token(assignment)
    for step in range(len(assignment.plan))[:votes]:
        vote_record(token=token, step=step, answer="accept", seconds=2)
    assignment.refresh_from_db()
    return assignment


def mturk_assignment(
    hit: Hit, assignment_id: str, worker_id: str, status: str, **extra: Any
) -> dict[str, Any]:
    return {
        "AssignmentId": assignment_id,
        "WorkerId": worker_id,
        "HITId": hit.provider_hit_id,
        "AssignmentStatus": status,
        "SubmitTime": SUBMIT_TIME,
        **extra,
    }


def fail_gold(assignment: Assignment, wrong: int = 3) -> None:
    """The assignment's worker answers ``wrong`` gold items wrongly and is blocked for it."""
    for fit in Fit.objects.filter(job=done_fit_job(wrong)):
        gold = GoldItem.objects.create(fit=fit, source="synthetic", answer="accept", reason="the truth")
        item = Item.objects.create(campaign=assignment.hit.campaign, fit=fit, gold=gold)
        Vote.objects.create(
            assignment=assignment, item=item, worker=assignment.worker, answer="reject", seconds=1
        )
    worker_block(assignment.worker, f"{wrong} wrong answers on {wrong} gold items")


# --- client, retries, money, question ------------------------------------------------------


def test_the_client_factory_picks_the_sandbox_or_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real factory, this once (making a client calls nothing)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sandbox, production = mturk.mturk_client(True), mturk.mturk_client(False)
    assert sandbox.meta.endpoint_url == "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
    assert production.meta.endpoint_url == "https://mturk-requester.us-east-1.amazonaws.com"
    assert sandbox.meta.region_name == production.meta.region_name == "us-east-1"


def test_a_service_fault_is_retried_with_a_growing_pause(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("get_account_balance", service_error_code="ServiceFault", http_status_code=500)
    stubber.add_client_error("get_account_balance", service_error_code="ThrottlingException")
    request_error(stubber, "get_account_balance", "Rate exceeded (1626172412406)")
    stubber.add_response("get_account_balance", {"AvailableBalance": "10000.00"}, {})
    pauses: list[float] = []
    answer = mturk.mturk_call(client.get_account_balance, sleep=pauses.append, attempts=4, first_pause=0.5)
    assert answer["AvailableBalance"] == "10000.00"
    assert pauses == [0.5, 1.0, 2.0]
    stubber.assert_no_pending_responses()


def test_a_request_error_is_raised_at_once_with_mturks_words(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    request_error(
        stubber,
        "delete_hit",
        "Hit 3HIT00 does not exist. (1619128282649)",
        expected_params={"HITId": "3HIT00"},
    )
    pauses: list[float] = []
    with pytest.raises(mturk.MturkError) as caught:
        mturk.mturk_call(client.delete_hit, sleep=pauses.append, HITId="3HIT00")
    assert str(caught.value) == "MTurk delete_hit: RequestError: Hit 3HIT00 does not exist. (1619128282649)"
    assert (caught.value.code, caught.value.operation, caught.value.retryable) == (
        "RequestError",
        "delete_hit",
        False,
    )
    assert pauses == []
    stubber.assert_no_pending_responses()


def test_retries_end_and_say_how_often_it_was_tried(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    for _ in range(3):
        stubber.add_client_error(
            "get_account_balance", service_error_code="ServiceFault", http_status_code=500
        )
    with pytest.raises(mturk.MturkError, match=r"ServiceFault: .*\(tried 3 times\)") as caught:
        mturk.mturk_call(client.get_account_balance, sleep=lambda s: None, attempts=3)
    assert caught.value.retryable
    stubber.assert_no_pending_responses()


def test_a_lost_connection_is_retried() -> None:
    calls: list[dict[str, Any]] = []

    def flaky(**params: Any) -> dict[str, Any]:
        calls.append(params)
        if len(calls) == 1:
            raise EndpointConnectionError(endpoint_url=mturk.SANDBOX_ENDPOINT)
        return {"ok": True}

    assert mturk.mturk_call(flaky, sleep=lambda s: None, HITId="X") == {"ok": True}
    assert calls == [{"HITId": "X"}, {"HITId": "X"}]


def test_money_and_mturks_fee() -> None:
    assert [mturk.dollars(c) for c in (0, 5, 10, 125, 10000)] == ["0.00", "0.05", "0.10", "1.25", "100.00"]
    assert mturk.cents_from_dollars("10000.00") == 1_000_000
    # 20% under 10 assignments per HIT, 40% from 10; at least a cent; rounded up.
    assert mturk.mturk_fee_cents(10, 3) == 2
    assert mturk.mturk_fee_cents(10, 10) == 4
    assert mturk.mturk_fee_cents(2, 3) == 1
    assert mturk.mturk_fee_cents(12, 3) == 3


def test_the_external_question_escapes_the_address() -> None:
    url = "https://crowd.example.org/hit/7/?key=abc&x=<1>"
    question = mturk.external_question(url)
    assert "<ExternalURL>https://crowd.example.org/hit/7/?key=abc&amp;x=&lt;1&gt;</ExternalURL>" in question
    assert "<FrameHeight>0</FrameHeight>" in question
    assert ET.fromstring(question).findtext(f"{{{XMLNS}}}ExternalURL") == url


# --- launch ----------------------------------------------------------------------------------


def expected_question(hit: Hit) -> str:
    return (
        f'<ExternalQuestion xmlns="{XMLNS}">'
        f"<ExternalURL>{BASE}/hit/{hit.pk}/?key={hit_key(hit)}</ExternalURL><FrameHeight>0</FrameHeight>"
        "</ExternalQuestion>"
    )


def stub_hit(stubber: Stubber, campaign: Campaign, hit: Hit, made: str | None = None) -> None:
    stubber.add_response(
        "create_hit_with_hit_type",
        {"HIT": {"HITId": made or hit_id(hit.index), "HITTypeId": HIT_TYPE}},
        {
            "HITTypeId": HIT_TYPE,
            "MaxAssignments": 3,
            "LifetimeInSeconds": 7 * 86400,
            "Question": expected_question(hit),
            "RequesterAnnotation": f"EFT crowd campaign {campaign.pk} ({campaign.name}), HIT {hit.pk}",
            "UniqueRequestToken": mturk.hit_request_token(hit),
        },
    )


def stub_start(stubber: Stubber, campaign: Campaign, *, qualification: bool = True) -> None:
    stubber.add_response("get_account_balance", {"AvailableBalance": "10000.00", "OnHoldBalance": "0.00"}, {})
    if qualification:
        stubber.add_response(
            "create_qualification_type",
            {"QualificationType": {"QualificationTypeId": BLOCKED, "Name": "EFT crowd: blocked"}},
            {
                "Name": "EFT crowd: blocked",
                "Description": ANY,
                "Keywords": "blocked",
                "QualificationTypeStatus": "Active",
            },
        )
    stubber.add_response(
        "create_hit_type",
        {"HITTypeId": HIT_TYPE},
        {
            "Title": mturk.TITLES[Campaign.Kind.VALIDATION],
            "Description": mturk.DESCRIPTION,
            "Reward": "0.10",
            "AssignmentDurationInSeconds": 3600,
            "AutoApprovalDelayInSeconds": 3 * 86400,
            "Keywords": mturk.KEYWORDS,
            "QualificationRequirements": [
                *campaign.qualification_requirements,
                {
                    "QualificationTypeId": BLOCKED,
                    "Comparator": "DoesNotExist",
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                },
            ],
        },
    )


def test_a_launch_makes_the_hit_type_then_one_hit_per_hit_and_opens_the_campaign(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign(qualification_requirements=[APPROVAL_RATE])
    hits = list(campaign.hits.order_by("index"))
    assert len(hits) == 3
    stub_start(stubber, campaign)
    for hit in hits:
        stub_hit(stubber, campaign, hit)
    result = mturk.campaign_launch(campaign, client=client)
    stubber.assert_no_pending_responses()
    assert (result.hit_type_id, result.hits_made, result.hits_total) == (HIT_TYPE, 3, 3)
    # 9 assignments at 10 cents, plus MTurk's 20% (2 cents each).
    assert (result.cost.reward_cents, result.cost.fee_cents, result.cost.total_cents) == (90, 18, 108)
    campaign.refresh_from_db()
    assert (campaign.state, campaign.hit_type_id, campaign.provider_error) == ("open", HIT_TYPE, "")
    assert campaign.launched_at is not None
    assert list(campaign.hits.order_by("index").values_list("provider_hit_id", flat=True)) == [
        hit_id(0),
        hit_id(1),
        hit_id(2),
    ]
    assert MturkAccount.objects.get(sandbox=True).blocked_qualification_id == BLOCKED
    # The ExternalURL is the HIT page, which now shows its preview.
    url = ET.fromstring(expected_question(hits[1])).findtext(f"{{{XMLNS}}}ExternalURL") or ""
    assert url.startswith(f"{BASE}/hit/{hits[1].pk}/?key=")
    parts = urlsplit(url)
    page = Client().get(
        f"{parts.path}?{parts.query}&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId={hit_id(1)}"
    )
    assert page.status_code == 200
    assert len(mturk.hit_request_token(hits[1])) <= 64
    assert mturk.hit_request_token(hits[1]) != mturk.hit_request_token(hits[2])


def test_a_launch_over_budget_is_refused_writing_and_calling_nothing(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign(budget_cents=100)
    with pytest.raises(ValidationError) as refused:
        mturk.campaign_launch(campaign, client=client)
    assert refused.value.message_dict["budget_cents"] == [
        "the HITs cost 1.08 USD (9 assignments at 0.10 plus MTurk's fee of 0.18), more than the budget "
        "of 1.00 USD"
    ]
    stubber.assert_no_pending_responses()  # and no call was made: none was stubbed
    campaign.refresh_from_db()
    assert (campaign.state, campaign.hit_type_id, campaign.provider_error) == ("draft", "", "")
    assert not campaign.hits.exclude(provider_hit_id="").exists()
    assert not MturkAccount.objects.exists()


def test_a_launch_beyond_the_accounts_balance_is_refused_after_asking_it(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    stubber.add_response("get_account_balance", {"AvailableBalance": "1.00"}, {})
    with pytest.raises(ValidationError, match=r"available balance is 1\.00 USD; .* cost 1\.08 USD"):
        mturk.campaign_launch(campaign, client=client)
    stubber.assert_no_pending_responses()
    campaign.refresh_from_db()
    assert (campaign.state, campaign.hit_type_id) == ("draft", "")
    assert not MturkAccount.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"budget_cents": 0}, "an MTurk campaign needs a budget: its HITs cost 1.08 USD"),
        ({"provider": "inhouse"}, "is not an MTurk campaign"),
        ({"state": "open"}, "is open: only a draft campaign is launched"),
        ({"sandbox": False}, "set up for the MTurk sandbox (MTURK_SANDBOX=true)"),
        (
            {"qualification_requirements": [{"Comparator": "Exists"}]},
            "requirement 0 has no QualificationTypeId",
        ),
        (
            {"qualification_requirements": [{**APPROVAL_RATE, "Comparator": "Above"}]},
            "Comparator must be one of",
        ),
        ({"base": "http://crowd.example.org"}, "must be the app's public https:// address"),
        ({"enabled": False}, "MTurk is not enabled here"),
    ],
)
def test_a_launch_is_refused_with_a_clear_message(
    mturk_campaign: Callable[..., Campaign],
    stubbed: tuple[Any, Stubber],
    mturk_settings: Any,
    change: dict[str, Any],
    message: str,
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    if "base" in change:
        mturk_settings.MTURK_EXTERNAL_BASE_URL = change.pop("base")
    if "enabled" in change:
        mturk_settings.MTURK_ENABLED = change.pop("enabled")
    for name, value in change.items():
        setattr(campaign, name, value)
    with pytest.raises(ValidationError) as refused:
        mturk.campaign_launch(campaign, client=client)
    assert message in " ".join(refused.value.messages)
    stubber.assert_no_pending_responses()
    assert not campaign.hits.exclude(provider_hit_id="").exists()


def test_a_launch_waits_for_the_pictures(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    job = done_fit_job(2, renders=False)
    campaign = campaign_create_validation(name="no pictures", job=job, provider="mturk", budget_cents=1000)
    with pytest.raises(ValidationError, match="6 pictures of the campaign's items are still being drawn"):
        mturk.campaign_launch(campaign, client=client)
    stubber.assert_no_pending_responses()
    campaign.refresh_from_db()
    assert (campaign.state, campaign.hit_type_id) == ("draft", "")


def test_a_launch_that_fails_half_way_is_finished_by_running_it_again(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    hits = list(campaign.hits.order_by("index"))
    stub_start(stubber, campaign)
    stub_hit(stubber, campaign, hits[0])
    request_error(
        stubber,
        "create_hit_with_hit_type",
        "The HITTypeId is invalid. (1626172412406)",
        expected_params={
            "HITTypeId": HIT_TYPE,
            "MaxAssignments": 3,
            "LifetimeInSeconds": 7 * 86400,
            "Question": expected_question(hits[1]),
            "RequesterAnnotation": ANY,
            "UniqueRequestToken": mturk.hit_request_token(hits[1]),
        },
    )
    with pytest.raises(mturk.MturkError) as stopped:
        mturk.campaign_launch(campaign, client=client)
    assert stopped.value.message == (
        "the launch stopped after 1 of the 3 HITs still to make: MTurk create_hit_with_hit_type: "
        "RequestError: The HITTypeId is invalid. (1626172412406). The HITs made are recorded: launch "
        "again to make the rest."
    )
    stubber.assert_no_pending_responses()
    campaign.refresh_from_db()
    assert (campaign.state, campaign.hit_type_id) == ("draft", HIT_TYPE)
    assert campaign.provider_error == stopped.value.message
    assert list(campaign.hits.order_by("index").values_list("provider_hit_id", flat=True)) == [
        hit_id(0),
        "",
        "",
    ]

    # Again: no second qualification or HIT type, HIT 0 skipped, HIT 1 under the same token; a
    # ServiceFault on HIT 2 is retried.
    stubber.add_response("get_account_balance", {"AvailableBalance": "10000.00"}, {})
    stub_hit(stubber, campaign, hits[1])
    stubber.add_client_error(
        "create_hit_with_hit_type", service_error_code="ServiceFault", http_status_code=500
    )
    stub_hit(stubber, campaign, hits[2])
    result = mturk.campaign_launch(campaign, client=client)
    stubber.assert_no_pending_responses()
    assert (result.hits_made, result.hits_total) == (2, 3)
    campaign.refresh_from_db()
    assert (campaign.state, campaign.provider_error) == ("open", "")
    assert list(campaign.hits.order_by("index").values_list("provider_hit_id", flat=True)) == [
        hit_id(0),
        hit_id(1),
        hit_id(2),
    ]


def test_a_hit_made_before_a_crash_is_recognised_by_its_token(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign(fits=2)  # one HIT
    (hit,) = campaign.hits.all()
    stub_start(stubber, campaign)
    request_error(
        stubber,
        "create_hit_with_hit_type",
        f"There is already a HIT which exists with the same UniqueRequestToken: {hit_id(42)} (1626172412406)",
        modeled_fields={"TurkErrorCode": "AWS.MechanicalTurk.HitAlreadyExists"},
    )
    mturk.campaign_launch(campaign, client=client)
    stubber.assert_no_pending_responses()
    hit.refresh_from_db()
    assert hit.provider_hit_id == hit_id(42)


def test_the_blocked_qualification_is_found_by_name_when_the_app_lost_its_record(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    request_error(
        stubber, "create_qualification_type", "You have already created a QualificationType with this name."
    )
    stubber.add_response(
        "list_qualification_types",
        {
            "QualificationTypes": [
                {"QualificationTypeId": "3OTHER", "Name": "EFT crowd: blocked (old)"},
                {"QualificationTypeId": BLOCKED, "Name": "EFT crowd: blocked"},
            ]
        },
        {
            "Query": "EFT crowd: blocked",
            "MustBeRequestable": False,
            "MustBeOwnedByCaller": True,
            "MaxResults": 100,
        },
    )
    assert mturk.blocked_qualification(sandbox=False, client=client) == BLOCKED
    assert mturk.blocked_qualification(sandbox=False, client=client) == BLOCKED  # stored: no call
    stubber.assert_no_pending_responses()
    assert MturkAccount.objects.get().sandbox is False


# --- blocks ----------------------------------------------------------------------------------


def test_blocking_and_unblocking_a_worker_on_mturk(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    MturkAccount.objects.create(sandbox=True, blocked_qualification_id=BLOCKED)
    worker = Worker.objects.create(provider="mturk", provider_id="A1WORKER")
    stubber.add_response(
        "associate_qualification_with_worker",
        {},
        {
            "QualificationTypeId": BLOCKED,
            "WorkerId": "A1WORKER",
            "IntegerValue": 1,
            "SendNotification": False,
        },
    )
    mturk.worker_block_on_mturk(worker, "copied answers", sandbox=True, client=client)
    worker.refresh_from_db()
    assert (worker.blocked, worker.block_reason, worker.blocked_on_sandbox) == (True, "copied answers", True)
    stubber.add_response(
        "disassociate_qualification_from_worker",
        {},
        {"WorkerId": "A1WORKER", "QualificationTypeId": BLOCKED, "Reason": "blocked by mistake"},
    )
    mturk.worker_unblock_on_mturk(worker, sandbox=True, client=client, reason="blocked by mistake")
    worker.refresh_from_db()
    assert (worker.blocked, worker.blocked_on_sandbox) == (False, False)
    stubber.assert_no_pending_responses()


def test_an_in_house_worker_is_not_blocked_on_mturk(stubbed: tuple[Any, Stubber], make_worker: Any) -> None:
    client, _ = stubbed
    worker, _ = make_worker("ann")
    with pytest.raises(ValidationError, match="is not an MTurk worker"):
        mturk.worker_block_on_mturk(worker, "no", sandbox=True, client=client)
    assert not Worker.objects.get(pk=worker.pk).blocked


def test_blocks_made_in_the_app_are_sent_to_mturk(
    stubbed: tuple[Any, Stubber], django_user_model: Any
) -> None:
    client, stubber = stubbed
    assert mturk.workers_block_sync(sandbox=True, client=client).blocked == 0  # no qualification yet
    MturkAccount.objects.create(sandbox=True, blocked_qualification_id=BLOCKED)
    struck = Worker.objects.create(
        provider="mturk", provider_id="A1STRUCK", blocked=True, block_reason="gold"
    )
    Worker.objects.create(provider="mturk", provider_id="A2DONE", blocked=True, blocked_on_sandbox=True)
    Worker.objects.create(provider="mturk", provider_id="A3LIFTED", blocked=False, blocked_on_sandbox=True)
    Worker.objects.create(provider="mturk", provider_id="A4GONE", blocked=True)
    in_house = worker_for_user(django_user_model.objects.create_user(username="bo", password="x" * 12))
    worker_block(in_house, "in-house workers are not on MTurk")
    stubber.add_response(
        "associate_qualification_with_worker",
        {},
        {
            "QualificationTypeId": BLOCKED,
            "WorkerId": "A1STRUCK",
            "IntegerValue": 1,
            "SendNotification": False,
        },
    )
    request_error(stubber, "associate_qualification_with_worker", "Worker A4GONE does not exist.")
    stubber.add_response(
        "disassociate_qualification_from_worker", {}, {"WorkerId": "A3LIFTED", "QualificationTypeId": BLOCKED}
    )
    summary = mturk.workers_block_sync(sandbox=True, client=client)
    stubber.assert_no_pending_responses()
    assert (summary.blocked, summary.unblocked) == (1, 1)
    assert summary.errors == [
        "worker A4GONE: MTurk associate_qualification_with_worker: RequestError: "
        "Worker A4GONE does not exist."
    ]
    assert Worker.objects.get(pk=struck.pk).blocked_on_sandbox
    assert not Worker.objects.get(provider_id="A3LIFTED").blocked_on_sandbox
    assert not Worker.objects.get(provider_id="A4GONE").blocked_on_sandbox
    assert mturk.workers_block_sync(sandbox=False, client=client).blocked == 0  # production: nothing made


# --- sync ------------------------------------------------------------------------------------


def test_a_sync_maps_mturks_assignments_onto_the_apps_page_by_page(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign(fits=5)
    hit0, hit1, _ = launched(campaign)
    done = work(hit0, "A1ANN", "3ASSIGNANN")  # submitted in the app
    missed = work(hit0, "A2BO", "3ASSIGNBO")
    Assignment.objects.filter(pk=missed.pk).update(state="accepted", submitted_at=None)  # its last write lost
    half = work(hit0, "A3CY", "3ASSIGNCY", votes=1)  # one of two items answered
    auto = work(hit1, "A1ANN", "3ASSIGNANN1")  # approved by MTurk itself after the delay
    refused = work(hit1, "A2BO", "3ASSIGNBO1")
    soft = work(hit1, "A3CY", "3ASSIGNCY1")
    Assignment.objects.filter(pk=soft.pk).update(
        state="rejected", provider_status="Submitted"
    )  # soft-rejected
    returned = work(hit1, "A4DI", "3ASSIGNDIOLD")  # returned, taken again under a new id
    statuses = {"AssignmentStatuses": ["Submitted", "Approved", "Rejected"], "MaxResults": 100}
    stubber.add_response(
        "list_assignments_for_hit",
        {
            "Assignments": [
                mturk_assignment(hit0, "3ASSIGNANN", "A1ANN", "Submitted"),
                mturk_assignment(hit0, "3ASSIGNBO", "A2BO", "Submitted"),
            ],
            "NextToken": "page-2",
            "NumResults": 2,
        },
        {"HITId": hit_id(0), **statuses},
    )
    stubber.add_response(
        "list_assignments_for_hit",
        {
            "Assignments": [
                mturk_assignment(hit0, "3ASSIGNCY", "A3CY", "Submitted"),
                mturk_assignment(hit0, "3ASSIGNSTRANGE", "A9STRANGER", "Submitted"),
            ],
            "NumResults": 2,
        },
        {"HITId": hit_id(0), "NextToken": "page-2", **statuses},
    )
    stubber.add_response(
        "list_assignments_for_hit",
        {
            "Assignments": [
                mturk_assignment(hit1, "3ASSIGNANN1", "A1ANN", "Approved", ApprovalTime=SUBMIT_TIME),
                mturk_assignment(
                    hit1,
                    "3ASSIGNBO1",
                    "A2BO",
                    "Rejected",
                    RejectionTime=SUBMIT_TIME,
                    RequesterFeedback="Most answers were wrong.",
                ),
                mturk_assignment(hit1, "3ASSIGNCY1", "A3CY", "Approved"),
                mturk_assignment(hit1, "3ASSIGNDINEW", "A4DI", "Submitted"),
                mturk_assignment(hit1, "3ASSIGNEVE", "A5EVE", "Submitted"),  # never opened the page
            ]
        },
        {"HITId": hit_id(1), **statuses},
    )
    request_error(stubber, "list_assignments_for_hit", f"Hit {hit_id(2)} does not exist. (1619128282649)")
    summary = mturk.campaign_sync(campaign, client=client)
    stubber.assert_no_pending_responses()

    assert (summary.hits, summary.seen) == (3, 9)
    assert (summary.submitted, summary.approved, summary.rejected) == (1, 1, 1)
    assert summary.unknown == ["3ASSIGNSTRANGE (A9STRANGER)", "3ASSIGNEVE (A5EVE)"]
    assert summary.incomplete == ["3ASSIGNCY (A3CY)"]
    assert summary.errors == [
        f"HIT {hit_id(2)}: MTurk list_assignments_for_hit: RequestError: Hit {hit_id(2)} does not exist. "
        "(1619128282649)"
    ]

    def row(assignment: Assignment) -> tuple[str, str]:
        assignment.refresh_from_db()
        return assignment.state, assignment.provider_status

    assert row(done) == ("submitted", "Submitted")
    assert row(missed) == ("submitted", "Submitted")
    assert missed.submitted_at == SUBMIT_TIME
    assert row(half) == ("accepted", "Submitted")
    assert row(auto) == ("approved", "Approved")
    assert auto.reviewed_at == SUBMIT_TIME
    assert row(refused) == ("rejected", "Rejected")
    assert refused.feedback == "Most answers were wrong."
    assert row(soft) == ("rejected", "Approved")  # soft-rejected: paid there, left out here
    assert row(returned) == ("submitted", "Submitted")
    assert returned.provider_assignment_id == "3ASSIGNDINEW"
    # Nothing was made of the unknown ones.
    assert not Worker.objects.filter(provider_id__in=["A9STRANGER", "A5EVE"]).exists()
    assert Vote.objects.filter(assignment__hit__campaign=campaign).count() == 13
    campaign.refresh_from_db()
    assert campaign.synced_at is not None
    assert campaign.provider_error.startswith(f"sync: HIT {hit_id(2)}: ")


def test_the_periodic_task_syncs_launched_campaigns_and_blocks_only_when_enabled(
    mturk_campaign: Callable[..., Campaign],
    stubbed: tuple[Any, Stubber],
    mturk_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, stubber = stubbed
    monkeypatch.setattr(mturk, "mturk_client", lambda sandbox: client)
    mturk_campaign(name="draft, not launched")
    campaign = mturk_campaign(fits=2, name="launched")
    (hit,) = launched(campaign)
    Worker.objects.create(provider="mturk", provider_id="A1STRUCK", blocked=True)
    mturk_settings.MTURK_ENABLED = False
    assert sync_mturk_campaigns_task() == {"enabled": False}
    mturk_settings.MTURK_ENABLED = True
    stubber.add_response(
        "list_assignments_for_hit",
        {"Assignments": []},
        {
            "HITId": hit.provider_hit_id,
            "AssignmentStatuses": ["Submitted", "Approved", "Rejected"],
            "MaxResults": 100,
        },
    )
    stubber.add_response(
        "associate_qualification_with_worker",
        {},
        {
            "QualificationTypeId": BLOCKED,
            "WorkerId": "A1STRUCK",
            "IntegerValue": 1,
            "SendNotification": False,
        },
    )
    report = sync_mturk_campaigns_task()
    stubber.assert_no_pending_responses()
    assert report == {
        "enabled": True,
        "campaigns": {
            str(campaign.pk): {
                "seen": 0,
                "submitted": 0,
                "approved": 0,
                "rejected": 0,
                "unknown": 0,
                "errors": 0,
            }
        },
        "blocks": {"sandbox": {"blocked": 1, "unblocked": 0, "errors": 0}},
    }


def test_the_launch_task_takes_an_id(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = stubbed
    monkeypatch.setattr(mturk, "mturk_client", lambda sandbox: client)
    campaign = mturk_campaign(fits=2)
    stub_start(stubber, campaign)
    stub_hit(stubber, campaign, campaign.hits.get())
    result = launch_mturk_campaign_task(campaign.pk)
    stubber.assert_no_pending_responses()
    assert (result["hit_type_id"], result["hits_made"], result["cost"]["total_cents"]) == (HIT_TYPE, 1, 36)
    with pytest.raises(ValidationError, match="there is no MTurk campaign 0"):
        launch_mturk_campaign_task(0)


def test_a_refused_launch_task_leaves_its_reason_on_the_campaign(
    mturk_campaign: Callable[..., Campaign], staff_client: Any
) -> None:
    campaign = mturk_campaign(fits=2, budget_cents=0)
    with pytest.raises(ValidationError, match="needs a budget"):
        launch_mturk_campaign_task(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.state == "draft"
    assert campaign.provider_error.startswith("the launch was refused: an MTurk campaign needs a budget")
    assert "needs a budget" in staff_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()


# --- review and bonuses ----------------------------------------------------------------------


def reviewable(campaign: Campaign) -> tuple[Assignment, Assignment, Assignment, Assignment]:
    """HIT 0 worked by a good worker, one blocked by gold strikes and one an admin blocked; the
    good worker's HIT 1 too. All submitted, here and on MTurk."""
    hit0, hit1, _ = launched(campaign)
    good = work(hit0, "A1GOOD", "3ASSIGNGOOD")
    struck = work(hit0, "A2STRUCK", "3ASSIGNSTRUCK")
    fail_gold(struck)
    admin = work(hit0, "A3ADMIN", "3ASSIGNADMIN")
    worker_block(admin.worker, "shared the answers on a forum")
    again = work(hit1, "A1GOOD", "3ASSIGNGOODAGAIN")
    Assignment.objects.all().update(provider_status="Submitted")
    return good, struck, admin, again


def test_review_approves_rejects_gold_failures_and_soft_rejects_other_blocks(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    reviewable(campaign)
    reject_words = (
        "Rejected: 3 of your 3 answers on check items (fits whose right answer is known) were wrong, "
        "below the accuracy this task requires."
    )
    stubber.add_response(
        "approve_assignment", {}, {"AssignmentId": "3ASSIGNGOOD", "RequesterFeedback": mturk.APPROVE_FEEDBACK}
    )
    stubber.add_response(
        "reject_assignment", {}, {"AssignmentId": "3ASSIGNSTRUCK", "RequesterFeedback": reject_words}
    )
    stubber.add_response(
        "approve_assignment",
        {},
        {"AssignmentId": "3ASSIGNADMIN", "RequesterFeedback": mturk.SOFT_REJECT_FEEDBACK},
    )
    request_error(
        stubber,
        "approve_assignment",
        "This operation can be called with a status of: Submitted (1626172412406)",
        expected_params={"AssignmentId": "3ASSIGNGOODAGAIN", "RequesterFeedback": mturk.APPROVE_FEEDBACK},
    )
    summary = mturk.assignments_review(campaign, client=client)
    stubber.assert_no_pending_responses()
    assert (summary.approved, summary.rejected, summary.soft_rejected) == (1, 1, 1)
    assert summary.errors == [
        "assignment 3ASSIGNGOODAGAIN: MTurk approve_assignment: RequestError: This operation can be called "
        "with a status of: Submitted (1626172412406)"
    ]
    rows = {a.provider_assignment_id: a for a in Assignment.objects.all()}
    assert (rows["3ASSIGNGOOD"].state, rows["3ASSIGNGOOD"].provider_status) == ("approved", "Approved")
    assert rows["3ASSIGNGOOD"].feedback == mturk.APPROVE_FEEDBACK
    assert (rows["3ASSIGNSTRUCK"].state, rows["3ASSIGNSTRUCK"].provider_status) == ("rejected", "Rejected")
    assert rows["3ASSIGNSTRUCK"].feedback == reject_words
    assert (rows["3ASSIGNADMIN"].state, rows["3ASSIGNADMIN"].provider_status) == ("rejected", "Approved")
    assert all(rows[k].reviewed_at is not None for k in ("3ASSIGNGOOD", "3ASSIGNSTRUCK", "3ASSIGNADMIN"))
    # The refused one is left as it was (the next sync records MTurk's word).
    assert (rows["3ASSIGNGOODAGAIN"].state, rows["3ASSIGNGOODAGAIN"].reviewed_at) == ("submitted", None)
    # Run again: only the one left is asked about.
    stubber.add_response(
        "approve_assignment", {}, {"AssignmentId": "3ASSIGNGOODAGAIN", "RequesterFeedback": ANY}
    )
    assert mturk.assignments_review(campaign, client=client).approved == 1
    stubber.assert_no_pending_responses()


def test_soft_reject_pays_gold_failures_too(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    reviewable(campaign)
    for assignment_id, words in [
        ("3ASSIGNGOOD", mturk.APPROVE_FEEDBACK),
        ("3ASSIGNSTRUCK", mturk.SOFT_REJECT_FEEDBACK),
        ("3ASSIGNADMIN", mturk.SOFT_REJECT_FEEDBACK),
        ("3ASSIGNGOODAGAIN", mturk.APPROVE_FEEDBACK),
    ]:
        stubber.add_response(
            "approve_assignment", {}, {"AssignmentId": assignment_id, "RequesterFeedback": words}
        )
    summary = mturk.assignments_review(campaign, client=client, soft_reject=True)
    stubber.assert_no_pending_responses()
    assert (summary.approved, summary.rejected, summary.soft_rejected) == (2, 0, 2)
    struck = Assignment.objects.get(provider_assignment_id="3ASSIGNSTRUCK")
    assert (struck.state, struck.provider_status) == ("rejected", "Approved")


def test_review_stops_when_mturk_stays_down(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    reviewable(campaign)
    for _ in range(4):  # MTURK_RETRY_ATTEMPTS
        stubber.add_client_error(
            "approve_assignment", service_error_code="ServiceFault", http_status_code=500
        )
    with pytest.raises(mturk.MturkError, match="tried 4 times"):
        mturk.assignments_review(campaign, client=client)
    stubber.assert_no_pending_responses()
    assert not Assignment.objects.filter(reviewed_at__isnull=False).exists()


def test_bonuses_are_paid_once_after_review(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    hit0, hit1, _ = launched(campaign)
    paid = work(hit0, "A1ANN", "3ASSIGNANN")
    crashed = work(hit0, "A2BO", "3ASSIGNBO")  # its bonus went out before a crash
    nothing = work(hit0, "A3CY", "3ASSIGNCY")
    pending = work(hit1, "A1ANN", "3ASSIGNANN1")  # not reviewed yet
    refused = work(hit1, "A2BO", "3ASSIGNBO1")
    Assignment.objects.exclude(pk=pending.pk).update(state="approved", provider_status="Approved")
    for assignment, cents in [(paid, 5), (crashed, 7), (nothing, 0), (pending, 5), (refused, 5)]:
        Assignment.objects.filter(pk=assignment.pk).update(bonus_cents=cents)
        assignment.refresh_from_db()

    def bonus(assignment: Assignment, amount: str) -> dict[str, Any]:
        return {
            "WorkerId": assignment.worker.provider_id,
            "BonusAmount": amount,
            "AssignmentId": assignment.provider_assignment_id,
            "Reason": mturk.BONUS_REASON,
            "UniqueRequestToken": mturk.bonus_request_token(assignment),
        }

    stubber.add_response("send_bonus", {}, bonus(paid, "0.05"))
    request_error(
        stubber,
        "send_bonus",
        f'The idempotency token "{mturk.bonus_request_token(crashed)}" has already been processed. (16261)',
        expected_params=bonus(crashed, "0.07"),
    )
    request_error(
        stubber, "send_bonus", "Assignment 3ASSIGNBO1 does not exist.", expected_params=bonus(refused, "0.05")
    )
    summary = mturk.bonuses_pay(campaign, client=client)
    stubber.assert_no_pending_responses()
    assert (summary.paid, summary.paid_cents) == (2, 12)
    assert summary.errors == [
        "bonus on 3ASSIGNBO1: MTurk send_bonus: RequestError: Assignment 3ASSIGNBO1 does not exist."
    ]
    paid_now = set(
        Assignment.objects.filter(bonus_paid_at__isnull=False).values_list(
            "provider_assignment_id", flat=True
        )
    )
    assert paid_now == {"3ASSIGNANN", "3ASSIGNBO"}
    assert len(mturk.bonus_request_token(paid)) <= 64
    assert mturk.bonus_request_token(paid) == mturk.bonus_request_token(Assignment.objects.get(pk=paid.pk))
    # Again: only the refused one is tried.
    stubber.add_response("send_bonus", {}, bonus(refused, "0.05"))
    assert mturk.bonuses_pay(campaign, client=client).paid == 1
    stubber.assert_no_pending_responses()


# --- the end ---------------------------------------------------------------------------------


def test_expire_ends_every_hit_now_and_goes_on_past_a_refusal(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    hits = launched(campaign)
    for hit in hits:
        if hit.index == 1:
            request_error(
                stubber,
                "update_expiration_for_hit",
                "Hit is deleted.",
                expected_params={"HITId": hit.provider_hit_id, "ExpireAt": mturk.EXPIRE_NOW},
            )
        else:
            stubber.add_response(
                "update_expiration_for_hit", {}, {"HITId": hit.provider_hit_id, "ExpireAt": mturk.EXPIRE_NOW}
            )
    summary = mturk.campaign_expire(campaign, client=client)
    stubber.assert_no_pending_responses()
    assert datetime.now(tz=UTC) > mturk.EXPIRE_NOW
    assert summary.expired == 2
    assert summary.errors == [
        f"HIT {hit_id(1)}: MTurk update_expiration_for_hit: RequestError: Hit is deleted."
    ]
    expired = Hit.objects.filter(campaign=campaign, expired_at__isnull=False).values_list("index", flat=True)
    assert sorted(expired) == [0, 2]
    campaign.refresh_from_db()
    assert campaign.state == "open"  # workers holding an assignment may still finish


def test_delete_disposes_of_decided_hits_and_counts_the_rest(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    campaign = mturk_campaign()
    hit0, hit1, _ = launched(campaign)
    undecided = work(hit0, "A1ANN", "3ASSIGNANN")
    Assignment.objects.filter(pk=undecided.pk).update(provider_status="Submitted")
    decided = work(hit1, "A1ANN", "3ASSIGNANN1")
    Assignment.objects.filter(pk=decided.pk).update(state="approved", provider_status="Approved")
    stubber.add_response("delete_hit", {}, {"HITId": hit_id(1)})
    request_error(
        stubber,
        "delete_hit",
        "This HIT is currently in the state 'Assignable'. (1626172412406)",
        expected_params={"HITId": hit_id(2)},
    )
    summary = mturk.campaign_delete_hits(campaign, client=client)
    stubber.assert_no_pending_responses()
    assert (summary.deleted, summary.remaining) == (1, 2)
    assert summary.errors == [
        f"HIT {hit_id(2)}: MTurk delete_hit: RequestError: This HIT is currently in the state 'Assignable'. "
        "(1626172412406)"
    ]
    assert list(
        Hit.objects.filter(campaign=campaign, deleted_at__isnull=False).values_list("index", flat=True)
    ) == [1]
    # A deleted HIT is no longer synced.
    statuses = {"AssignmentStatuses": ["Submitted", "Approved", "Rejected"], "MaxResults": 100}
    stubber.add_response("list_assignments_for_hit", {"Assignments": []}, {"HITId": hit_id(0), **statuses})
    stubber.add_response("list_assignments_for_hit", {"Assignments": []}, {"HITId": hit_id(2), **statuses})
    assert mturk.campaign_sync(campaign, client=client).hits == 2
    stubber.assert_no_pending_responses()


def test_the_review_and_expire_tasks_take_an_id(
    mturk_campaign: Callable[..., Campaign], stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = stubbed
    monkeypatch.setattr(mturk, "mturk_client", lambda sandbox: client)
    campaign = mturk_campaign(fits=2)
    (hit,) = launched(campaign)
    done = work(hit, "A1ANN", "3ASSIGNANN")
    Assignment.objects.filter(pk=done.pk).update(bonus_cents=3)
    statuses = {"AssignmentStatuses": ["Submitted", "Approved", "Rejected"], "MaxResults": 100}
    stubber.add_response(
        "list_assignments_for_hit",
        {"Assignments": [mturk_assignment(hit, "3ASSIGNANN", "A1ANN", "Submitted")]},
        {"HITId": hit_id(0), **statuses},
    )
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "3ASSIGNANN", "RequesterFeedback": ANY})
    stubber.add_response(
        "send_bonus",
        {},
        {
            "WorkerId": "A1ANN",
            "BonusAmount": "0.03",
            "AssignmentId": "3ASSIGNANN",
            "Reason": mturk.BONUS_REASON,
            "UniqueRequestToken": ANY,
        },
    )
    report = review_mturk_campaign_task(campaign.pk)
    assert (report["sync"]["seen"], report["review"]["approved"], report["bonuses"]["paid_cents"]) == (
        1,
        1,
        3,
    )
    stubber.add_response("update_expiration_for_hit", {}, {"HITId": hit_id(0), "ExpireAt": mturk.EXPIRE_NOW})
    assert expire_mturk_campaign_task(campaign.pk) == {"expired": 1, "errors": []}
    stubber.assert_no_pending_responses()
