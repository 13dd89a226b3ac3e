"""The MTurk provider of crowd campaigns, through boto3 (client ``mturk``).

A campaign's life on MTurk, function by function:

1. ``campaign_launch``: checks (provider, draft, the https address MTurk frames, the budget with
   MTurk's fee, the account's balance), makes the "blocked" qualification once per side of MTurk,
   the campaign's HIT type once, then one MTurk HIT per app HIT, whose ExternalQuestion is the
   app's HIT page. Every id is stored as soon as MTurk answers, and every create carries a
   deterministic UniqueRequestToken: a launch that stopped half-way is finished by running it
   again, without duplicates.
2. ``campaign_sync`` (run for every open or closed MTurk campaign by ``mturk_campaigns_sync``,
   the periodic task's body): what MTurk says of each HIT's assignments (Submitted, Approved,
   Rejected) mapped onto the app's assignments; an assignment the app never issued is reported,
   never turned into votes.
3. ``assignments_review``: approve, reject (workers blocked by gold strikes) or soft-reject (paid
   on MTurk, left out of the results) submitted assignments; then ``bonuses_pay``.
4. ``campaign_expire`` and ``campaign_delete_hits`` at the end.

Blocking uses a custom "blocked" qualification with a ``DoesNotExist`` requirement on every HIT
type, never MTurk's own worker block (which marks the worker's account). ``worker_block_on_mturk``
sets it at once; ``workers_block_sync`` sends blocks and unblocks made in the app
(``webapp.crowd.assignments.worker_block`` by gold strikes, an admin's unblock).

Every function that talks to MTurk takes ``client=None``: by default ``mturk_client`` for the
campaign's side (sandbox or production); tests pass a client under ``botocore.stub.Stubber``.
Every call goes through ``mturk_call``, which retries only what may succeed later and raises
``MturkError`` otherwise. Money is in US cents in the app, a "0.10"-style string at MTurk.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from webapp.crowd.assignments import gold_record, hit_key, worker_block, worker_unblock
from webapp.crowd.models import Assignment, Campaign, Hit, MturkAccount, Provider, Worker
from webapp.crowd.services import campaign_renders_request

if TYPE_CHECKING:
    from mypy_boto3_mturk import MTurkClient
    from mypy_boto3_mturk.type_defs import AssignmentTypeDef, QualificationRequirementTypeDef

R = TypeVar("R")

#: The sandbox's requester API; production is boto3's default address for the region.
SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
EXTERNAL_QUESTION_XMLNS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
)
BLOCKED_QUALIFICATION_NAME = "EFT crowd: blocked"
BLOCKED_QUALIFICATION_DESCRIPTION = (
    "Workers who may no longer take this requester's HITs checking 3D body fits."
)
#: A past moment: UpdateExpirationForHIT with a time in the past expires the HIT now.
EXPIRE_NOW = datetime(2015, 1, 1, tzinfo=UTC)
#: What MTurk calls an assignment's status (the ones list_assignments_for_hit can return).
SUBMITTED, APPROVED, REJECTED = "Submitted", "Approved", "Rejected"
LIST_STATUSES = [SUBMITTED, APPROVED, REJECTED]
COMPARATORS = frozenset(
    {"LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo", "EqualTo", "NotEqualTo",
     "Exists", "DoesNotExist", "In", "NotIn"}
)  # fmt: skip

APPROVE_FEEDBACK = "Thank you: your answers were accepted."
SOFT_REJECT_FEEDBACK = "Thank you for your work."
BONUS_REASON = "A bonus for careful answers: thank you."
TITLES = {
    Campaign.Kind.VALIDATION: "Is this 3D body fit right? Look at a person and the body drawn over them",
    Campaign.Kind.AB: "Which 3D body fit is better? Compare two bodies drawn over one person",
}
DESCRIPTION = (
    "For each picture of a person, decide whether the 3D body drawn over them matches their pose "
    "(arms, legs, turn of the body). Check items with a known answer are mixed in."
)
KEYWORDS = "image, person, pose, 3D body, annotation, quick"

#: Error codes of a throttled call (MTurk says RequestError with "rate exceeded" too).
THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequests", "TooManyRequestsException"}
)


class MturkError(Exception):
    """MTurk refused a call, or failed it every time it was tried. ``code`` is MTurk's error code
    (RequestError, ServiceFault, ...), ``retryable`` whether the failure was of a kind that may go
    away (it was retried and still failed): batches stop on those and go on past the others."""

    def __init__(self, message: str, *, code: str = "", operation: str = "", retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.operation = operation
        self.retryable = retryable


# --- the client and the one way to call it ---------------------------------------------------


def mturk_client(sandbox: bool) -> MTurkClient:
    """A boto3 MTurk client for the sandbox (its own address) or production (boto3's default),
    in ``settings.MTURK_REGION``. Credentials come from boto3's usual chain (environment, shared
    files, an instance role). botocore's own retries are off: ``mturk_call`` owns retrying."""
    return boto3.client(
        "mturk",
        region_name=settings.MTURK_REGION,
        endpoint_url=(settings.MTURK_ENDPOINT_URL or SANDBOX_ENDPOINT) if sandbox else None,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60
        ),
    )


def _client(client: MTurkClient | None, sandbox: bool) -> MTurkClient:
    return client if client is not None else mturk_client(sandbox)


def _error_parts(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def retryable(exc: BaseException) -> bool:
    """Whether a failed call may succeed if tried again: MTurk's ServiceFault, throttling, and a
    lost or timed-out connection. Never a RequestError about the request itself."""
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        code, message = _error_parts(exc)
        if code == "ServiceFault" or code in THROTTLING_CODES:
            return True
        lowered = message.lower()
        return code == "RequestError" and ("rate exceeded" in lowered or "throttl" in lowered)
    return False


def mturk_call(
    method: Callable[..., R],
    /,
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int | None = None,
    first_pause: float | None = None,
    **params: Any,
) -> R:
    """``method(**params)`` (a bound client method, e.g. ``client.create_hit_type``), tried up to
    ``attempts`` times (settings.MTURK_RETRY_ATTEMPTS) while it fails in a way that may go away
    (``retryable``), pausing ``first_pause`` seconds (settings.MTURK_RETRY_SECONDS), then twice as
    long each time. Any other failure, or the last one, raises ``MturkError`` naming the call."""
    name = getattr(method, "__name__", "call")
    tries = max(1, settings.MTURK_RETRY_ATTEMPTS if attempts is None else attempts)
    pause = settings.MTURK_RETRY_SECONDS if first_pause is None else first_pause
    for attempt in range(1, tries + 1):
        try:
            return method(**params)
        except NoCredentialsError:
            raise MturkError(
                f"MTurk {name}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or an AWS profile or role)",
                code="NoCredentials",
                operation=name,
            ) from None
        except (ClientError, BotoConnectionError, HTTPClientError) as exc:
            again = retryable(exc)
            if again and attempt < tries:
                sleep(pause * 2 ** (attempt - 1))
                continue
            if isinstance(exc, ClientError):
                code, message = _error_parts(exc)
            else:
                code, message = type(exc).__name__, str(exc)
            tried = f" (tried {tries} times)" if again else ""
            raise MturkError(
                f"MTurk {name}: {code}: {message}{tried}", code=code, operation=name, retryable=again
            ) from exc
    raise AssertionError("unreachable")  # pragma: no cover


# --- money -----------------------------------------------------------------------------------


def dollars(cents: int) -> str:
    """US cents as MTurk writes an amount: 10 -> "0.10", 125 -> "1.25"."""
    return f"{cents // 100}.{cents % 100:02d}"


def cents_from_dollars(amount: str) -> int:
    """An MTurk amount ("10000.00") in whole US cents (rounded down)."""
    try:
        return int(Decimal(amount) * 100)
    except InvalidOperation:
        raise MturkError(f"MTurk answered an amount that is not a number: {amount!r}") from None


def mturk_fee_cents(reward_cents: int, assignments_per_hit: int) -> int:
    """MTurk's fee on one assignment's reward (or on one bonus: ``assignments_per_hit=1``).

    The rule (MTurk pricing since July 2015): 20% of the reward; 40% for HITs with 10 or more
    assignments (20% more); at least $0.01 per assignment or bonus. Rounded up to a whole cent,
    so the estimate never falls short. Premium qualifications (Masters) cost more and are not
    counted here."""
    percent = 40 if assignments_per_hit >= 10 else 20
    return max(1, math.ceil(reward_cents * percent / 100))


@dataclass(frozen=True)
class LaunchCost:
    hits: int
    assignments: int  # hits x votes_per_item
    reward_cents: int  # paid to workers
    fee_cents: int  # paid to MTurk
    total_cents: int


def launch_cost(campaign: Campaign, hits: int | None = None) -> LaunchCost:
    """What ``hits`` HITs of the campaign (all of them by default) cost on MTurk: every
    assignment's reward and MTurk's fee on it (``mturk_fee_cents``). Bonuses are paid later and
    are not part of it."""
    count = campaign.hits.count() if hits is None else hits
    assignments = count * campaign.votes_per_item
    reward = assignments * campaign.reward_cents
    fee = assignments * mturk_fee_cents(campaign.reward_cents, campaign.votes_per_item)
    return LaunchCost(count, assignments, reward, fee, reward + fee)


# --- the HIT page as MTurk sees it -----------------------------------------------------------


def hit_external_url(hit: Hit) -> str:
    """The address MTurk frames for a HIT: settings.MTURK_EXTERNAL_BASE_URL (the app's public
    https origin), the HIT page's path and its signed key."""
    base = settings.MTURK_EXTERNAL_BASE_URL.rstrip("/")
    return f"{base}{reverse('crowd:hit', kwargs={'hit_id': hit.pk})}?{urlencode({'key': hit_key(hit)})}"


def external_question(url: str) -> str:
    """An ExternalQuestion naming ``url`` (XML-escaped: ``&`` becomes ``&amp;``); FrameHeight 0
    lets MTurk's frame take the page's own height."""
    return (
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_XMLNS}">'
        f"<ExternalURL>{escape(url)}</ExternalURL><FrameHeight>0</FrameHeight>"
        "</ExternalQuestion>"
    )


def request_token(kind: str, *parts: object) -> str:
    """A UniqueRequestToken that is the same each time the same thing is asked for (a retried
    create is then recognised by MTurk) and differs between things; at most 64 characters.
    MTurk remembers a token for 24 hours."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:40]
    return f"eft-{kind}-{digest}"[:64]


def hit_request_token(hit: Hit) -> str:
    """The token of the create call of one app HIT (its campaign's row and side included, so two
    databases that reuse ids do not collide on one MTurk account)."""
    campaign = hit.campaign
    return request_token("hit", campaign.pk, campaign.created_at.isoformat(), campaign.sandbox, hit.pk)


def bonus_request_token(assignment: Assignment) -> str:
    return request_token(
        "bonus",
        assignment.pk,
        assignment.provider_assignment_id,
        assignment.worker_id,
        assignment.bonus_cents,
    )


# --- the "blocked" qualification -------------------------------------------------------------


def blocked_qualification(*, sandbox: bool, client: MTurkClient | None = None) -> str:
    """The id of the "blocked" qualification on one side of MTurk: made the first time, stored
    (``MturkAccount``) and found again later. When the app lost its record but MTurk has the
    qualification (MTurk refuses a second type of the same name), it is looked up by name."""
    account = MturkAccount.objects.filter(sandbox=sandbox).first()
    if account is not None:
        return account.blocked_qualification_id
    client = _client(client, sandbox)
    try:
        made = mturk_call(
            client.create_qualification_type,
            Name=BLOCKED_QUALIFICATION_NAME,
            Description=BLOCKED_QUALIFICATION_DESCRIPTION,
            Keywords="blocked",
            QualificationTypeStatus="Active",
        )
        qualification_id = made["QualificationType"].get("QualificationTypeId", "")
    except MturkError as exc:
        if exc.code != "RequestError":
            raise
        found = _qualification_named(client, BLOCKED_QUALIFICATION_NAME)
        if found is None:
            raise
        qualification_id = found
    if not qualification_id:
        raise MturkError("MTurk create_qualification_type answered no QualificationTypeId")
    account, _ = MturkAccount.objects.get_or_create(
        sandbox=sandbox, defaults={"blocked_qualification_id": qualification_id}
    )
    return account.blocked_qualification_id


def _qualification_named(client: MTurkClient, name: str) -> str | None:
    page = mturk_call(
        client.list_qualification_types,
        Query=name,
        MustBeRequestable=False,
        MustBeOwnedByCaller=True,
        MaxResults=100,
    )
    for qualification in page.get("QualificationTypes", []):
        if qualification.get("Name") == name and qualification.get("QualificationTypeId"):
            return qualification["QualificationTypeId"]
    return None


def _side_field(sandbox: bool) -> str:
    return "blocked_on_sandbox" if sandbox else "blocked_on_production"


def _check_mturk_worker(worker: Worker) -> None:
    if worker.provider != Provider.MTURK:
        raise ValidationError({"worker": f"worker {worker} is not an MTurk worker"})


def worker_block_on_mturk(
    worker: Worker, reason: str, *, sandbox: bool, client: MTurkClient | None = None
) -> None:
    """Block an MTurk worker: in the app (no new assignment, no vote) and on one side of MTurk
    (the blocked qualification, without a notification: it hides this requester's HITs)."""
    _check_mturk_worker(worker)
    worker_block(worker, reason)
    qualification_id = blocked_qualification(sandbox=sandbox, client=client)
    mturk_call(
        _client(client, sandbox).associate_qualification_with_worker,
        QualificationTypeId=qualification_id,
        WorkerId=worker.provider_id,
        IntegerValue=1,
        SendNotification=False,
    )
    Worker.objects.filter(pk=worker.pk).update(**{_side_field(sandbox): True})
    setattr(worker, _side_field(sandbox), True)


def worker_unblock_on_mturk(
    worker: Worker, *, sandbox: bool, client: MTurkClient | None = None, reason: str = ""
) -> None:
    """Lift an MTurk worker's block: in the app and on one side of MTurk (the qualification is
    removed; ``reason`` is shown to the worker). ``workers_block_sync`` clears the other side."""
    _check_mturk_worker(worker)
    worker_unblock(worker)
    account = MturkAccount.objects.filter(sandbox=sandbox).first()
    if account is not None and getattr(worker, _side_field(sandbox)):
        params: dict[str, Any] = {"Reason": reason} if reason else {}
        mturk_call(
            _client(client, sandbox).disassociate_qualification_from_worker,
            WorkerId=worker.provider_id,
            QualificationTypeId=account.blocked_qualification_id,
            **params,
        )
    Worker.objects.filter(pk=worker.pk).update(**{_side_field(sandbox): False})
    setattr(worker, _side_field(sandbox), False)


@dataclass
class BlockSyncSummary:
    blocked: int = 0
    unblocked: int = 0
    errors: list[str] = field(default_factory=list)


def workers_block_sync(*, sandbox: bool, client: MTurkClient | None = None) -> BlockSyncSummary:
    """Send the app's blocks to one side of MTurk: the blocked qualification is set on MTurk
    workers blocked in the app and removed from those unblocked since. Nothing before the side's
    qualification exists (the first launch there makes it). A refused call is recorded and the
    others go on."""
    summary = BlockSyncSummary()
    account = MturkAccount.objects.filter(sandbox=sandbox).first()
    if account is None:
        return summary
    side = _side_field(sandbox)
    to_block = Worker.objects.filter(provider=Provider.MTURK, blocked=True, **{side: False})
    to_unblock = Worker.objects.filter(provider=Provider.MTURK, blocked=False, **{side: True})
    if not to_block.exists() and not to_unblock.exists():
        return summary
    client = _client(client, sandbox)
    for worker in to_block.order_by("pk"):
        try:
            mturk_call(
                client.associate_qualification_with_worker,
                QualificationTypeId=account.blocked_qualification_id,
                WorkerId=worker.provider_id,
                IntegerValue=1,
                SendNotification=False,
            )
        except MturkError as exc:
            _record(summary.errors, exc, f"worker {worker.provider_id}")
            continue
        Worker.objects.filter(pk=worker.pk).update(**{side: True})
        summary.blocked += 1
    for worker in to_unblock.order_by("pk"):
        try:
            mturk_call(
                client.disassociate_qualification_from_worker,
                WorkerId=worker.provider_id,
                QualificationTypeId=account.blocked_qualification_id,
            )
        except MturkError as exc:
            _record(summary.errors, exc, f"worker {worker.provider_id}")
            continue
        Worker.objects.filter(pk=worker.pk).update(**{side: False})
        summary.unblocked += 1
    return summary


def _record(errors: list[str], exc: MturkError, what: str) -> None:
    """A refused call in a batch: noted, and the batch goes on. A failure that may go away and
    did not (MTurk or the network down) stops the batch: every other call would fail too."""
    if exc.retryable:
        raise exc
    errors.append(f"{what}: {exc.message}")


# --- launch ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchResult:
    hit_type_id: str
    hits_made: int  # by this run
    hits_total: int
    cost: LaunchCost


def _requirements(campaign: Campaign, blocked_id: str) -> list[QualificationRequirementTypeDef]:
    """The campaign's own qualification requirements, then the blocked qualification, which a
    worker must not have to find, preview or accept the HITs."""
    own: list[QualificationRequirementTypeDef] = list(campaign.qualification_requirements)
    return [
        *own,
        {
            "QualificationTypeId": blocked_id,
            "Comparator": "DoesNotExist",
            "ActionsGuarded": "DiscoverPreviewAndAccept",
        },
    ]


def _check_requirements(value: Any) -> None:
    field_name = "qualification_requirements"
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ValidationError({field_name: "must be a list of MTurk QualificationRequirement objects"})
    for n, requirement in enumerate(value):
        type_id = requirement.get("QualificationTypeId")
        if not isinstance(type_id, str) or not type_id:
            raise ValidationError({field_name: f"requirement {n} has no QualificationTypeId"})
        if requirement.get("Comparator") not in COMPARATORS:
            raise ValidationError(
                {field_name: f"requirement {n}: Comparator must be one of {sorted(COMPARATORS)}"}
            )


def _check_launch(campaign: Campaign) -> LaunchCost:
    """Every refusal a launch can meet before it asks MTurk anything; nothing is written."""
    if campaign.provider != Provider.MTURK:
        raise ValidationError({"provider": f"campaign {campaign.name!r} is not an MTurk campaign"})
    if campaign.state != Campaign.State.DRAFT:
        raise ValidationError(
            {"state": f"campaign {campaign.name!r} is {campaign.state}: only a draft campaign is launched"}
        )
    if not settings.MTURK_ENABLED:
        raise ValidationError("MTurk is not enabled here (MTURK_ENABLED=false)")
    if not campaign.sandbox and settings.MTURK_SANDBOX:
        raise ValidationError(
            {"sandbox": "this app is set up for the MTurk sandbox (MTURK_SANDBOX=true): a campaign that "
             "pays real workers (sandbox off) cannot be launched from it"}
        )  # fmt: skip
    base = urlsplit(settings.MTURK_EXTERNAL_BASE_URL)
    if base.scheme != "https" or not base.netloc or base.query or base.fragment:
        raise ValidationError(
            "MTURK_EXTERNAL_BASE_URL must be the app's public https:// address (MTurk frames HTTPS "
            f"pages only); it is {settings.MTURK_EXTERNAL_BASE_URL!r}"
        )
    if campaign.reward_cents < 1:
        raise ValidationError({"reward_cents": "an MTurk HIT pays at least 1 cent"})
    _check_requirements(campaign.qualification_requirements)
    cost = launch_cost(campaign)
    if cost.hits == 0:
        raise ValidationError({"state": f"campaign {campaign.name!r} has no HIT"})
    if campaign.budget_cents <= 0:
        raise ValidationError(
            {"budget_cents": "an MTurk campaign needs a budget: its HITs cost "
             f"{dollars(cost.total_cents)} USD with MTurk's fee"}
        )  # fmt: skip
    if cost.total_cents > campaign.budget_cents:
        raise ValidationError(
            {"budget_cents": f"the HITs cost {dollars(cost.total_cents)} USD ({cost.assignments} assignments "
             f"at {dollars(campaign.reward_cents)} plus MTurk's fee of {dollars(cost.fee_cents)}), more than "
             f"the budget of {dollars(campaign.budget_cents)} USD"}
        )  # fmt: skip
    return cost


def campaign_launch(campaign: Campaign, *, client: MTurkClient | None = None) -> LaunchResult:
    """Put a draft MTurk campaign's HITs on MTurk and open it.

    Refused with a ValidationError (nothing written, nothing made on MTurk) unless the campaign
    is an MTurk draft, MTurk is enabled, a production campaign is not launched from a sandbox
    set-up, MTURK_EXTERNAL_BASE_URL is https, the budget is set and covers every assignment with
    MTurk's fee (``launch_cost``), every picture is drawn (missing ones are asked for), and the
    account's available balance covers the HITs still to make.

    Then: the blocked qualification (once per side), the HIT type (once; its id stored), and one
    ``create_hit_with_hit_type`` per HIT without an MTurk id, each id stored as soon as MTurk
    answers. A failure half-way raises ``MturkError`` saying how far it got, records it on the
    campaign (``provider_error``) and leaves the campaign a draft; running the launch again
    skips the HITs made and makes the rest (each create's UniqueRequestToken is deterministic,
    so a HIT made just before a crash is recognised by MTurk, not made twice). The campaign is
    open once every HIT exists.
    """
    cost = _check_launch(campaign)
    waiting = campaign_renders_request(campaign)
    if waiting:
        raise ValidationError(
            f"{waiting} pictures of the campaign's items are still being drawn: launch once they are"
        )
    client = _client(client, campaign.sandbox)
    todo = list(campaign.hits.filter(provider_hit_id="").order_by("index"))
    balance = mturk_call(client.get_account_balance)
    available = cents_from_dollars(balance.get("AvailableBalance", "0"))
    needed = launch_cost(campaign, len(todo)).total_cents
    if needed > available:
        raise ValidationError(
            f"the MTurk account's available balance is {dollars(available)} USD; the HITs still to make "
            f"cost {dollars(needed)} USD with MTurk's fee"
        )
    made = 0
    try:
        blocked_id = blocked_qualification(sandbox=campaign.sandbox, client=client)
        if not campaign.hit_type_id:
            hit_type = mturk_call(
                client.create_hit_type,
                Title=TITLES[Campaign.Kind(campaign.kind)],
                Description=DESCRIPTION,
                Reward=dollars(campaign.reward_cents),
                AssignmentDurationInSeconds=settings.CROWD_ASSIGNMENT_SECONDS,
                AutoApprovalDelayInSeconds=settings.MTURK_AUTO_APPROVAL_SECONDS,
                Keywords=KEYWORDS,
                QualificationRequirements=_requirements(campaign, blocked_id),
            )
            campaign.hit_type_id = hit_type["HITTypeId"]
            Campaign.objects.filter(pk=campaign.pk).update(hit_type_id=campaign.hit_type_id)
        for hit in todo:
            hit.campaign = campaign
            hit.provider_hit_id = _hit_create(client, campaign, hit)
            Hit.objects.filter(pk=hit.pk).update(provider_hit_id=hit.provider_hit_id)
            made += 1
    except MturkError as exc:
        total = len(todo)
        message = (
            f"the launch stopped after {made} of the {total} HITs still to make: {exc.message}. "
            "The HITs made are recorded: launch again to make the rest."
        )
        campaign.provider_error = message
        Campaign.objects.filter(pk=campaign.pk).update(provider_error=message)
        raise MturkError(message, code=exc.code, operation=exc.operation, retryable=exc.retryable) from exc
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.DRAFT).update(
        state=Campaign.State.OPEN, launched_at=now, provider_error=""
    )
    campaign.state, campaign.launched_at, campaign.provider_error = Campaign.State.OPEN, now, ""
    return LaunchResult(campaign.hit_type_id, made, cost.hits, cost)


def campaign_launch_recorded(campaign: Campaign, *, client: MTurkClient | None = None) -> LaunchResult:
    """``campaign_launch`` for work that nobody watches (the launch task): a refusal is also
    recorded on the campaign (``provider_error``, shown on its page) before it is raised."""
    try:
        return campaign_launch(campaign, client=client)
    except ValidationError as exc:
        message = "the launch was refused: " + "; ".join(exc.messages)
        Campaign.objects.filter(pk=campaign.pk).update(provider_error=message[:2000])
        campaign.provider_error = message[:2000]
        raise


_HIT_ID = re.compile(r"\b(?=[A-Z0-9]*[A-Z])[A-Z0-9]{20,64}\b")


def _hit_create(client: MTurkClient, campaign: Campaign, hit: Hit) -> str:
    """One MTurk HIT for an app HIT; its HITId. When MTurk already made it under this token (a
    create whose answer was lost), its error message names the HIT: that id is the answer."""
    try:
        made = mturk_call(
            client.create_hit_with_hit_type,
            HITTypeId=campaign.hit_type_id,
            MaxAssignments=campaign.votes_per_item,
            LifetimeInSeconds=settings.MTURK_HIT_LIFETIME_SECONDS,
            Question=external_question(hit_external_url(hit)),
            RequesterAnnotation=f"EFT crowd campaign {campaign.pk} ({campaign.name[:150]}), HIT {hit.pk}",
            UniqueRequestToken=hit_request_token(hit),
        )
    except MturkError as exc:
        cause = exc.__cause__
        if exc.code == "RequestError" and isinstance(cause, ClientError):
            _, message = _error_parts(cause)
            if "HitAlreadyExists" in f"{cause.response.get('TurkErrorCode', '')} {message}":
                found = _HIT_ID.findall(message)
                if found:
                    return str(found[-1])
        raise
    hit_id = made["HIT"].get("HITId", "")
    if not hit_id:
        raise MturkError(
            "MTurk create_hit_with_hit_type answered no HITId", operation="create_hit_with_hit_type"
        )
    return hit_id


# --- sync ------------------------------------------------------------------------------------


@dataclass
class SyncSummary:
    hits: int = 0  # HITs asked about
    seen: int = 0  # MTurk assignments listed
    submitted: int = 0  # app assignments that became submitted
    approved: int = 0  # ... approved (by this app's review, or MTurk's auto-approval)
    rejected: int = 0  # ... rejected
    unknown: list[str] = field(default_factory=list)  # "AssignmentId (WorkerId)" the app never issued
    incomplete: list[str] = field(default_factory=list)  # submitted on MTurk with items unanswered here
    errors: list[str] = field(default_factory=list)


def _assignments_of(client: MTurkClient, hit_id: str) -> Iterator[AssignmentTypeDef]:
    """Every Submitted, Approved or Rejected assignment of an MTurk HIT, page by page."""
    token = ""
    while True:
        params: dict[str, Any] = {"HITId": hit_id, "AssignmentStatuses": LIST_STATUSES, "MaxResults": 100}
        if token:
            params["NextToken"] = token
        page = mturk_call(client.list_assignments_for_hit, **params)
        found = page.get("Assignments", [])
        yield from found
        token = page.get("NextToken", "")
        if not token or not found:
            return


def _app_assignment(hit: Hit, mturk: AssignmentTypeDef) -> Assignment | None:
    """The app's assignment an MTurk assignment is: by its id, else by HIT and worker (a worker
    who took the HIT again under a new id without opening the page since). None when the app
    never issued it, or the ids disagree on the worker."""
    assignment_id, worker_id = mturk.get("AssignmentId", ""), mturk.get("WorkerId", "")
    found = (
        Assignment.objects.select_related("worker")
        .filter(hit=hit, provider_assignment_id=assignment_id)
        .first()
    )
    if found is not None:
        return found if found.worker.provider_id == worker_id else None
    found = (
        Assignment.objects.select_related("worker")
        .filter(hit=hit, worker__provider=Provider.MTURK, worker__provider_id=worker_id)
        .first()
    )
    if found is not None:
        found.provider_assignment_id = assignment_id
        Assignment.objects.filter(pk=found.pk).update(provider_assignment_id=assignment_id)
    return found


def _apply(assignment: Assignment, mturk: AssignmentTypeDef, summary: SyncSummary) -> None:
    """MTurk's word on one assignment, onto the app's: Submitted makes a complete accepted
    assignment submitted; Approved and Rejected are decisions (an assignment the app rejected
    and MTurk approved was soft-rejected: it stays rejected)."""
    status = mturk.get("AssignmentStatus", "")
    changes: dict[str, Any] = {}
    state = assignment.state
    now = timezone.now()
    if status == SUBMITTED and state in (Assignment.State.ACCEPTED, Assignment.State.EXPIRED):
        if assignment.votes.count() >= len(assignment.plan):
            changes = {"state": Assignment.State.SUBMITTED, "submitted_at": mturk.get("SubmitTime") or now}
            summary.submitted += 1
        else:
            summary.incomplete.append(
                f"{assignment.provider_assignment_id} ({assignment.worker.provider_id})"
            )
    elif status == APPROVED and state not in (Assignment.State.APPROVED, Assignment.State.REJECTED):
        changes = {"state": Assignment.State.APPROVED, "reviewed_at": mturk.get("ApprovalTime") or now}
        summary.approved += 1
    elif status == REJECTED and state != Assignment.State.REJECTED:
        changes = {"state": Assignment.State.REJECTED, "reviewed_at": mturk.get("RejectionTime") or now}
        if not assignment.feedback and mturk.get("RequesterFeedback"):
            changes["feedback"] = mturk.get("RequesterFeedback", "")[:1000]
        summary.rejected += 1
    if status != assignment.provider_status:
        changes["provider_status"] = status
    if changes:
        if "submitted_at" in changes and assignment.submitted_at is not None:
            del changes["submitted_at"]
        Assignment.objects.filter(pk=assignment.pk).update(**changes)
        for name, value in changes.items():
            setattr(assignment, name, value)


def campaign_sync(campaign: Campaign, *, client: MTurkClient | None = None) -> SyncSummary:
    """What MTurk says of the campaign's assignments, onto the app's (see ``_apply``): every
    MTurk HIT of the campaign not deleted, every page of its Submitted, Approved and Rejected
    assignments. An MTurk assignment the app never issued, or whose worker it does not know, is
    listed as unknown and nothing is made of it (no worker, no vote). A HIT MTurk refuses to
    list is noted and the others go on. The campaign's ``synced_at`` and ``provider_error`` say
    how it went."""
    summary = SyncSummary()
    hits = list(campaign.hits.exclude(provider_hit_id="").filter(deleted_at=None).order_by("index"))
    if not hits:
        Campaign.objects.filter(pk=campaign.pk).update(synced_at=timezone.now())
        return summary
    client = _client(client, campaign.sandbox)
    for hit in hits:
        summary.hits += 1
        try:
            for mturk in _assignments_of(client, hit.provider_hit_id):
                summary.seen += 1
                assignment = _app_assignment(hit, mturk)
                if assignment is None:
                    summary.unknown.append(f"{mturk.get('AssignmentId', '')} ({mturk.get('WorkerId', '')})")
                    continue
                _apply(assignment, mturk, summary)
        except MturkError as exc:
            if exc.retryable:
                Campaign.objects.filter(pk=campaign.pk).update(provider_error=f"sync: {exc.message}")
                raise
            _record(summary.errors, exc, f"HIT {hit.provider_hit_id}")
    error = "sync: " + "; ".join(summary.errors) if summary.errors else ""
    Campaign.objects.filter(pk=campaign.pk).update(synced_at=timezone.now(), provider_error=error[:5000])
    return summary


def mturk_campaigns_sync() -> dict[str, Any]:
    """The periodic task's body: ``campaign_sync`` for every open or closed MTurk campaign that
    was launched (or began to be), then ``workers_block_sync`` on each side of MTurk in use.
    Nothing unless settings.MTURK_ENABLED. A campaign whose sync fails does not stop the others.
    Returns a report by campaign id and side."""
    if not settings.MTURK_ENABLED:
        return {"enabled": False}
    clients: dict[bool, MTurkClient] = {}

    def client_for(sandbox: bool) -> MTurkClient:
        if sandbox not in clients:
            clients[sandbox] = mturk_client(sandbox)
        return clients[sandbox]

    report: dict[str, Any] = {"enabled": True, "campaigns": {}, "blocks": {}}
    campaigns = Campaign.objects.filter(
        provider=Provider.MTURK, state__in=(Campaign.State.OPEN, Campaign.State.CLOSED)
    ).exclude(hit_type_id="")
    sides: set[bool] = set()
    for campaign in campaigns.order_by("pk"):
        sides.add(campaign.sandbox)
        try:
            summary = campaign_sync(campaign, client=client_for(campaign.sandbox))
        except MturkError as exc:
            report["campaigns"][str(campaign.pk)] = {"error": exc.message}
            continue
        report["campaigns"][str(campaign.pk)] = {
            "seen": summary.seen, "submitted": summary.submitted, "approved": summary.approved,
            "rejected": summary.rejected, "unknown": len(summary.unknown), "errors": len(summary.errors),
        }  # fmt: skip
    for sandbox in sorted(sides):
        name = "sandbox" if sandbox else "production"
        try:
            blocks = workers_block_sync(sandbox=sandbox, client=client_for(sandbox))
        except MturkError as exc:
            report["blocks"][name] = {"error": exc.message}
            continue
        report["blocks"][name] = {
            "blocked": blocks.blocked,
            "unblocked": blocks.unblocked,
            "errors": len(blocks.errors),
        }
    return report


# --- review and bonuses ----------------------------------------------------------------------


@dataclass
class ReviewSummary:
    approved: int = 0
    rejected: int = 0
    soft_rejected: int = 0  # paid on MTurk, left out of the results here
    errors: list[str] = field(default_factory=list)


def gold_failed(worker: Worker) -> bool:
    """Whether a worker's gold record is a failing one: CROWD_GOLD_STRIKES wrong gold answers or
    more and a gold accuracy under CROWD_GOLD_MIN_ACCURACY (the rule that blocks it)."""
    seen, wrong = gold_record(worker)
    return (
        seen > 0
        and wrong >= settings.CROWD_GOLD_STRIKES
        and (seen - wrong) / seen < settings.CROWD_GOLD_MIN_ACCURACY
    )


def _reject_feedback(worker: Worker) -> str:
    seen, wrong = gold_record(worker)
    return (
        f"Rejected: {wrong} of your {seen} answers on check items (fits whose right answer is known) "
        "were wrong, below the accuracy this task requires."
    )


def assignments_review(
    campaign: Campaign, *, client: MTurkClient | None = None, soft_reject: bool = False
) -> ReviewSummary:
    """Decide the campaign's submitted assignments that MTurk holds as Submitted (run
    ``campaign_sync`` first; the periodic task does):

    - a worker not blocked: approved, here and on MTurk (paid), with a word of thanks;
    - a worker blocked by gold strikes (``gold_failed``): rejected on MTurk, saying why, and here;
      with ``soft_reject`` it is soft-rejected instead;
    - a worker blocked for another reason, or soft-rejected: rejected here (its votes are left out
      of the results) but approved on MTurk: paid, and its record there not harmed.

    Each decision is sent to MTurk first and recorded here after (state, ``provider_status``,
    ``reviewed_at``, ``feedback``). A call MTurk refuses (say, an assignment approved already by
    MTurk's auto-approval) is noted and the batch goes on; the next sync records MTurk's word.
    Assignments submitted on MTurk but unfinished here are not decided (``SyncSummary.incomplete``):
    MTurk approves them after MTURK_AUTO_APPROVAL_SECONDS unless someone decides.
    """
    summary = ReviewSummary()
    todo = (
        Assignment.objects.select_related("worker")
        .filter(hit__campaign=campaign, state=Assignment.State.SUBMITTED, provider_status=SUBMITTED)
        .exclude(provider_assignment_id="")
        .order_by("pk")
    )
    if not todo.exists():
        return summary
    client = _client(client, campaign.sandbox)
    for assignment in todo:
        worker = assignment.worker
        if not worker.blocked:
            verdict, pay, feedback = Assignment.State.APPROVED, True, APPROVE_FEEDBACK
        elif gold_failed(worker) and not soft_reject:
            verdict, pay, feedback = Assignment.State.REJECTED, False, _reject_feedback(worker)
        else:
            verdict, pay, feedback = Assignment.State.REJECTED, True, SOFT_REJECT_FEEDBACK
        try:
            if pay:
                mturk_call(
                    client.approve_assignment,
                    AssignmentId=assignment.provider_assignment_id,
                    RequesterFeedback=feedback,
                )
            else:
                mturk_call(
                    client.reject_assignment,
                    AssignmentId=assignment.provider_assignment_id,
                    RequesterFeedback=feedback,
                )
        except MturkError as exc:
            _record(summary.errors, exc, f"assignment {assignment.provider_assignment_id}")
            continue
        Assignment.objects.filter(pk=assignment.pk).update(
            state=verdict,
            provider_status=APPROVED if pay else REJECTED,
            reviewed_at=timezone.now(),
            feedback=feedback[:1000],
        )
        if verdict == Assignment.State.APPROVED:
            summary.approved += 1
        elif pay:
            summary.soft_rejected += 1
        else:
            summary.rejected += 1
    return summary


@dataclass
class BonusSummary:
    paid: int = 0
    paid_cents: int = 0
    errors: list[str] = field(default_factory=list)


def bonuses_pay(
    campaign: Campaign, *, client: MTurkClient | None = None, reason: str = BONUS_REASON
) -> BonusSummary:
    """Pay the bonuses owed on the campaign's approved assignments (``bonus_cents`` above 0, not
    paid yet), in one batch after review: MTurk refuses a bonus on an assignment still in flight.
    Each ``send_bonus`` carries a deterministic UniqueRequestToken, so a batch run again after a
    crash does not pay twice (MTurk answers that the token was processed already: recorded as
    paid). A refused bonus is noted and the batch goes on. MTurk's fee on a bonus is at least
    20% (``mturk_fee_cents``), taken from the account's balance."""
    summary = BonusSummary()
    owed = (
        Assignment.objects.select_related("worker")
        .filter(
            hit__campaign=campaign,
            state=Assignment.State.APPROVED,
            provider_status=APPROVED,
            bonus_cents__gt=0,
            bonus_paid_at=None,
        )
        .exclude(provider_assignment_id="")
        .order_by("pk")
    )
    if not owed.exists():
        return summary
    client = _client(client, campaign.sandbox)
    for assignment in owed:
        try:
            mturk_call(
                client.send_bonus,
                WorkerId=assignment.worker.provider_id,
                BonusAmount=dollars(assignment.bonus_cents),
                AssignmentId=assignment.provider_assignment_id,
                Reason=reason,
                UniqueRequestToken=bonus_request_token(assignment),
            )
        except MturkError as exc:
            lowered = exc.message.lower()
            if not (exc.code == "RequestError" and "token" in lowered and "already" in lowered):
                _record(summary.errors, exc, f"bonus on {assignment.provider_assignment_id}")
                continue
        Assignment.objects.filter(pk=assignment.pk).update(bonus_paid_at=timezone.now())
        summary.paid += 1
        summary.paid_cents += assignment.bonus_cents
    return summary


# --- the end of a campaign -------------------------------------------------------------------


@dataclass
class ExpireSummary:
    expired: int = 0
    errors: list[str] = field(default_factory=list)


def campaign_expire(campaign: Campaign, *, client: MTurkClient | None = None) -> ExpireSummary:
    """Expire every MTurk HIT of the campaign now (no new worker can accept it; workers holding
    an assignment may still finish it, so the campaign itself stays as it is: close it once they
    have). A HIT MTurk refuses to expire is noted and the others go on."""
    summary = ExpireSummary()
    hits = (
        campaign.hits.exclude(provider_hit_id="").filter(expired_at=None, deleted_at=None).order_by("index")
    )
    if not hits.exists():
        return summary
    client = _client(client, campaign.sandbox)
    for hit in hits:
        try:
            mturk_call(client.update_expiration_for_hit, HITId=hit.provider_hit_id, ExpireAt=EXPIRE_NOW)
        except MturkError as exc:
            _record(summary.errors, exc, f"HIT {hit.provider_hit_id}")
            continue
        Hit.objects.filter(pk=hit.pk).update(expired_at=timezone.now())
        summary.expired += 1
    return summary


@dataclass
class DeleteSummary:
    deleted: int = 0
    remaining: int = 0  # HITs still on MTurk: undecided assignments, or refused
    errors: list[str] = field(default_factory=list)


def campaign_delete_hits(campaign: Campaign, *, client: MTurkClient | None = None) -> DeleteSummary:
    """Delete (dispose of) the campaign's MTurk HITs. MTurk deletes a HIT only once it is
    reviewable (expired, or every assignment submitted) and every submitted assignment is
    approved or rejected: a HIT with an assignment the app knows is still Submitted is not asked
    about; one MTurk refuses is noted. Both count as remaining; run it again later."""
    summary = DeleteSummary()
    hits = campaign.hits.exclude(provider_hit_id="").filter(deleted_at=None).order_by("index")
    if not hits.exists():
        return summary
    client = _client(client, campaign.sandbox)
    for hit in hits:
        if hit.assignments.filter(provider_status=SUBMITTED).exists():
            summary.remaining += 1
            continue
        try:
            mturk_call(client.delete_hit, HITId=hit.provider_hit_id)
        except MturkError as exc:
            _record(summary.errors, exc, f"HIT {hit.provider_hit_id}")
            summary.remaining += 1
            continue
        Hit.objects.filter(pk=hit.pk).update(deleted_at=timezone.now())
        summary.deleted += 1
    return summary


def mturk_campaign(campaign_id: int) -> Campaign:
    """An MTurk campaign by id (tasks take ids)."""
    campaign = Campaign.objects.filter(pk=campaign_id, provider=Provider.MTURK).first()
    if campaign is None:
        raise ValidationError({"campaign": f"there is no MTurk campaign {campaign_id}"})
    return campaign
