"""Benchmark: aggregating 1M crowd votes and publishing a 100K-person benchmark version (time and
peak memory, each at two sizes).

    .venv/bin/python bench/publish.py                 # 100K and 1M votes; 10K and 100K people
    .venv/bin/python bench/publish.py --quick         # 1K and 10K votes; 500 and 2000 people
    .venv/bin/python bench/publish.py --people 10000,50000 --skip-aggregation --profile

1. Aggregation (``fitting.votes``, pure numpy): simulated validation votes, 3 per item from a few
   hundred workers of mixed quality (seeded), at ``--votes`` sizes. Times building the VoteTable
   from Python tuples, each rule and report, Dawid-Skene with the publishing settings (its
   iterations), and the calls the publishing service makes as it makes them (on the list of
   tuples, converted again by every call) against the same calls on a table converted once.
2. Export: the real publishing path, ``webapp.benchmarks.services.version_publish_request`` +
   ``version_build``, over ``--people`` fits. Per size, a fresh SQLite database in a temporary
   DATA_DIR (``manage.py migrate``), filled by ``bulk_create`` (a done dataset, images, people
   with GT-24 labels, a done EFT job on the shipped open body, one fit per person, an open
   validation campaign with one item per fit, and 3 votes per item from 3 workers), then the
   build, with the time of each step of it (counted votes, aggregation, ORM loading, body
   forward, truncation boxes, entries, canonical JSON, the zip) and the RSS as it goes.

Every measured run is a child process; its peak memory is read in the child from
``/proc/self/status`` (VmHWM, reset with ``/proc/self/clear_refs`` after the fixed start-up
cost, so the growth of the measured step is apart from Python, Django and torch) and
``getrusage(RUSAGE_SELF)`` (the whole process). The children run with ``settings.DEBUG`` off,
as a production worker does: with it on, Django keeps the last 9000 SQL statements.

On this 2-core CPU (shared with other work; Python 3.11, numpy 2.4, torch 2.13 CPU, SQLite 3.40),
the defaults take 4.6 minutes (``--quick``: 20 s):

    aggregation                      100K votes   1M votes   x for x10   votes/s at 1M
    VoteTable.from_records             0.030 s     0.456 s     15.3         2.2M
    unanimous, k_of_n, majority        0.005 s     0.048 s     10.5-11.7   21M
    rejection_table                    0.008 s     0.103 s     12.8         9.7M
    fleiss_kappa                       0.015 s     0.198 s     13.2         5.1M
    percent_agreement                  0.008 s     0.110 s     14.1         9.1M
    dawid_skene (200 it., tol 1e-7)    0.240 s     2.662 s     11.1         0.38M  (200 iterations,
    dawid_skene (defaults)             0.118 s     1.314 s     11.1         0.76M   never converged)
    publishing's calls, on tuples      0.446 s     5.931 s     13.3         0.17M
    the same, converted once           0.288 s     3.400 s     11.8         0.29M
    process peak RSS                     76 MB      408 MB

    export (SQLite)                  10K people   100K people   ratio
    setup (bulk_create, apart)          6.0 s       61.9 s      10.4
    version_build                      16.0 s      166.6 s      10.4   7,764 / 77,148 people accepted
      body forward (fitted_gt24_px)     7.4 s       77.2 s             46% of the build
      ORM: loading the fits             3.7 s       37.5 s             22%
      zip (deflating the JSON)          2.1 s       16.9 s
      canonical JSON                    1.1 s       10.7 s
      fit_eft_entry                     0.5 s        6.4 s
      truncation boxes                  0.3 s        3.3 s
      aggregation (_accepted)           0.3 s        3.1 s
    people written per second           485          463
    JSON / zip                     58 / 23 MB  572 / 206 MB
    peak RSS of the build               859 MB       869 MB      1.01   (368 MB before it)

After the fixes these figures led to (70f76d2: the body forward 50 fits at a time, jobs and
datasets loaded once, votes converted once), the same export run gives: version_build 13.6 s and
144.6 s (x10.6), 570 and 533 people per second, body forward 6.0 s and 63.5 s, peak RSS of the
build 566 MB and 612 MB (x1.08; it was 859 and 869 MB).

Build time grows linearly and memory stays flat: the build's peak (+500 MB over Django, torch and
the body) is one chunk's body forward (a batch of 200 fits alone: +408 MB; of 50: +78 MB, as fast
per person), not the benchmark. The truncation-box projection costs about 1 ms per person (the
boxes themselves 0.06 ms), the entries and their JSON about 0.2 ms.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).resolve()
PROGRESS_EVERY_S = 5.0
#: Dawid-Skene as webapp.benchmarks.services._accepted runs it.
PUBLISHING_DS: dict[str, Any] = {"max_iter": 200, "tol": 1e-7}


# ------------------------------------------------------------------------------------- memory


def _status_mb(key: str) -> float:
    """A ``/proc/self/status`` figure (VmRSS, VmHWM) in MB; NaN where there is no /proc."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def hwm_mb() -> float:
    """The peak RSS since the last :func:`reset_peak` (or since the process started)."""
    return _status_mb("VmHWM")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where it cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def process_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------- aggregation


def simulate_votes(n_votes: int, n_workers: int, seed: int) -> tuple[Any, Any, Any]:
    """``n_votes`` validation votes (3 per item, 3 distinct workers) as three columns.

    80% of the fits are right. Workers: 70% careful (right 90-98% of the time), 20% sloppy
    (65-80%), 10% spammers (accept or reject at random)."""
    rng = np.random.default_rng(seed)
    n_items = -(-n_votes // 3)  # rounded up: at least n_votes votes
    truth_accept = rng.random(n_items) < 0.8
    kind = rng.random(n_workers)
    careful, sloppy = rng.uniform(0.90, 0.98, n_workers), rng.uniform(0.65, 0.80, n_workers)
    accuracy = np.where(kind < 0.7, careful, np.where(kind < 0.9, sloppy, 0.5))
    # Three distinct workers per item: w, w + a, w + b (mod W) with 0 < a < W/2 <= b < W.
    first = rng.integers(0, n_workers, n_items)
    second = rng.integers(1, n_workers // 2, n_items)
    third = rng.integers(n_workers // 2, n_workers, n_items)
    who = np.stack([first, first + second, first + third], axis=1) % n_workers
    right = rng.random((n_items, 3)) < accuracy[who]
    accepts = np.where(right, truth_accept[:, None], ~truth_accept[:, None])
    item_ids = np.repeat(np.arange(n_items, dtype=np.int64) + 1000, 3)  # as database keys
    worker_ids = who.ravel().astype(np.int64) + 1
    labels = np.where(accepts.ravel(), "accept", "reject")
    return item_ids, worker_ids, labels


def _timed(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak growth in MB over the RSS before the call, the call's result)."""
    reset_peak()
    before = rss_mb()
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, hwm_mb() - before, result


def child_aggregation(n_votes: int, n_workers: int) -> dict[str, Any]:
    from fitting import votes as aggregation

    started = time.perf_counter()
    items, workers, labels = simulate_votes(n_votes, n_workers, seed=18)
    # What webapp.crowd.selectors.counted_votes hands the publishing service: a list of tuples.
    records = list(zip(items.tolist(), workers.tolist(), labels.tolist(), strict=True))
    del items, workers, labels
    print(f"  {len(records):,} votes simulated in {time.perf_counter() - started:.1f} s", flush=True)
    base_mb = rss_mb()
    rows: dict[str, dict[str, float]] = {}

    def measure(name: str, call: Callable[[], Any]) -> Any:
        seconds, growth, result = _timed(call)
        rows[name] = {"seconds": seconds, "growth_mb": growth}
        return result

    table = measure("VoteTable.from_records", lambda: aggregation.VoteTable.from_records(records))
    measure("unanimous (3 of 3)", lambda: aggregation.unanimous(table, need=3))
    measure("k_of_n (2 of 3)", lambda: aggregation.k_of_n(table, k=2, n=3))
    measure("majority", lambda: aggregation.majority(table))
    measure("rejection_table", lambda: aggregation.rejection_table(table, need=3))
    measure("fleiss_kappa", lambda: aggregation.fleiss_kappa(table))
    measure("percent_agreement", lambda: aggregation.percent_agreement(table))
    # The publishing service's settings (webapp.benchmarks.services._accepted).
    ds = measure("dawid_skene (200 it, tol 1e-7)", lambda: aggregation.dawid_skene(table, **PUBLISHING_DS))
    ds_default = measure("dawid_skene (defaults)", lambda: aggregation.dawid_skene(table))

    def as_publishing(votes: Any) -> None:
        """The calls of webapp.benchmarks.services._accepted, in its order."""
        aggregation.unanimous(votes, need=3)
        aggregation.rejection_table(votes, need=3)
        len({w for _, w, _ in records})
        aggregation.fleiss_kappa(votes)
        aggregation.percent_agreement(votes)
        aggregation.majority(votes)
        aggregation.dawid_skene(votes, **PUBLISHING_DS)

    measure("publishing's calls on tuples", lambda: as_publishing(records))
    measure("same, converted once", lambda: as_publishing(aggregation.as_table(records)))
    return {
        "votes": len(records),
        "items": len(records) // 3,
        "workers": n_workers,
        "rows": rows,
        "ds_iterations": ds.n_iter,
        "ds_converged": ds.converged,
        "ds_default_iterations": ds_default.n_iter,
        "ds_default_converged": ds_default.converged,
        "base_rss_mb": base_mb,
        "process_peak_mb": process_peak_mb(),
    }


# ------------------------------------------------------------------------------------- export


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.conf import settings

    # A production worker runs without DEBUG; with it, every SQL statement is kept (up to 9000).
    settings.DEBUG = False


class Progress:
    """Prints a line at most every PROGRESS_EVERY_S seconds (and always the last one)."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total = what, total
        self.started = self.last = time.perf_counter()

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last >= PROGRESS_EVERY_S or done >= self.total:
            self.last = now
            print(f"  {self.what}: {done:,}/{self.total:,} in {now - self.started:.0f} s, "
                  f"RSS {rss_mb():.0f} MB", flush=True)  # fmt: skip


#: A standing person's 17 COCO keypoints as fractions of its box (nose ... right ankle).
STANDING = np.array([
    (0.50, 0.06), (0.54, 0.04), (0.46, 0.04), (0.58, 0.05), (0.42, 0.05),
    (0.70, 0.20), (0.30, 0.20), (0.78, 0.37), (0.22, 0.37), (0.82, 0.52), (0.18, 0.52),
    (0.63, 0.53), (0.37, 0.53), (0.64, 0.75), (0.36, 0.75), (0.65, 0.97), (0.35, 0.97),
])  # fmt: skip


def _rotations(axis_angle: Any) -> Any:
    """Rodrigues: ``(..., 3)`` axis-angle to ``(..., 3, 3)`` rotation matrices."""
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)
    axis = axis_angle / np.maximum(angle, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*axis.shape[:-1], 3, 3)
    sin, cos = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + sin * skew + (1 - cos) * (skew @ skew)


def make_people_and_fits(dataset: Any, job: Any, start: int, n: int, rng: Any, per_image: int,
                         image_size: tuple[int, int], checkpoint: str) -> list[Any]:  # fmt: skip
    """People ``start .. start + n`` of ``dataset`` (``per_image`` on each image, COCO-17 labels
    of a standing person in a random box) and a finished fit of each in ``job`` (near the rest
    pose, zero betas, a plausible camera), written by bulk_create. Also used by bench/hits.py."""
    from fitting.joints import GT24_NAMES, to_gt24
    from webapp.datasets.models import Image, Person
    from webapp.fits.models import Fit

    width, height = image_size
    limbs = [GT24_NAMES.index(f"{side} {part}") for side in ("Right", "Left")
             for part in ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")]  # fmt: skip
    flip = _rotations(np.array([np.pi, 0.0, 0.0]))  # SMPL's y up to the image's y down
    first_image = start // per_image
    last_image = (start + n - 1) // per_image
    images = Image.objects.bulk_create([
        Image(dataset=dataset, name=f"{i:07d}.jpg", file=f"datasets/{dataset.pk}/images/{i:07d}.jpg",
              width=width, height=height, sha256=f"{i:064x}", bytes=48_000)
        for i in range(first_image, last_image + 1)
    ])  # fmt: skip
    box_h = rng.uniform(150, 440, n)
    box_w = box_h * rng.uniform(0.35, 0.5, n)
    left = rng.uniform(0, width - box_w)
    top = rng.uniform(0, height - box_h)
    size, corner = np.stack([box_w, box_h], -1), np.stack([left, top], -1)
    points = STANDING[None] * size[:, None] + corner[:, None]
    points += rng.normal(0, 2.0, points.shape)
    points = np.clip(points, 0, [width - 1, height - 1])
    flags = np.where(rng.random((n, 17)) < 0.85, 2.0, 0.0)
    raw = np.concatenate([points.round(2), flags[..., None]], axis=-1)
    raw[flags == 0] = 0.0
    gt24 = to_gt24(raw, "coco17")
    labelled = (gt24[:, :, 2] > 0).sum(axis=1)
    limbs_labelled: Any = np.all(gt24[:, limbs, 2] > 0, axis=1)
    rows = []
    for k in range(n):
        p = start + k
        rows.append(Person(
            dataset=dataset, image=images[p // per_image - first_image],
            source_annotation_id=str(100_000 + p), layout="coco17",
            bbox=[round(left[k], 2), round(top[k], 2), round(box_w[k], 2), round(box_h[k], 2)],
            keypoints_raw=raw[k].tolist(), keypoints_gt24=gt24[k].tolist(), labelled=int(labelled[k]),
            coco_all=bool(labelled[k] >= 6), coco_part=bool(limbs_labelled[k]), split="train",
        ))  # fmt: skip
    persons = Person.objects.bulk_create(rows)
    # Fits: near the rest pose (a little noise), zero betas, a plausible camera.
    pose = _rotations(rng.normal(0, 0.12, (n, 24, 3)))
    pose[:, 0] = flip @ pose[:, 0]
    cams = np.stack([rng.uniform(0.8, 1.0, n), rng.normal(0, 0.05, n), rng.normal(0.2, 0.05, n)], -1)
    errors = rng.uniform(2.0, 12.0, (n, 24))
    fits = []
    for k, person in enumerate(persons):
        valid = gt24[k, :, 2] > 0
        joint_error = [float(e) if v else None for e, v in zip(errors[k], valid, strict=True)]
        mean_error = float(np.mean([e for e in joint_error if e is not None] or [0.0]))
        fits.append(Fit(
            job=job, person=person, pose_rotmat=pose[k].tolist(), betas=[0.0] * 10,
            cam_weak=cams[k].tolist(), joint_error_px=joint_error, mean_error_px=mean_error,
            iterations=20, keypoint_loss=0.002, loss_before=0.05, loss_after=0.002, max_abs_beta=0.0,
            sanity_ok=True, sanity_reason="ok", sanity_rule="paper", seconds=1.5,
            checkpoint_sha256=checkpoint, body_model="", prior="",
        ))  # fmt: skip
    return list(Fit.objects.bulk_create(fits))


def child_setup(people: int, seed: int) -> dict[str, Any]:
    """Fill the fresh database: everything a published version reads, by bulk_create."""
    _django()
    from dataclasses import asdict
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from fitting.config import EftConfig
    from webapp.benchmarks.services import benchmark_create
    from webapp.core.taskstate import TaskStatus
    from webapp.crowd.models import Assignment, Campaign, Hit, Item, Provider, Vote, Worker
    from webapp.datasets.models import Dataset
    from webapp.fits.models import FitJob

    rng = np.random.default_rng(seed)
    now = timezone.now()
    per_image, width, height, slice_size = 2, 640, 480, 5000
    started = time.perf_counter()
    with transaction.atomic():
        dataset = Dataset.objects.create(
            name="bench-publish", source_format=Dataset.Format.COCO, split="train",
            licence="CC BY 4.0 (benchmark data)", source_kind=Dataset.Source.SERVER,
            source_location="/imports/bench-publish", annotation_path="annotations.json",
            images_path="images", status=TaskStatus.DONE, stage="done", attempts=1, worker="bench",
            claimed_at=now, heartbeat_at=now, finished_at=now, annotations_count=people,
            people_count=people, images_count=(people + per_image - 1) // per_image,
            progress_done=people, progress_total=people,
        )  # fmt: skip
        job = FitJob.objects.create(
            dataset=dataset, filter="all", method=FitJob.Method.EFT, config=asdict(EftConfig()),
            body_model="", status=TaskStatus.DONE, people_total=people, people_done=people, render=False,
            started_at=now, finished_at=now,
        )  # fmt: skip
        campaign = Campaign.objects.create(
            name="bench-validation", kind=Campaign.Kind.VALIDATION, job=job, votes_per_item=3,
            items_per_hit=10, gold_rate=0.0, state=Campaign.State.OPEN, provider=Provider.INHOUSE,
        )  # fmt: skip
        hit = Hit.objects.create(campaign=campaign, index=0)
        workers = Worker.objects.bulk_create(
            [Worker(provider=Provider.INHOUSE, provider_id=f"bench-{k}") for k in range(3)]
        )
        assignments = Assignment.objects.bulk_create([
            Assignment(hit=hit, worker=w, state=Assignment.State.SUBMITTED, plan=[],
                       expires_at=now + timedelta(days=1), submitted_at=now)
            for w in workers
        ])  # fmt: skip
        benchmark_create(name="Bench publish")
        progress = Progress("people, fits, items and votes written", people)
        checkpoint = "b" * 64
        written = 0
        for start in range(0, people, slice_size):
            n = min(slice_size, people - start)
            # Images (per_image people on each), people inside them and their fits.
            fits = make_people_and_fits(dataset, job, start, n, rng, per_image, (width, height), checkpoint)
            items = Item.objects.bulk_create([Item(campaign=campaign, fit=fit) for fit in fits])
            # 10% of the fits are wrong; a worker rejects a wrong fit 90% of the time, a right one 5%.
            wrong = rng.random(n) < 0.1
            rejects = rng.random((n, 3)) < np.where(wrong, 0.9, 0.05)[:, None]
            Vote.objects.bulk_create([
                Vote(assignment=assignments[w], item=item, worker=workers[w], seconds=2.0,
                     answer=Vote.Answer.REJECT if rejects[k, w] else Vote.Answer.ACCEPT)
                for k, item in enumerate(items) for w in range(3)
            ])  # fmt: skip
            written += n
            progress(written)
    return {"people": people, "setup_seconds": time.perf_counter() - started}


class Phases:
    """Exclusive time per named function (a call's time less that of the timed calls inside it)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._inner: list[float] = []

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                inner = self._inner.pop()
                self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - inner
                self.calls[name] = self.calls.get(name, 0) + 1
                if self._inner:
                    self._inner[-1] += elapsed

        return timed

    def patch(self, owner: Any, attribute: str, name: str) -> None:
        setattr(owner, attribute, self.wrap(name, getattr(owner, attribute)))


def _instrument(phases: Phases, done: list[int]) -> None:
    """Time the steps of version_build where it looks them up (module attributes read at call)."""
    import django.db.models.query
    from django.core.files.storage import Storage

    import fitting.benchmark
    import webapp.benchmarks.services as services
    import webapp.core.taskstate
    import webapp.datasets.selectors
    import webapp.fits.selectors

    phases.patch(services, "counted_votes", "votes: counted_votes query")
    phases.patch(services, "_accepted", "votes: aggregation (_accepted)")
    phases.patch(django.db.models.query.QuerySet, "_fetch_all", "ORM: fit chunks and ids (queries, rows)")
    phases.patch(webapp.datasets.selectors, "person_box", "projection: person_box")
    phases.patch(fitting.benchmark, "fitted_gt24_px", "projection: body forward (fitted_gt24_px)")
    phases.patch(fitting.benchmark, "truncation_boxes", "truncation_boxes")
    phases.patch(webapp.fits.selectors, "fit_eft_entry", "fit_eft_entry")
    phases.patch(services, "canonical_json", "canonical_json (json.dumps)")
    phases.patch(services, "_archive", "zip: card, plots, body files")
    phases.patch(Storage, "save", "storage: copy into media")
    beat = webapp.core.taskstate.heartbeat

    def heartbeat(model: Any, pk: int, **changes: Any) -> bool:
        done[0] = int(changes.get("people_done", done[0]))
        if "people_total" in changes:
            done[1] = int(changes["people_total"])
        return beat(model, pk, **changes)

    webapp.core.taskstate.heartbeat = phases.wrap("heartbeats", heartbeat)


@contextmanager
def _watch(done: list[int], samples: list[tuple[int, float]]) -> Iterator[None]:
    """Print the people written and the RSS every PROGRESS_EVERY_S seconds, and sample the RSS."""
    stop = threading.Event()
    started = time.perf_counter()

    def run() -> None:
        while not stop.wait(1.0):
            samples.append((done[0], rss_mb()))
            if len(samples) % int(PROGRESS_EVERY_S) == 0:
                seconds = time.perf_counter() - started
                line = f"{done[0]:,}/{done[1]:,} people in {seconds:.0f} s, RSS {samples[-1][1]:.0f} MB"
                print("  build:", line, flush=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _forward_batches(body: Any) -> dict[str, dict[str, float]]:
    """Time and peak growth of the projection (``fitted_gt24_px``) and the truncation boxes for one
    batch of fits, at the build's chunk size (settings.PUBLISH_CHUNK) and smaller."""
    from django.conf import settings

    from fitting.benchmark import fitted_gt24_px, truncation_boxes
    from fitting.geometry.camera import CropBox
    from webapp.benchmarks.services import canonical_json

    rng = np.random.default_rng(3)
    out = {}
    for batch in sorted({50, int(settings.PUBLISH_CHUNK)}):
        pose = _rotations(rng.normal(0, 0.12, (batch, 24, 3)))
        cams = np.tile([0.9, 0.0, 0.2], (batch, 1))
        boxes = [CropBox(320.0, 240.0, 2.0)] * batch
        project = functools.partial(fitted_gt24_px, body, pose, np.zeros((batch, 10)), cams, boxes)
        project()  # warm
        seconds, growth, points = _timed(project)
        started = time.perf_counter()
        for person in points:
            canonical_json(truncation_boxes(person))
        out[str(batch)] = {"forward_ms_per_person": 1e3 * seconds / batch, "forward_growth_mb": growth,
                           "boxes_ms_per_person": 1e3 * (time.perf_counter() - started) / batch}  # fmt: skip
    return out


def child_build(profile: bool) -> dict[str, Any]:
    _django()
    from django.core.files.storage import default_storage

    from webapp.benchmarks.models import Benchmark
    from webapp.benchmarks.services import version_build, version_publish_request
    from webapp.crowd.models import Campaign
    from webapp.fits.engine import body_for

    started = time.perf_counter()
    body_for("")  # what a publishing worker loads once (torch, the open body)
    body_seconds = time.perf_counter() - started
    import logging

    import matplotlib.pyplot  # noqa: F401  (the card's plots: loaded once per worker too)

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # the card's bar labels log at INFO
    forward = _forward_batches(body_for("")[0])

    phases, done = Phases(), [0, 0]
    samples: list[tuple[int, float]] = []
    _instrument(phases, done)
    baseline_mb = rss_mb()
    reset_peak()
    started = time.perf_counter()
    version = version_publish_request(
        benchmark=Benchmark.objects.get(), campaigns=list(Campaign.objects.all()), enqueue=False
    )
    request_seconds = time.perf_counter() - started
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    with _watch(done, samples):
        built = version_build(version_id=version.pk, say=lambda line: print("  build:", line, flush=True))
    build_seconds = time.perf_counter() - started
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
        lines = text.getvalue().splitlines()
        header = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        print("  cProfile of version_build, by own time:")
        print("\n".join(line for line in lines[header:] if line.strip()), flush=True)
    if built.status != "done":
        raise SystemExit(f"the build failed: {built.error}")
    peak_mb = hwm_mb()
    people = built.people
    quarters = {}
    for fraction in (0.25, 0.5, 0.75, 1.0):
        later = [rss for written, rss in samples if written >= fraction * people]
        quarters[f"{fraction:.2f}"] = later[0] if later else rss_mb()
    return {
        "people_accepted": people,
        "items_judged": built.card.get("items_judged"),
        "body_load_seconds": body_seconds,
        "request_seconds": request_seconds,
        "build_seconds": build_seconds,
        "phases": phases.seconds,
        "calls": phases.calls,
        "json_mb": built.size / 1e6,
        "zip_mb": default_storage.size(built.archive.name) / 1e6,
        "baseline_rss_mb": baseline_mb,
        "build_peak_mb": peak_mb,
        "rss_at": quarters,
        "process_peak_mb": process_peak_mb(),
        "profiled": profile,
        "forward": forward,
    }


# ------------------------------------------------------------------------------------- parent


def _child(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run this script as a child (its progress on our terminal) and read its result."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        command = [sys.executable, str(SCRIPT), "--child", *args, "--result", result.name]
        completed = subprocess.run(command, cwd=ROOT, env=env)
        if completed.returncode != 0:
            raise SystemExit(f"child {' '.join(args)} failed with exit status {completed.returncode}")
        figures: dict[str, Any] = json.loads(Path(result.name).read_text())
        return figures


def _sizes(text: str) -> tuple[int, int]:
    values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    if len(values) != 2 or not 0 < values[0] < values[1]:
        raise argparse.ArgumentTypeError(f"expected two sizes, small,large (e.g. 10000,100000), got {text!r}")
    return values[0], values[1]


def _scaling(ratio: float, size_ratio: float) -> str:
    if ratio < 0.7 * size_ratio:
        return "sublinear (fixed costs weigh)"
    if ratio > 1.3 * size_ratio:
        return "SUPERLINEAR"
    return "linear"


def _table(title: str, sizes: tuple[int, int], unit: str, rows: list[tuple[str, float, float, str]]) -> None:
    """``rows``: (name, small, large, format) printed with the ratio large / small."""
    print(f"\n{title}")
    head = f"{sizes[0]:,} {unit}", f"{sizes[1]:,} {unit}"
    print(f"  {'':44s} {head[0]:>16s} {head[1]:>16s} {'ratio':>8s}")
    for name, small, large, fmt in rows:
        ratio = f"{large / small:8.2f}" if small > 0 else f"{'-':>8s}"
        print(f"  {name:44s} {format(small, fmt):>16s} {format(large, fmt):>16s} {ratio}")


def run_aggregation(sizes: tuple[int, int], workers: int) -> dict[str, Any]:
    results = []
    for n in sizes:
        print(f"aggregation of {n:,} votes (child process)", flush=True)
        results.append(_child(["aggregation", str(n), "--workers", str(workers)]))
    small, large = results
    size_ratio = sizes[1] / sizes[0]
    rows = [(f"{name} (s)", small["rows"][name]["seconds"], large["rows"][name]["seconds"], ".3f")
            for name in small["rows"]]  # fmt: skip
    _table(f"Aggregation (fitting.votes), {workers} workers, 3 votes per item; the ratio for "
           f"x{size_ratio:g} votes", sizes, "votes", rows)  # fmt: skip
    print(f"  {'peak growth of any step (MB)':44s} "
          + " ".join(f"{max(r['growth_mb'] for r in res['rows'].values()):16.0f}" for res in results)
          + f"\n  {'process peak RSS (MB)':44s} "
          + " ".join(f"{res['process_peak_mb']:16.0f}" for res in results))  # fmt: skip
    print(
        f"  Dawid-Skene (publishing's 200 iterations, tol 1e-7): {small['ds_iterations']} and "
        f"{large['ds_iterations']} iterations (converged: {small['ds_converged']}, "
        f"{large['ds_converged']}); "
        f"defaults (100, 1e-6): {small['ds_default_iterations']} and {large['ds_default_iterations']}"
    )
    print(f"  votes per second at {sizes[1]:,} votes:")
    for name, values in large["rows"].items():
        seconds = values["seconds"]
        ratio = seconds / small["rows"][name]["seconds"]
        print(f"    {name:42s} {sizes[1] / seconds:14,.0f}/s  ({_scaling(ratio, size_ratio)}, x{ratio:.1f})")
    return {"small": small, "large": large}


def _export_env(data_dir: Path, chunk: int | None) -> dict[str, str]:
    env = dict(os.environ, DATA_DIR=str(data_dir), DJANGO_DEBUG="true", EFT_ENV_FILE="none")
    env.pop("PUBLISH_CHUNK", None)
    if chunk:
        env["PUBLISH_CHUNK"] = str(chunk)
    # The embedded defaults: SQLite in DATA_DIR, the filesystem broker, local media, the open body.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "MEDIA_STORAGE", "EFT_BODY_MODEL_PATH",
                 "EFT_J_REGRESSOR_EXTRA_PATH", "CELERY_TASK_ALWAYS_EAGER"):  # fmt: skip
        env.pop(name, None)
    return env


def run_export(sizes: tuple[int, int], work: Path, profile: bool, chunk: int | None) -> dict[str, Any]:
    results = []
    for n in sizes:
        folder = work / f"export-{n}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        env = _export_env(folder / "data", chunk)
        print(f"export of {n:,} people: migrate, setup (child), build (child) in {folder}", flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env,
                       check=True)  # fmt: skip
        migrate_seconds = time.perf_counter() - started
        setup = _child(["setup", str(n)], env)
        built = _child(["build", str(n), *(["--profile"] if profile else [])], env)
        results.append({**built, **setup, "migrate_seconds": migrate_seconds})
    small, large = results
    size_ratio = sizes[1] / sizes[0]
    names = sorted(set(small["phases"]) | set(large["phases"]), key=lambda k: -large["phases"].get(k, 0.0))

    def rest(result: dict[str, Any]) -> float:
        return float(result["build_seconds"] - sum(result["phases"].values()))

    rows = [
        ("setup: bulk_create of the rows (s)", small["setup_seconds"], large["setup_seconds"], ".1f"),
        ("version_publish_request (s)", small["request_seconds"], large["request_seconds"], ".3f"),
        ("version_build (s)", small["build_seconds"], large["build_seconds"], ".1f"),
        *[(f"  {name} (s)", small["phases"].get(name, 0.0), large["phases"].get(name, 0.0), ".2f")
          for name in names],
        ("  the rest: writing, hashing, loops (s)", rest(small), rest(large), ".2f"),
        ("people accepted and written", small["people_accepted"], large["people_accepted"], ",.0f"),
        ("people written per second", small["people_accepted"] / small["build_seconds"],
         large["people_accepted"] / large["build_seconds"], ",.0f"),
        ("JSON (MB)", small["json_mb"], large["json_mb"], ".1f"),
        ("zip (MB)", small["zip_mb"], large["zip_mb"], ".1f"),
        ("RSS before the build: Django, torch, body (MB)", small["baseline_rss_mb"], large["baseline_rss_mb"],
         ".0f"),
        ("peak RSS during the build (MB)", small["build_peak_mb"], large["build_peak_mb"], ".0f"),
        ("growth over the RSS before it (MB)", small["build_peak_mb"] - small["baseline_rss_mb"],
         large["build_peak_mb"] - large["baseline_rss_mb"], ".0f"),
        *[(f"RSS at {100 * float(q):.0f}% of the people written (MB)", small["rss_at"][q],
           large["rss_at"][q], ".0f")
          for q in small["rss_at"]],
        ("process peak RSS, build child (MB)", small["process_peak_mb"], large["process_peak_mb"], ".0f"),
    ]  # fmt: skip
    title = f"Export (webapp.benchmarks.services.version_build), SQLite, PUBLISH_CHUNK {chunk or 200}"
    title += f"; the ratio for x{size_ratio:g} people" + (" (under cProfile)" if profile else "")
    _table(title, sizes, "people", rows)
    time_ratio = large["build_seconds"] / small["build_seconds"]
    growth = [r["build_peak_mb"] - r["baseline_rss_mb"] for r in results]
    print(f"  body load, once per worker: {small['body_load_seconds']:.1f} s; "
          f"migrate {small['migrate_seconds']:.1f} s")  # fmt: skip
    print(f"  build time x{time_ratio:.1f} for x{size_ratio:g} people: {_scaling(time_ratio, size_ratio)}")
    per_thousand = (growth[1] - growth[0]) / (sizes[1] - sizes[0]) * 1e3
    verdict = "nearly flat" if growth[1] < 1.5 * growth[0] + 50 else "grows with the people"
    print(f"  build memory: peak x{large['build_peak_mb'] / small['build_peak_mb']:.2f}, growth "
          f"{growth[0]:.0f} -> {growth[1]:.0f} MB ({per_thousand:.2f} MB per 1000 more people): "
          f"{verdict}")  # fmt: skip
    projection = sum(v for k, v in large["phases"].items() if k.startswith(("projection", "truncation")))
    writing = large["phases"].get("canonical_json (json.dumps)", 0.0) + rest(large)
    print(
        f"  at {sizes[1]:,} people: projection + truncation boxes {projection:.1f} s against entries "
        f"{large['phases'].get('fit_eft_entry', 0.0):.1f} s and JSON + writing {writing:.1f} s"
    )
    for batch, figures in large["forward"].items():
        print(f"  one batch of {batch} fits alone: fitted_gt24_px {figures['forward_ms_per_person']:.2f} ms "
              f"per person, peak +{figures['forward_growth_mb']:.0f} MB; truncation boxes and their JSON "
              f"{figures['boxes_ms_per_person']:.2f} ms per person")  # fmt: skip
    return {"small": small, "large": large}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--votes", type=_sizes, default=(100_000, 1_000_000), help="two vote counts (A,B)")
    parser.add_argument("--people", type=_sizes, default=(10_000, 100_000), help="two people counts (A,B)")
    parser.add_argument("--workers", type=int, default=300, help="simulated workers (aggregation)")
    parser.add_argument("--quick", action="store_true", help="1K and 10K votes, 500 and 2000 people")
    parser.add_argument("--skip-aggregation", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile each build (slower; prints the top)")
    parser.add_argument("--work", type=Path, default=None, help="databases' folder (default: temporary)")
    parser.add_argument("--chunk", type=int, default=None, help="PUBLISH_CHUNK for the builds (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, size = args.child[0], int(args.child[1])
        if kind == "aggregation":
            figures = child_aggregation(size, args.workers)
        elif kind == "setup":
            figures = child_setup(size, seed=18)
        else:
            figures = child_build(args.profile)
        args.result.write_text(json.dumps(figures))
        return 0

    if args.quick:
        args.votes, args.people = (1_000, 10_000), (500, 2_000)
    report: dict[str, Any] = {}
    started = time.perf_counter()
    if not args.skip_aggregation:
        report["aggregation"] = run_aggregation(args.votes, args.workers)
    if not args.skip_export:
        made = args.work is None
        work = Path(tempfile.mkdtemp(prefix="bench-publish-")) if made else args.work
        try:
            report["export"] = run_export(args.people, work, args.profile, args.chunk)
        finally:
            if args.keep:
                print(f"kept {work}")
            else:
                for n in args.people:
                    shutil.rmtree(work / f"export-{n}", ignore_errors=True)
                if made or (work.exists() and not any(work.iterdir())):
                    shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
