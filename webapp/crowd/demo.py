"""The demo that ``make run`` leaves ready: an in-house worker account, a gold set, a small dataset
of synthetic people fitted with EFT by the workers, and an open validation campaign over its fits
with the gold items mixed in, so that a new user can sign in as a worker and vote at once.
Every step is skipped when it was done before (later starts change nothing)."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import Campaign, GoldItem
from webapp.crowd.services import campaign_create_validation, campaign_open, worker_for_user
from webapp.datasets.models import Dataset
from webapp.fits.models import FitJob

DEMO_CAMPAIGN = "Demo: is the body right? (synthetic people)"
DEMO_DATASET = "demo: synthetic people"
DEMO_PEOPLE = 15
GOLD_PEOPLE = 30


def demo_worker_ensure(username: str = "worker") -> tuple[AbstractBaseUser, str]:
    """The demo's in-house worker account (no staff rights). Returns (user, password): the
    password is new when the account is made, "" when it existed (its password is kept)."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    password = ""
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_model.objects.create_user(username=username, password=password)
    worker_for_user(user)
    return user, password


def _demo_dataset(people: int, say: Callable[[str], None]) -> Dataset:
    from django.core.files import File

    from fitting.synth.generate import SynthConfig, generate
    from webapp.crowd.gold import zip_folder
    from webapp.datasets.services import dataset_import, dataset_import_request
    from webapp.datasets.sources import SourceRequest

    existing = Dataset.objects.filter(name=DEMO_DATASET, status=TaskStatus.DONE).first()
    if existing is not None:
        return existing
    work = Path(tempfile.mkdtemp(prefix="eft-demo-"))
    try:
        say(f"making {people} synthetic people for the demo dataset")
        generate(SynthConfig(people=people, seed=7, width=384, height=384), work / "set", progress=False)
        archive = zip_folder(work / "set", work / "demo-people.zip")
        with archive.open("rb") as handle:
            dataset = dataset_import_request(
                source=SourceRequest(archive=File(handle, name=archive.name)), enqueue=False,
                name=DEMO_DATASET,
                source_format="coco", annotation_path="annotations.json", images_path="images",
                licence="CC0-1.0 (synthetic people made by this product)",
            )  # fmt: skip
        return dataset_import(dataset_id=dataset.pk)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _wait(job: FitJob, timeout: float, say: Callable[[str], None]) -> FitJob:
    """Wait for the workers to fit the job and draw its pictures (progress every 10 s)."""
    deadline = time.monotonic() + timeout
    shown = -1.0
    while True:
        job.refresh_from_db()
        drawn = job.renders_done >= 3 * job.people_done if job.render else True
        if job.status in (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED) and drawn:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"job {job.pk} is still {job.status} after {timeout:.0f} s: are the workers running? "
                "(make run starts them; see data/logs/)"
            )
        if time.monotonic() - shown >= 10:
            say(f"demo fit job {job.pk}: {job.status}, {job.people_done}/{job.people_total} people fitted, "
                f"{job.renders_done} pictures drawn")  # fmt: skip
            shown = time.monotonic()
        time.sleep(1.0)


def demo_campaign_prepare(
    *,
    people: int = DEMO_PEOPLE,
    gold_people: int = GOLD_PEOPLE,
    max_iterations: int | None = None,
    say: Callable[[str], None] | None = None,
    timeout: float = 1800.0,
) -> Campaign:
    """The open demo campaign, made (gold set, demo dataset, EFT job run by the workers, at the
    paper's settings unless ``max_iterations`` is given) when missing. Waits for the workers up
    to ``timeout`` seconds."""
    from webapp.crowd.gold import gold_set_make
    from webapp.fits.services import fit_job_config, fit_job_start

    say = say or (lambda _: None)
    existing = Campaign.objects.filter(name=DEMO_CAMPAIGN).first()
    if existing is not None:
        if existing.state == Campaign.State.DRAFT:  # made by a run stopped before it opened it
            campaign_open(existing)
        say(f"the demo campaign exists ({existing.state})")
        return existing
    if not GoldItem.objects.filter(source=GoldItem.Source.SYNTHETIC).exists():
        gold_set_make(people=gold_people, seed=0, say=say)
    dataset = _demo_dataset(people, say)
    job = (
        FitJob.objects.filter(dataset=dataset, method=FitJob.Method.EFT)
        .exclude(status__in=(TaskStatus.FAILED, TaskStatus.CANCELLED))
        .first()
    )
    if job is None:
        say("starting the demo's EFT fit job on the workers")
        job = fit_job_start(
            dataset=dataset, filter_name="all", config=fit_job_config(method="eft"), chunk_size=4
        )
    job = _wait(job, timeout, say)
    if job.status != TaskStatus.DONE:
        raise RuntimeError(f"the demo fit job {job.pk} ended {job.status}: see its page")
    campaign = campaign_create_validation(
        name=DEMO_CAMPAIGN, job=job, items_per_hit=5, votes_per_item=3, gold_rate=0.2, reward_cents=0
    )
    campaign_open(campaign)
    fits, hits = campaign.items.filter(gold=None).count(), campaign.hits.count()
    say(f"the demo campaign is open: {fits} fits in {hits} HITs")
    return campaign
