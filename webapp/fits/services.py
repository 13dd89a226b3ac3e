"""Writes of the fits app: start a fit job, run one of its chunks, cancel it.

A job's people are cut into chunks; each chunk is a task on the ``gpu`` queue. A worker claims a
chunk by compare-and-set (pending -> running), fits its people with ``fitting.pipeline`` and
writes one Fit per person in one transaction; the (job, person) unique constraint keeps a chunk
that runs twice (a redelivery after a worker died) from writing anything twice.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from fitting.config import Method, MethodConfig, SmplifyConfig, config_class, method_config
from webapp.datasets.models import Dataset, Person
from webapp.fits.models import Fit, FitChunk, FitJob

if TYPE_CHECKING:
    from fitting.results import ImageFailure, PersonFit

FILTER_FIELDS: dict[str, dict[str, Any]] = {
    "all": {"labelled__gt": 0},
    "coco-all": {"coco_all": True},
    "coco-part": {"coco_part": True},
}


def fit_job_config(*, method: str, options: dict[str, Any] | None = None) -> MethodConfig:
    """The method's options dataclass from a form's or a request's values (the one validation);
    a bad name or value is a ValidationError on ``config`` that says which."""
    try:
        return method_config(method, options)
    except ValueError as exc:
        raise ValidationError({"config": str(exc)}) from exc


def job_people(dataset: Dataset, filter_name: str, split: str) -> QuerySet[Person]:
    if filter_name not in FILTER_FIELDS:
        raise ValidationError(
            {"filter": f"unknown filter {filter_name!r}; choose from {sorted(FILTER_FIELDS)}"}
        )
    people = Person.objects.filter(dataset=dataset, **FILTER_FIELDS[filter_name])
    if split:
        people = people.filter(split=split)
    return people.order_by("image__name", "id")  # a chunk reads as few images as it can


@transaction.atomic
def fit_job_start(
    *,
    dataset: Dataset,
    method: str = FitJob.Method.EFT,
    filter_name: str = "coco-all",
    split: str = "",
    config: MethodConfig | None = None,
    chunk_size: int = 32,
    checkpoint: str = "",
    body_model: str = "",
    render: bool = True,
    enqueue: bool = True,
) -> FitJob:
    """A new job over the dataset's people (by filter and split), cut into chunks that are
    enqueued on the ``gpu`` queue once this transaction commits. ``config`` is the method's
    options dataclass (validated when it was made: ``fitting.config.method_config``); None is
    the method's defaults."""
    if dataset.status != Dataset.Status.READY:
        raise ValidationError({"dataset": f"dataset {dataset.name} is {dataset.status}, not ready"})
    if method not in FitJob.Method.values:
        raise ValidationError({"method": f"unknown method {method!r}; choose from {FitJob.Method.values}"})
    options = config if config is not None else config_class(method)()
    if not isinstance(options, config_class(method)):
        raise ValidationError(
            {"config": f"method {method} takes {config_class(method).__name__}, not {type(options).__name__}"}
        )
    if not 1 <= chunk_size <= 4096:
        raise ValidationError({"chunk_size": "must be between 1 and 4096"})
    ids = list(job_people(dataset, filter_name, split).values_list("id", flat=True))
    if not ids:
        raise ValidationError(
            {"filter": f"no person of {dataset.name} passes {filter_name} (split {split or 'any'})"}
        )
    job = FitJob.objects.create(
        dataset=dataset, method=method, filter=filter_name, split=split, config=asdict(options),
        chunk_size=chunk_size, checkpoint=checkpoint, body_model=body_model, people_total=len(ids),
        render=render,
    )  # fmt: skip
    chunks = FitChunk.objects.bulk_create(
        [FitChunk(job=job, index=k, person_ids=ids[start : start + chunk_size])
         for k, start in enumerate(range(0, len(ids), chunk_size))]
    )  # fmt: skip
    if enqueue:
        _requeue(_ids(chunks, FitChunk.objects.filter(job=job)))
    return job


def _settings(job: FitJob, device: str = "cpu", people: int = 1) -> Any:
    """The pipeline settings of a job; on a GPU a chunk's people run as one EFT batch (on a
    2-core CPU batching is slower, docs/EFT.md)."""
    from fitting.pipeline import FitSettings

    config = job.method_config()
    if isinstance(config, SmplifyConfig):
        return FitSettings(method="smplify", smplify=config, skip_bad_images=True)
    batch = max(people, 1) if device.startswith("cuda") and job.method == FitJob.Method.EFT else 1
    method: Method = "regressor" if job.method == FitJob.Method.REGRESSOR else "eft"
    return FitSettings(method=method, eft=config, eft_batch=batch, skip_bad_images=True)


def fit_chunk_run(*, chunk_id: int, worker: str = "") -> FitChunk:
    """Run a pending chunk (claimed by compare-and-set; anything else is left alone)."""
    claimed = FitChunk.objects.filter(pk=chunk_id, status=FitChunk.Status.PENDING).update(
        status=FitChunk.Status.RUNNING,
        attempts=F("attempts") + 1,
        claimed_at=timezone.now(),
        worker=worker[:255],
    )
    chunk = FitChunk.objects.select_related("job").get(pk=chunk_id)
    if not claimed:
        return chunk
    job = chunk.job
    if job.status == FitJob.Status.CANCELLED:
        FitChunk.objects.filter(pk=chunk.pk).update(status=FitChunk.Status.FAILED, error="job cancelled")
        chunk.refresh_from_db()
        return chunk
    started = time.perf_counter()
    try:
        _, failed = _run(job, chunk)
    except Exception as exc:
        if _out_of_memory(exc) and len(chunk.person_ids) > 1:
            _split(chunk, str(exc))
            return FitChunk.objects.get(pk=chunk.pk)
        FitChunk.objects.filter(pk=chunk.pk).update(
            status=FitChunk.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            seconds=time.perf_counter() - started,
        )
        FitJob.objects.filter(pk=job.pk).update(people_failed=F("people_failed") + len(chunk.person_ids))
        _finish_if_complete(job.pk)
        raise
    FitChunk.objects.filter(pk=chunk.pk).update(
        status=FitChunk.Status.DONE, seconds=time.perf_counter() - started,
        error="; ".join(f.error for f in failed)[:5000],
    )  # fmt: skip
    _finish_if_complete(job.pk)
    chunk.refresh_from_db()
    return chunk


def fit_row(*, job: FitJob, fit: PersonFit) -> Fit:
    """The Fit row of a pipeline result, field by field (``fit.key`` is the Person's id)."""
    return Fit(
        job=job,
        person_id=int(str(fit.key)),
        pose_rotmat=fit.pose_rotmat.tolist(),
        betas=fit.betas.tolist(),
        cam_weak=fit.cam_weak.tolist(),
        joint_error_px=list(fit.joint_error_px),
        mean_error_px=round(fit.mean_error_px, 3),
        iterations=fit.iterations,
        keypoint_loss=fit.keypoint_loss,
        loss_before=fit.loss_before,
        loss_after=fit.loss_after,
        max_abs_beta=fit.max_abs_beta,
        sanity_ok=fit.verdict.ok,
        sanity_reason=fit.verdict.reason,
        sanity_rule=fit.verdict.rule,
        seconds=round(fit.seconds, 3),
        checkpoint_sha256=fit.checkpoint_sha256,
        body_model=fit.body_model[:500],
        prior=fit.prior[:200],
    )


def _run(job: FitJob, chunk: FitChunk) -> tuple[int, list[ImageFailure]]:
    from fitting.pipeline import fit_people
    from webapp.datasets.selectors import image_pixels, source_person
    from webapp.fits.engine import engine_for

    done = set(
        Fit.objects.filter(job=job, person_id__in=chunk.person_ids).values_list("person_id", flat=True)
    )
    rows = list(Person.objects.filter(pk__in=chunk.person_ids).exclude(pk__in=done).select_related("image"))
    rows.sort(key=lambda p: (p.image.name, p.pk))
    images = {p.image.name: p.image for p in rows}

    def load(name: str) -> Any:
        return image_pixels(images[name])

    engine = engine_for(job.checkpoint, job.body_model)
    FitChunk.objects.filter(pk=chunk.pk).update(device=engine.device)
    settings_ = _settings(job, engine.device, len(rows))
    run = fit_people(
        [source_person(p) for p in rows], load, engine.regressor, engine.body, settings_, engine.prior,
        keys=[p.pk for p in rows],
    )  # fmt: skip
    fits = [fit_row(job=job, fit=fit) for fit in run.fits]
    with transaction.atomic():
        Fit.objects.bulk_create(fits, ignore_conflicts=True)
        failed_people = sum(len(f.keys) for f in run.failures)
        FitJob.objects.filter(pk=job.pk).update(
            people_done=Fit.objects.filter(job=job).count(), people_failed=F("people_failed") + failed_people
        )
        if job.render:
            fit_ids = list(
                Fit.objects.filter(job=job, person_id__in=chunk.person_ids).values_list("id", flat=True)
            )
            from tasks.renders import render_fits_task

            transaction.on_commit(lambda: render_fits_task.delay(fit_ids))
    return len(fits), run.failures


def _out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _split(chunk: FitChunk, reason: str) -> list[FitChunk]:
    """Replace a chunk that ran out of device memory by its two halves, queued at once."""
    from django.db.models import Max

    ids = chunk.person_ids
    half = len(ids) // 2
    with transaction.atomic():
        FitJob.objects.select_for_update().get(pk=chunk.job_id)  # one split at a time per job
        top = FitChunk.objects.filter(job_id=chunk.job_id).aggregate(top=Max("index"))["top"] or 0
        parts = FitChunk.objects.bulk_create(
            [FitChunk(job_id=chunk.job_id, index=top + 1, person_ids=ids[:half]),
             FitChunk(job_id=chunk.job_id, index=top + 2, person_ids=ids[half:])]
        )  # fmt: skip
        FitChunk.objects.filter(pk=chunk.pk).update(status=FitChunk.Status.SPLIT, error=reason[:2000])
        _requeue(_ids(parts, FitChunk.objects.filter(job_id=chunk.job_id, index__gt=top)))
    return parts


def _ids(created: list[FitChunk], fallback: QuerySet[FitChunk]) -> list[int]:
    """Primary keys of bulk-created chunks (read back where the backend does not return them)."""
    if all(c.pk for c in created):
        return [c.pk for c in created]
    return list(fallback.values_list("id", flat=True))


def _requeue(chunks: list[int]) -> None:
    """Enqueue these chunks once the current transaction commits."""
    from tasks.fits import fit_chunk_task

    transaction.on_commit(lambda: [fit_chunk_task.delay(pk) for pk in chunks])


def fit_chunks_sweep(*, now: Any = None) -> dict[str, int]:
    """Queue again the chunks RUNNING for longer than FIT_CHUNK_STALE_SECONDS (their worker is
    taken as lost); fail those already claimed FIT_CHUNK_MAX_ATTEMPTS times. Returns counts."""
    from datetime import timedelta

    from django.conf import settings

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.FIT_CHUNK_STALE_SECONDS)
    requeued: list[int] = []
    failed = 0
    with transaction.atomic():
        stale = FitChunk.objects.select_for_update(skip_locked=True).filter(
            status=FitChunk.Status.RUNNING, claimed_at__lt=cutoff
        )
        for chunk in stale:
            if chunk.attempts >= settings.FIT_CHUNK_MAX_ATTEMPTS:
                FitChunk.objects.filter(pk=chunk.pk, status=FitChunk.Status.RUNNING).update(
                    status=FitChunk.Status.FAILED, error=f"lost {chunk.attempts} times (worker died or hung)"
                )
                FitJob.objects.filter(pk=chunk.job_id).update(
                    people_failed=F("people_failed") + len(chunk.person_ids)
                )
                failed += 1
                _finish_if_complete(chunk.job_id)
            elif FitChunk.objects.filter(pk=chunk.pk, status=FitChunk.Status.RUNNING).update(
                status=FitChunk.Status.PENDING
            ):
                requeued.append(chunk.pk)
        _requeue(requeued)
    return {"requeued": len(requeued), "failed": failed}


def fit_job_retry_failed(*, job: FitJob) -> int:
    """Queue the job's failed chunks again (not the cancelled ones); returns how many."""
    with transaction.atomic():
        chunks = list(
            FitChunk.objects.filter(job=job, status=FitChunk.Status.FAILED)
            .exclude(error="job cancelled")
            .values_list("id", "person_ids")
        )
        if not chunks:
            return 0
        ids = [pk for pk, _ in chunks]
        FitChunk.objects.filter(pk__in=ids).update(status=FitChunk.Status.PENDING, attempts=0, error="")
        lost = sum(len(people) for _, people in chunks)
        FitJob.objects.filter(pk=job.pk).update(
            status=FitJob.Status.RUNNING, finished_at=None, people_failed=F("people_failed") - lost
        )
        _requeue(ids)
    return len(ids)


def _finish_if_complete(job_id: int) -> None:
    open_chunks = FitChunk.objects.filter(
        job_id=job_id, status__in=(FitChunk.Status.PENDING, FitChunk.Status.RUNNING)
    ).exists()
    if not open_chunks:
        FitJob.objects.filter(pk=job_id, status=FitJob.Status.RUNNING).update(
            status=FitJob.Status.DONE, finished_at=timezone.now()
        )


def fit_job_cancel(*, job: FitJob) -> FitJob:
    """Stop a job: pending chunks are marked failed (cancelled); running ones finish."""
    with transaction.atomic():
        FitJob.objects.filter(pk=job.pk, status=FitJob.Status.RUNNING).update(
            status=FitJob.Status.CANCELLED, finished_at=timezone.now()
        )
        FitChunk.objects.filter(job=job, status=FitChunk.Status.PENDING).update(
            status=FitChunk.Status.FAILED, error="job cancelled"
        )
    job.refresh_from_db()
    return job
