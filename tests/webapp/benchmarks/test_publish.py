"""Publishing: the unanimous rule over raw votes, an immutable content-hashed EFT JSON file with
truncation boxes, the same bytes when published again, researcher pages and downloads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from webapp.benchmarks.models import BenchmarkVersion
from webapp.benchmarks.services import benchmark_create, version_build, version_publish_request
from webapp.crowd.assignments import assignment_next_inhouse, assignment_token, vote_record
from webapp.crowd.models import Campaign
from webapp.crowd.services import (
    campaign_create_ab,
    campaign_create_validation,
    campaign_open,
    worker_for_user,
)
from webapp.fits.models import FitJob

pytestmark = pytest.mark.django_db

#: Per item (in the campaign's item order): the three workers' answers.
ANSWERS = [
    ("accept", "accept", "accept"),  # accepted
    ("accept", "accept", "reject"),  # rejected by unanimity, accepted by 2 of 3
    ("reject", "reject", "reject"),  # rejected
    ("accept", "accept", "accept"),  # accepted
]


def _voted_campaign(job: FitJob) -> Campaign:
    campaign = campaign_open(
        campaign_create_validation(name=f"c{job.pk}", job=job, items_per_hit=4, gold_rate=0.0)
    )
    order = list(campaign.items.order_by("id").values_list("id", flat=True))
    for w in range(3):
        user = get_user_model().objects.create_user(username=f"w{job.pk}-{w}", password="a-long-passphrase-1")
        assignment = assignment_next_inhouse(worker_for_user(user))
        assert assignment is not None
        token = assignment_token(assignment)
        for step, item in enumerate(assignment.item_ids()):
            vote_record(token=token, step=step, answer=ANSWERS[order.index(item)][w], seconds=2.0)
    return campaign


def _publish(benchmark: Any, campaign: Campaign, **options: Any) -> BenchmarkVersion:
    version = version_publish_request(benchmark=benchmark, campaigns=[campaign], enqueue=False, **options)
    return version_build(version_id=version.pk)


def test_a_version_holds_the_unanimously_accepted_fits(fit_job_with_fits: Callable[..., FitJob]) -> None:
    job = fit_job_with_fits(4)
    campaign = _voted_campaign(job)
    benchmark = benchmark_create(name="Synthetic people, validated")
    version = _publish(benchmark, campaign)
    assert version.status == "done", version.error
    assert version.number == 1
    with default_storage.open(version.file.name, "rb") as handle:
        content = handle.read()
    assert hashlib.sha256(content).hexdigest() == version.sha256
    assert version.file.name == f"benchmarks/synthetic-people-validated/{version.sha256}.json"
    assert version.size == len(content)
    document = json.loads(content)
    assert set(document) == {"ver", "data", "meta"}
    # Written entry by entry, it is exactly the canonical form of the whole document.
    from webapp.benchmarks.services import canonical_json

    assert canonical_json(document) == content
    assert document["meta"]["dbname"] == "synthetic-people-validated"
    order = list(campaign.items.order_by("id"))
    accepted = {order[0].fit.person.source_annotation_id, order[3].fit.person.source_annotation_id}
    assert {str(e["annotId"]) for e in document["data"]} == accepted
    for entry in document["data"]:
        assert {"parm_pose", "parm_shape", "parm_cam", "bbox_scale", "bbox_center", "gt_keypoint_2d",
                "joint_validity_openpose18", "smpltype", "annotId", "imageName", "fit",
                "truncation_boxes"} <= set(entry)  # fmt: skip
        assert [b["level"] for b in entry["truncation_boxes"]] == list(range(8))
        # What the crowd said, beside the fit: 3 accepts of 3, and Dawid-Skene's posterior.
        (said,) = entry["crowd"]
        assert (said["votes"], said["accepts"], said["majority_accepts"]) == (3, 3, True)
        assert 0.5 < said["dawid_skene_accept"] <= 1.0
    card = version.card
    assert (card["items_judged"], card["accepted_unanimous"], card["people"]) == (4, 2, 2)
    assert card["rejection_rate_unanimous"] == 0.5
    assert card["rejection_rate_two_of_three"] == 0.25
    assert card["votes"] == 12
    assert card["workers"] == 3
    assert card["accepted_majority"] == 3
    assert card["accepts_per_item"] == [1, 0, 1, 2]  # 0, 1, 2, 3 accepts of 3
    assert card["per_dataset"] == [{
        "dataset": job.dataset.name, "initial": 4, "final": 2, "rejection_rate": 0.5,
        "rejection_rate_two_of_three": 0.25,
    }]  # fmt: skip
    assert sum(card["dawid_skene_histogram"]) == 4
    assert 2 <= card["accepted_dawid_skene_095"] <= 3
    # The 2-of-3 rule accepts the split item too.
    lenient = _publish(benchmark, campaign, rule="two_of_three")
    assert lenient.people == 3
    assert lenient.number == 2


def test_publishing_again_gives_the_same_bytes_and_never_changes_an_old_version(
    fit_job_with_fits: Callable[..., FitJob],
) -> None:
    campaign = _voted_campaign(fit_job_with_fits(4))
    benchmark = benchmark_create(name="again")
    first = _publish(benchmark, campaign)
    second = _publish(benchmark, campaign)
    assert second.number == first.number + 1
    assert second.sha256 == first.sha256
    with default_storage.open(first.file.name, "rb") as a, default_storage.open(second.file.name, "rb") as b:
        assert a.read() == b.read()
    # Building a version twice (a worker delivered the task again) leaves it as it was.
    assert version_build(version_id=first.pk).sha256 == first.sha256
    # New votes make a new version; the old file is untouched.
    other = _voted_campaign(fit_job_with_fits(4))
    third = version_publish_request(benchmark=benchmark, campaigns=[campaign, other], enqueue=False)
    third = version_build(version_id=third.pk)
    assert third.people == 4
    assert third.sha256 != first.sha256
    with default_storage.open(first.file.name, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == first.sha256


def test_a_lost_publishing_worker_is_swept_and_the_version_built(
    fit_job_with_fits: Callable[..., FitJob],
) -> None:
    from tasks.sweep import SWEPT
    from webapp.core.taskstate import sweep_stale_work

    campaign = _voted_campaign(fit_job_with_fits(4))
    version = version_publish_request(
        benchmark=benchmark_create(name="lost"), campaigns=[campaign], enqueue=False
    )
    long_ago = timezone.now() - timedelta(hours=2)
    BenchmarkVersion.objects.filter(pk=version.pk).update(
        status="running", attempts=1, worker="dead@host", claimed_at=long_ago, heartbeat_at=long_ago
    )
    assert sweep_stale_work(SWEPT)["benchmark versions"]["requeued"] == 1
    version.refresh_from_db()
    assert version.status in ("queued", "done")  # eager Celery builds it as it is sent
    built = version_build(version_id=version.pk)
    assert built.status == "done"
    assert built.people == 2


def test_only_validation_campaigns_with_votes_are_published(fit_job_with_fits: Callable[..., FitJob]) -> None:
    job = fit_job_with_fits(2)
    benchmark = benchmark_create(name="refusals")
    draft = campaign_create_validation(name="draft", job=job)
    with pytest.raises(ValidationError, match="is a draft: it has no votes"):
        version_publish_request(benchmark=benchmark, campaigns=[draft], enqueue=False)
    with pytest.raises(ValidationError, match="choose at least one campaign"):
        version_publish_request(benchmark=benchmark, campaigns=[], enqueue=False)
    assert BenchmarkVersion.objects.count() == 0


def test_researcher_pages_downloads_and_private_benchmarks(
    fit_job_with_fits: Callable[..., FitJob], staff_client: Client
) -> None:
    campaign = _voted_campaign(fit_job_with_fits(4))
    public = benchmark_create(name="Open one")
    secret = benchmark_create(name="Lab only", private=True)
    version = _publish(public, campaign)
    _publish(secret, campaign)
    anonymous = Client()
    listing = anonymous.get("/benchmarks/").content.decode()
    assert "Open one" in listing
    assert "Lab only" not in listing
    assert anonymous.get("/benchmarks/lab-only/").status_code == 404
    assert anonymous.get("/benchmarks/lab-only/v1/download.json").status_code == 404
    page = anonymous.get("/benchmarks/open-one/v1/").content.decode()
    assert version.sha256 in page
    assert "pose2rot=False" in page
    download = anonymous.get("/benchmarks/open-one/v1/download.json")
    assert download.status_code == 200
    assert download["ETag"] == f'"{version.sha256}"'
    assert 'filename="open-one-v1.json"' in download["Content-Disposition"]
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == version.sha256  # type: ignore[attr-defined]
    # The zip: the same JSON, the card, and the open body's files for the card's code.
    import io
    import zipfile

    archive = anonymous.get("/benchmarks/open-one/v1/download.zip")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as bundle:  # type: ignore[attr-defined]
        names = set(bundle.namelist())
        body = {"body/SMPL_NEUTRAL.pkl", "body/J_regressor_extra.npy", "body/vertex_ids.json",
                "body/spin49_from_smpl54.json"}  # fmt: skip
        assert names == {"open-one-v1.json", "CARD.md", "plots.png"} | body
        assert bundle.read("plots.png").startswith(b"\x89PNG")
        assert hashlib.sha256(bundle.read("open-one-v1.json")).hexdigest() == version.sha256
        card = bundle.read("CARD.md").decode()
    assert version.sha256 in card
    assert "Rejection rate: 50.0% under unanimity, 25.0% under 2 of 3" in card
    assert "| 4 | 2 | 50.0% | 25.0% |" in card
    assert 'smplx.SMPL(model_path=f"{body}/SMPL_NEUTRAL.pkl"' in card
    # A reader of the private benchmark sees it; staff see everything.
    reader = get_user_model().objects.create_user(username="reader", password="a-long-passphrase-1")
    secret.readers.add(reader)
    client = Client()
    client.login(username="reader", password="a-long-passphrase-1")
    assert client.get("/benchmarks/lab-only/v1/download.json").status_code == 200
    assert "Lab only" in staff_client.get("/benchmarks/").content.decode()
    assert anonymous.get("/benchmarks/open-one/v9/").status_code == 404


def test_ab_campaigns_are_not_published(fit_job_with_fits: Callable[..., FitJob]) -> None:
    from tests.factories import FitFactory, done_fit_job

    job_a = fit_job_with_fits(2)
    job_b = done_fit_job(0, dataset=job_a.dataset, method="smplify")
    for fit in job_a.fits.all():
        FitFactory(job=job_b, person=fit.person)
    ab = campaign_open(campaign_create_ab(name="ab", job_a=job_a, job_b=job_b))
    with pytest.raises(ValidationError, match="is an A/B campaign"):
        version_publish_request(benchmark=benchmark_create(name="x"), campaigns=[ab], enqueue=False)


def test_the_api_lists_versions_and_downloads_with_a_token(fit_job_with_fits: Callable[..., FitJob]) -> None:
    campaign = _voted_campaign(fit_job_with_fits(4))
    public = benchmark_create(name="Open one")
    secret = benchmark_create(name="Lab only", private=True)
    version = _publish(public, campaign)
    _publish(secret, campaign)
    anonymous = Client()
    listing = anonymous.get("/api/benchmarks/").json()
    assert [b["slug"] for b in listing] == ["open-one"]
    assert listing[0]["latest"]["sha256"] == version.sha256
    assert listing[0]["latest"]["download"] == "/api/benchmarks/open-one/versions/1/download/"
    detail = anonymous.get("/api/benchmarks/open-one/versions/1/").json()
    assert (detail["people"], detail["card"]["accepted_unanimous"]) == (2, 2)
    assert anonymous.get("/api/benchmarks/lab-only/").status_code == 404
    # A reader gets its token from its page, and the private benchmark with it.
    reader = get_user_model().objects.create_user(username="reader", password="a-long-passphrase-1")
    secret.readers.add(reader)
    browser = Client()
    browser.login(username="reader", password="a-long-passphrase-1")
    page = browser.get("/account/api-token/").content.decode()
    from rest_framework.authtoken.models import Token

    key = Token.objects.get(user=reader).key
    assert key in page
    with_token = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert [b["slug"] for b in with_token.get("/api/benchmarks/").json()] == ["lab-only", "open-one"]
    download = with_token.get("/api/benchmarks/lab-only/versions/1/download/")
    assert download.status_code == 200
    assert json.loads(b"".join(download.streaming_content))["meta"]["dbname"] == "lab-only"  # type: ignore[attr-defined]
    assert Client(HTTP_AUTHORIZATION="Token wrong").get("/api/benchmarks/").status_code == 401
    # A new token: the old one stops working.
    browser.post("/account/api-token/")
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/benchmarks/").status_code == 401


def test_staff_publish_through_the_api_and_researchers_read_its_schema(
    fit_job_with_fits: Callable[..., FitJob], staff_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = _voted_campaign(fit_job_with_fits(4))
    benchmark_create(name="By API")
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery builds it on commit
        made = staff_client.post(
            "/api/benchmarks/by-api/versions/", {"campaigns": [campaign.pk], "note": "first"},
            content_type="application/json",
        )  # fmt: skip
    assert made.status_code == 202, made.content
    assert made.json()["number"] == 1
    state = staff_client.get("/api/benchmarks/by-api/versions/1/state/").json()
    assert (state["status"], state["people_done"], state["people_total"]) == ("done", 2, 2)
    bad = staff_client.post(
        "/api/benchmarks/by-api/versions/", {"campaigns": [999999]}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert "no campaign with id [999999]" in bad.content.decode()
    assert Client().post("/api/benchmarks/by-api/versions/", {"campaigns": [campaign.pk]}).status_code in (
        401,
        403,
    )
    schema = Client().get("/api/benchmarks/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = set(json.loads(schema.content)["paths"])
    assert "/api/benchmarks/{slug}/versions/{number}/download/" in paths
    assert not any("crowd" in p or "fits" in p or p[-10:] == "/versions/" for p in paths)
    assert Client().get("/api/benchmarks/docs/").status_code == 200
    with pytest.raises(ValidationError, match="names a page of the API"):
        benchmark_create(name="Schema")


def test_the_publish_form_says_when_there_is_no_campaign(staff_client: Client) -> None:
    benchmark_create(name="Empty")
    page = staff_client.get("/benchmarks/empty/").content.decode()
    assert 'id="no-campaigns"' in page
