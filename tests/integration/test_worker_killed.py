"""A worker SIGKILLed in the middle of each kind of work (a fit chunk, a dataset import, renders):
the sweeper queues the lost work again and a second worker finishes it, every item done once.

Each test starts its own workers on a queue of its own (no message of an earlier run, or of the
lane's shared worker, can reach them) and knows the first worker is mid-way from the rows'
heartbeats and progress, never from a sleep.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from fitting.config import EftConfig
from tasks.sweep import SWEPT
from tests.factories import FitFactory, FitJobFactory
from tests.support.coco import coco_person, make_coco
from tests.support.worker import celery_worker_process, wait_for
from webapp.core.taskstate import TaskStatus, TrackedWork, sweep_stale_work
from webapp.datasets.models import Dataset, Image, Person
from webapp.datasets.services import dataset_create, dataset_delete
from webapp.fits.models import Fit, FitChunk, FitJob, Render

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


def _own_queue() -> str:
    """A queue name for this test's workers alone (the lane clears killtest-* queues at start)."""
    return f"killtest-{uuid.uuid4().hex[:8]}"


def _beat_after_claim(model: type[TrackedWork], pk: int) -> bool:
    """The worker that claimed the row has reported progress since (a heartbeat after the claim)."""
    row = model._default_manager.get(pk=pk)
    return bool(row.claimed_at and row.heartbeat_at and row.heartbeat_at > row.claimed_at)


def _an_hour_later() -> datetime:
    """The sweeper's clock an hour on: any work still running then has a stale heartbeat."""
    return timezone.now() + timedelta(hours=1)


def _kill(processes: dict[str, subprocess.Popen[bytes]], node: str) -> None:
    processes[node].send_signal(signal.SIGKILL)
    processes[node].wait(timeout=30)


def test_job_survives_a_killed_worker(
    integration_services: None,
    synthetic_dataset: Dataset,
    tmp_path: Path,
) -> None:
    from tasks.fits import fit_chunk_task
    from webapp.fits.services import fit_job_start

    # Slow enough to be killed mid-way: every person runs 40 updates (no early stop).
    dataset = synthetic_dataset
    slow = EftConfig(max_iterations=40, threshold_px=0.0)
    job = fit_job_start(
        dataset=dataset, filter_name="all", chunk_size=100, config=slow, render=False, enqueue=False
    )
    chunk = FitChunk.objects.get(job=job)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    queue = _own_queue()
    with celery_worker_process(tmp_path / "a.log", queues=queue, processes=processes) as first:
        fit_chunk_task.apply_async(args=[chunk.pk], queue=queue)
        wait_for(lambda: FitChunk.objects.get(pk=chunk.pk).status == FitChunk.Status.RUNNING, timeout=120)
        # Inside the chunk: model loaded, a first person fitted (its heartbeat), the rest to do.
        wait_for(
            lambda: Fit.objects.filter(job=job).count() == 0 and _beat_after_claim(FitChunk, chunk.pk),
            timeout=120,
        )
        _kill(processes, first)
    chunk.refresh_from_db()
    assert chunk.status == FitChunk.Status.RUNNING  # claimed by a worker that no longer exists
    assert chunk.worker == first
    assert Fit.objects.filter(job=job).count() == 0  # its fits were never committed

    with celery_worker_process(tmp_path / "b.log", queues=f"gpu,{queue}") as second:
        # The sweeper (every minute on beat) finds the chunk stale and queues it again.
        assert sweep_stale_work(SWEPT, now=_an_hour_later())["fit chunks"] == {
            "requeued": 1,
            "failed": 0,
            "resent": 0,
        }
        wait_for(lambda: FitJob.objects.get(pk=job.pk).status == FitJob.Status.DONE, timeout=180)
    chunk.refresh_from_db()
    assert chunk.status == FitChunk.Status.DONE
    assert chunk.attempts == 2
    assert chunk.worker != first
    job.refresh_from_db()
    # The synthetic dataset's 4 people (conftest.py), each fitted exactly once.
    assert job.people_done == job.people_total == Fit.objects.filter(job=job).count() == 4
    assert Fit.objects.filter(job=job).values("person").distinct().count() == 4
    assert second


#: Enough images that the first worker is still storing them when it is killed: the import
#: reports its progress (a heartbeat) every 200 images.
MANY = 1000


@pytest.fixture
def many_images() -> Iterator[Path]:
    """A COCO folder of MANY small JPEGs with one person each, where the worker reads imports."""
    folder = Path(settings.DATASET_IMPORT_ROOTS[0]) / f"many-{uuid.uuid4().hex[:8]}"
    make_coco(folder, [coco_person(i, i) for i in range(MANY)], images=MANY)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _storing_images(dataset_id: int) -> bool:
    """The import is half-way through storing the images, and said so in a heartbeat."""
    row = Dataset.objects.get(pk=dataset_id)
    return (
        row.status == TaskStatus.RUNNING
        and row.stage == "checking and storing images"
        and 0 < row.progress_done < row.progress_total
        and _beat_after_claim(Dataset, dataset_id)
    )


def _stored_files(dataset: Dataset) -> set[str]:
    """Every file under the dataset's media folder, as storage names."""
    media = Path(settings.MEDIA_ROOT)
    return {
        p.relative_to(media).as_posix()
        for p in (media / "datasets" / str(dataset.pk)).rglob("*")
        if p.is_file()
    }


def test_import_survives_a_killed_worker(
    integration_services: None, many_images: Path, tmp_path: Path
) -> None:
    from tasks.datasets import dataset_import_task

    dataset = dataset_create(
        name=many_images.name, source_format="coco", source_kind="server", source_location=str(many_images),
        annotation_path="annotations.json", images_path="images", enqueue=False,
    )  # fmt: skip
    processes: dict[str, subprocess.Popen[bytes]] = {}
    queue = _own_queue()
    try:
        with celery_worker_process(tmp_path / "a.log", queues=queue, processes=processes) as first:
            dataset_import_task.apply_async(args=[dataset.pk], queue=queue)
            wait_for(lambda: _storing_images(dataset.pk), timeout=120)
            _kill(processes, first)
        dataset.refresh_from_db()
        assert (dataset.status, dataset.worker, dataset.attempts) == ("running", first, 1)
        assert (dataset.stage, dataset.progress_total) == ("checking and storing images", MANY)
        assert 0 < dataset.progress_done < MANY
        # Killed before its one transaction of rows: no row, but the images it had stored so far
        # (at least those its last heartbeat counted) are left in media storage.
        assert Image.objects.filter(dataset=dataset).count() == 0
        assert Person.objects.filter(dataset=dataset).count() == 0
        assert len(_stored_files(dataset)) >= dataset.progress_done

        # The sweeper finds the import stale and queues it again (on the default queue, "celery").
        assert sweep_stale_work(SWEPT, now=_an_hour_later())["dataset imports"] == {
            "requeued": 1,
            "failed": 0,
            "resent": 0,  # the import it queued again is not sent twice
        }
        with celery_worker_process(tmp_path / "b.log", queues=f"celery,{queue}"):
            wait_for(lambda: Dataset.objects.get(pk=dataset.pk).status in ("done", "failed"), timeout=240)
        dataset.refresh_from_db()
        assert dataset.status == Dataset.Status.DONE, dataset.error
        assert dataset.attempts == 2
        assert dataset.worker != first
        # One image and one person per annotation of the folder: MANY of each.
        assert (dataset.images_count, dataset.people_count) == (MANY, MANY)
        assert Person.objects.filter(dataset=dataset).count() == MANY
        rows = list(Image.objects.filter(dataset=dataset).values_list("file", flat=True))
        assert len(rows) == len(set(rows)) == MANY
        # Each image stored once: the second attempt started clean, nothing of the first is left.
        assert _stored_files(dataset) == set(rows)
        assert sorted(Path(name).name for name in rows) == [f"{i:03d}.jpg" for i in range(MANY)]
    finally:
        dataset_delete(dataset=dataset)  # its rows and its media folder


def _renders_half_way(job: FitJob) -> bool:
    states = Counter(Render.objects.filter(fit__job=job).values_list("status", flat=True))
    return states[TaskStatus.DONE] > 0 and states[TaskStatus.QUEUED] > 0


def test_renders_survive_a_killed_worker(
    integration_services: None, synthetic_dataset: Dataset, tmp_path: Path
) -> None:
    from tasks.renders import render_fits_task
    from webapp.fits.renders import renders_request

    # The synthetic dataset's 4 people, fitted (factory fits: no EFT needed to draw them), and
    # their crop, camera and side views asked for in one message, as a finished chunk asks for them.
    people = list(Person.objects.filter(dataset=synthetic_dataset).order_by("pk"))
    assert len(people) == 4
    job = FitJobFactory(dataset=synthetic_dataset, render=True, people_total=4, people_done=4)
    fits = [FitFactory(job=job, person=person) for person in people]
    ids = renders_request(job=job, fit_ids=[f.pk for f in fits], enqueue=False)
    assert len(ids) == 12
    Render.objects.filter(pk__in=ids).update(status=TaskStatus.QUEUED)  # its message is sent now
    media = Path(settings.MEDIA_ROOT)
    folder = media / "datasets" / str(synthetic_dataset.pk) / "renders" / f"job-{job.pk}"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    queue = _own_queue()
    with celery_worker_process(tmp_path / "a.log", queues=queue, processes=processes) as first:
        render_fits_task.apply_async(args=[ids], queue=queue)
        wait_for(lambda: _renders_half_way(job), timeout=120)
        _kill(processes, first)
    states = Counter(Render.objects.filter(fit__job=job).values_list("status", flat=True))
    assert states[TaskStatus.DONE] > 0
    assert states[TaskStatus.QUEUED] > 0
    assert states[TaskStatus.RUNNING] <= 1  # the one it was drawing, if any
    workers = set(Render.objects.filter(fit__job=job).exclude(worker="").values_list("worker", flat=True))
    assert workers == {first}
    was_running = states[TaskStatus.RUNNING]

    # The sweeper queues again the render the worker was drawing (its heartbeat is stale), and
    # sends again the renders still queued: they were in the killed worker's message, which the
    # broker would otherwise redeliver only after its visibility timeout (an hour by default).
    assert sweep_stale_work(SWEPT, now=_an_hour_later())["renders"] == {
        "requeued": was_running,
        "failed": 0,
        "resent": states[TaskStatus.QUEUED],
    }
    with celery_worker_process(tmp_path / "b.log", queues=f"render,{queue}"):
        wait_for(lambda: not Render.objects.filter(fit__job=job).exclude(status="done").exists(), timeout=180)
    renders = list(Render.objects.filter(fit__job=job))
    assert [r.status for r in renders] == ["done"] * 12
    job.refresh_from_db()
    assert job.renders_done == 12
    # One picture per render: nothing left over from the killed attempt.
    files = {r.file.name for r in renders}
    assert files == {
        f"datasets/{synthetic_dataset.pk}/renders/job-{job.pk}/{f.pk}-{kind}.jpg"
        for f in fits
        for kind in ("crop", "camera", "side")
    }
    assert {p.relative_to(media).as_posix() for p in folder.iterdir()} == files
