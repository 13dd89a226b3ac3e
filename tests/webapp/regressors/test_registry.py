"""The regressor registry: the shipped regressor registered without torch, uploads checked by a
strict load on a worker (bad files refused with the reason, nothing kept), the body model
check, and fit jobs that start from a registered checkpoint."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.test import Client

from fitting.assets import BOOTSTRAP_REGRESSOR_PATH, OPEN_BODY_PATH, file_sha256
from fitting.config import EftConfig
from fitting.regressor.facts import checkpoint_facts
from fitting.regressor.hmr import HMR, save_checkpoint
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitJob
from webapp.fits.services import fit_job_start
from webapp.regressors.models import Regressor
from webapp.regressors.services import (
    SHIPPED_NAME,
    regressor_check,
    regressor_register_path,
    regressor_shipped,
    regressor_upload,
    storage_name,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _checkpoint(path: Path, *, body: str | None = "open", seed: int = 0, channels: int = 6) -> Path:
    """A tiny HMR checkpoint; ``body`` "open"/"smpl" records that body in its metadata, None
    writes none (as SPIN's and EFT's own files)."""
    torch.manual_seed(seed)
    model = HMR(backbone="tiny", in_channels=channels)
    extra: dict[str, Any] = {}
    if body is not None:
        sha = file_sha256(OPEN_BODY_PATH) if body == "open" else "5" * 64
        extra = {"eft_meta": {"backbone": "tiny", "input_size": 64, "in_channels": channels,
                              "aux": "gt24-skeleton-3ch" if channels == 6 else "none",
                              "body_model": f"{body} body (x.npz, sha256 {sha[:12]})", "body_sha256": sha,
                              "metrics": {"pa_mpjpe": 91.5}}}  # fmt: skip
    save_checkpoint(path, model, extra=extra)
    return path


def _upload(path: Path, name: str, **kwargs: Any) -> Regressor:
    data = path.read_bytes()
    return regressor_upload(name=name, chunks=[data[:1000], data[1000:]], filename=path.name, **kwargs)


def _stored() -> list[str]:
    try:
        return default_storage.listdir("regressors")[1]
    except FileNotFoundError:
        return []


def test_the_shipped_regressor_is_registered_once_from_its_facts() -> None:
    shipped = regressor_shipped()
    assert shipped.name == SHIPPED_NAME
    assert shipped.status == Regressor.Status.DONE
    assert shipped.source == Regressor.Source.SHIPPED
    assert shipped.sha256 == file_sha256(BOOTSTRAP_REGRESSOR_PATH)
    # The facts shipped beside it are what a strict load of the file says.
    facts = checkpoint_facts(BOOTSTRAP_REGRESSOR_PATH)
    fields = ("backbone", "input_size", "in_channels", "body_kind", "body_sha256")
    assert [getattr(shipped, f) for f in fields] == [getattr(facts, f) for f in fields]
    assert shipped.body_sha256 == file_sha256(OPEN_BODY_PATH)
    assert file_sha256(Path(default_storage.path(shipped.file.name))) == shipped.sha256
    assert regressor_shipped().pk == shipped.pk
    assert Regressor.objects.count() == 1
    # The list shows what its own evaluation says, per held-out set, from the facts.
    from webapp.regressors.selectors import evaluation_summary

    held = facts.metrics["bootstrap_evaluation"]
    everyday = next(r["pa_mpjpe"] for r in held["everyday"] if r["level"] == 7)
    hard = next(r["pa_mpjpe"] for r in held["hard"] if r["level"] == 7)
    assert evaluation_summary(shipped) == (
        f"everyday {everyday:.1f} mm, hard {hard:.1f} mm (held-out synthetic people, full box)"
    )


def test_an_upload_is_checked_by_a_strict_load(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    path = _checkpoint(tmp_path / "mine.pt")
    with django_capture_on_commit_callbacks(execute=True):  # the check task runs (eagerly here)
        row = _upload(path, "mine v1", notes="from a test")
    row.refresh_from_db()
    assert row.status == Regressor.Status.DONE, row.error
    assert (row.backbone, row.input_size, row.in_channels, row.body_kind) == ("tiny", 64, 6, "open")
    assert row.sha256 == file_sha256(path)
    assert row.metrics["pa_mpjpe"] == 91.5
    assert row.original_name == "mine.pt"
    with pytest.raises(ValidationError, match="already registered as 'mine v1'"):
        _upload(path, "mine again")
    with pytest.raises(ValidationError, match="a regressor named 'mine v1' is already registered"):
        _upload(_checkpoint(tmp_path / "other.pt", seed=1), "mine v1")
    child = _upload(_checkpoint(tmp_path / "child.pt", seed=2), "mine v2", parent=row, enqueue=False)
    assert child.status == Regressor.Status.PENDING
    assert list(row.children.all()) == [child]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"this is not a checkpoint at all", "bad.pt cannot be read"),
        ({"state_dict": {}}, "bad.pt: expected a dict with key 'model', got \\['state_dict'\\]"),
        ({"model": {"fc.weight": torch.zeros(2, 2)}}, "bad.pt does not fit HMR"),
    ],
    ids=["not torch", "no model key", "wrong keys"],
)
def test_a_bad_file_is_refused_with_the_reason_and_not_kept(
    tmp_path: Path, payload: Any, reason: str, django_capture_on_commit_callbacks: Any
) -> None:
    path = tmp_path / "bad.pt"
    if isinstance(payload, bytes):
        path.write_bytes(payload)
    else:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        path.write_bytes(buffer.getvalue())
    with django_capture_on_commit_callbacks(execute=True):
        row = _upload(path, "bad one")
    row.refresh_from_db()
    assert row.status == Regressor.Status.FAILED
    assert row.error.startswith("regressor checkpoint bad.pt")
    assert re.search(reason, row.error), row.error
    assert str(tmp_path) not in row.error
    assert len(row.error) < 300  # torch's reason in a line, not its page of advice
    assert "media" not in row.error
    assert _stored() == []  # the file is gone
    # The name and bytes of a refused upload are free again: a fixed file takes the name.
    with django_capture_on_commit_callbacks(execute=True):
        fixed = _upload(_checkpoint(tmp_path / "fixed.pt"), "bad one")
    fixed.refresh_from_db()
    assert fixed.status == Regressor.Status.DONE
    assert Regressor.objects.filter(name="bad one").count() == 1


def test_an_empty_upload_is_refused_at_once(tmp_path: Path) -> None:
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValidationError, match=r"empty\.pt: the file is empty"):
        _upload(tmp_path / "empty.pt", "empty")
    assert not Regressor.objects.exists()


def test_a_check_runs_once(tmp_path: Path) -> None:
    row = _upload(_checkpoint(tmp_path / "once.pt"), "once", enqueue=False)
    assert regressor_check(regressor_id=row.pk).status == Regressor.Status.DONE
    assert regressor_check(regressor_id=row.pk).attempts == 1  # done: a second message does nothing


def test_a_checkpoint_for_another_body_is_refused_by_a_fit_job(dataset: Dataset, tmp_path: Path) -> None:
    spin = regressor_register_path(
        _checkpoint(tmp_path / "spin.pt", body=None, seed=3, channels=3), name="spin"
    )
    assert spin.body_kind == "smpl"
    assert spin.body_sha256 == ""
    with pytest.raises(
        ValidationError, match="trained for the licensed SMPL body, and fits here use the open"
    ):
        fit_job_start(dataset=dataset, filter_name="all", regressor=spin, enqueue=False)
    other = regressor_register_path(_checkpoint(tmp_path / "other.pt", seed=4), name="other open")
    Regressor.objects.filter(pk=other.pk).update(body_sha256="7" * 64)
    other.refresh_from_db()
    with pytest.raises(ValidationError, match="trained for another open body file \\(sha256 777777777777"):
        fit_job_start(dataset=dataset, filter_name="all", regressor=other, enqueue=False)
    waiting = _upload(_checkpoint(tmp_path / "waiting.pt", seed=5), "waiting", enqueue=False)
    with pytest.raises(ValidationError, match="'waiting' is pending, not checked and ready"):
        fit_job_start(dataset=dataset, filter_name="all", regressor=waiting, enqueue=False)
    with pytest.raises(ValidationError, match="not both"):
        fit_job_start(dataset=dataset, filter_name="all", regressor=other, checkpoint="/x.pt", enqueue=False)
    assert not FitJob.objects.exists()


def test_a_fit_job_starts_from_the_registered_checkpoint(
    dataset: Dataset, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    mine = regressor_register_path(_checkpoint(tmp_path / "mine.pt", seed=6), name="mine")
    with django_capture_on_commit_callbacks(execute=True):
        job = fit_job_start(
            dataset=dataset,
            filter_name="all",
            config=EftConfig(max_iterations=1),
            regressor=mine,
            render=False,
        )
    job.refresh_from_db()
    assert job.status == FitJob.Status.DONE
    assert job.regressor == mine
    shas = set(Fit.objects.filter(job=job).values_list("checkpoint_sha256", flat=True))
    assert shas == {mine.sha256}  # every fit records the weights it started from
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):  # a regressor fits were made with is kept
        mine.delete()


def test_the_pages(staff_client: Client, tmp_path: Path, django_capture_on_commit_callbacks: Any) -> None:
    answer = staff_client.get("/staff/regressors/")
    assert answer.status_code == 200
    assert SHIPPED_NAME in answer.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        with (tmp_path / "bad.pt").open("wb") as handle:
            handle.write(b"garbage")
        with (tmp_path / "bad.pt").open("rb") as handle:
            posted = staff_client.post("/staff/regressors/", {"name": "garbage", "file": handle})
    assert posted.status_code == 302
    refused = staff_client.get(posted["Location"]).content.decode()
    assert "refused" in refused
    assert "bad.pt cannot be read" in refused
    assert "0 px crops" not in refused  # what a file that did not load holds is not known
    assert refused.count("not known: the file did not load") == 2
    with (tmp_path / "bad.pt").open("rb") as handle:
        again = staff_client.post("/staff/regressors/", {"name": "", "file": handle})
    assert again.status_code == 200
    assert "This field is required" in again.content.decode()
    jobs_page = staff_client.get("/staff/jobs/").content.decode()
    assert SHIPPED_NAME in jobs_page
    assert "garbage" not in jobs_page
    assert Client().get("/staff/regressors/").status_code == 302  # staff only


def test_a_check_whose_worker_died_is_run_again_or_failed(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tasks.sweep import SWEPT
    from webapp.core.taskstate import sweep_stale_work

    settings.TASK_MAX_ATTEMPTS = 2
    lost = _upload(_checkpoint(tmp_path / "lost.pt", seed=7), "lost", enqueue=False)
    hopeless = _upload(_checkpoint(tmp_path / "hopeless.pt", seed=8), "hopeless", enqueue=False)
    old = timezone.now() - timedelta(hours=1)
    Regressor.objects.filter(pk=lost.pk).update(status="running", heartbeat_at=old, attempts=1)
    Regressor.objects.filter(pk=hopeless.pk).update(status="running", heartbeat_at=old, attempts=2)
    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_stale_work(SWEPT)["regressor checks"]
    assert counts == {"requeued": 1, "failed": 1, "resent": 0}
    lost.refresh_from_db()
    hopeless.refresh_from_db()
    assert lost.status == Regressor.Status.DONE  # queued again and checked (eagerly here)
    assert hopeless.status == Regressor.Status.FAILED
    assert storage_name(hopeless.sha256).split("/")[1] not in _stored()  # its file went with it
    assert storage_name(lost.sha256).split("/")[1] in _stored()


def test_an_ab_campaign_compares_the_fits_of_two_checkpoints(
    dataset: Dataset, tmp_path: Path, staff_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from webapp.crowd.services import campaign_create_ab

    shipped = regressor_shipped()
    mine = regressor_register_path(_checkpoint(tmp_path / "b.pt", seed=9), name="retrained")
    jobs = []
    for regressor in (shipped, mine):
        with django_capture_on_commit_callbacks(execute=True):
            job = fit_job_start(
                dataset=dataset, filter_name="all", method="regressor", regressor=regressor, render=False
            )
        job.refresh_from_db()
        assert job.status == FitJob.Status.DONE
        jobs.append(job)
    campaign = campaign_create_ab(name="shipped vs retrained", job_a=jobs[0], job_b=jobs[1])
    items = list(campaign.items.select_related("fit", "fit_b"))
    assert len(items) == jobs[0].people_total  # one item per person both fitted
    assert all(i.fit.person_id == i.fit_b.person_id for i in items)  # the same person on both sides
    assert {i.fit.checkpoint_sha256 for i in items} == {shipped.sha256}
    assert {i.fit_b.checkpoint_sha256 for i in items} == {mine.sha256}
    page = staff_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    assert "shipped vs retrained" in page
    assert f"job {jobs[0].pk}</a> ({shipped.name}) against" in page  # each side's checkpoint, by name
    assert f"job {jobs[1].pk}</a> (retrained)" in page
    job_page = staff_client.get(f"/staff/jobs/{jobs[1].pk}/").content.decode()
    assert "retrained" in job_page
