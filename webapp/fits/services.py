"""Writes of the fits app: start a fit job, run one of its chunks, cancel it.

A job's people are cut into chunks; each chunk is a task on the ``gpu`` queue. A worker claims a
chunk by compare-and-set (pending -> running), fits its people with ``fitting.pipeline`` and
writes one Fit per person in one transaction; the (job, person) unique constraint keeps a chunk
that runs twice (a redelivery after a worker died) from writing anything twice.
"""

from __future__ import annotations

import time
from dataclasses import asdict, fields
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from webapp.datasets.models import Dataset, Person
from webapp.fits.models import Fit, FitChunk, FitJob

FILTER_FIELDS: dict[str, dict[str, Any]] = {
    "all": {"labelled__gt": 0},
    "coco-all": {"coco_all": True},
    "coco-part": {"coco_part": True},
}


def _config(method: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    from fitting.eft.core import EftConfig
    from fitting.smplify.core import SmplifyConfig

    kind = SmplifyConfig if method == FitJob.Method.SMPLIFY else EftConfig
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(overrides or {}) - known)
    if unknown:
        raise ValidationError({"config": f"unknown option(s) {unknown}; {kind.__name__} has {sorted(known)}"})
    try:
        return asdict(kind(**(overrides or {})))
    except (TypeError, ValueError) as exc:
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
    config: dict[str, Any] | None = None,
    chunk_size: int = 32,
    checkpoint: str = "",
    body_model: str = "",
    render: bool = True,
    enqueue: bool = True,
) -> FitJob:
    """A new job over the dataset's people (by filter and split), cut into chunks that are
    enqueued on the ``gpu`` queue once this transaction commits."""
    if dataset.status != Dataset.Status.READY:
        raise ValidationError({"dataset": f"dataset {dataset.name} is {dataset.status}, not ready"})
    if method not in FitJob.Method.values:
        raise ValidationError({"method": f"unknown method {method!r}; choose from {FitJob.Method.values}"})
    if not 1 <= chunk_size <= 4096:
        raise ValidationError({"chunk_size": "must be between 1 and 4096"})
    ids = list(job_people(dataset, filter_name, split).values_list("id", flat=True))
    if not ids:
        raise ValidationError(
            {"filter": f"no person of {dataset.name} passes {filter_name} (split {split or 'any'})"}
        )
    job = FitJob.objects.create(
        dataset=dataset, method=method, filter=filter_name, split=split, config=_config(method, config),
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
    from fitting.eft.core import EftConfig
    from fitting.pipeline import FitSettings
    from fitting.smplify.core import SmplifyConfig

    if job.method == FitJob.Method.SMPLIFY:
        return FitSettings(method="smplify", smplify=SmplifyConfig(**job.config), skip_bad_images=True)
    if job.method == FitJob.Method.REGRESSOR:
        return FitSettings(method="regressor", eft=EftConfig(**job.config), skip_bad_images=True)
    batch = max(people, 1) if device.startswith("cuda") else 1
    return FitSettings(method="eft", eft=EftConfig(**job.config), eft_batch=batch, skip_bad_images=True)


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
        error="; ".join(f["error"] for f in failed)[:5000],
    )  # fmt: skip
    _finish_if_complete(job.pk)
    chunk.refresh_from_db()
    return chunk


def _run(job: FitJob, chunk: FitChunk) -> tuple[int, list[dict[str, Any]]]:
    import numpy as np

    from fitting.datasets.common import SourcePerson
    from fitting.pipeline import fit_people
    from webapp.datasets.selectors import image_pixels
    from webapp.fits.engine import engine_for

    done = set(
        Fit.objects.filter(job=job, person_id__in=chunk.person_ids).values_list("person_id", flat=True)
    )
    rows = list(Person.objects.filter(pk__in=chunk.person_ids).exclude(pk__in=done).select_related("image"))
    rows.sort(key=lambda p: (p.image.name, p.pk))
    images = {p.image.name: p.image for p in rows}

    def load(name: str) -> Any:
        return image_pixels(images[name])

    people = [
        SourcePerson(annotation_id=str(p.pk), image_name=p.image.name, layout=p.layout,
                     keypoints=np.asarray(p.keypoints_raw, dtype=np.float64),
                     labels_gt24=np.asarray(p.keypoints_gt24, dtype=np.float64),
                     bbox=tuple(p.bbox) if p.bbox else None)
        for p in rows
    ]  # fmt: skip
    engine = engine_for(job.checkpoint, job.body_model)
    FitChunk.objects.filter(pk=chunk.pk).update(device=engine.device)
    settings_ = _settings(job, engine.device, len(people))
    run = fit_people(people, load, engine.regressor, engine.body, settings_, engine.prior)
    fits = []
    for entry in run.entries:
        fit = entry["fit"]
        betas = entry["parm_shape"]
        fits.append(
            Fit(
                job=job,
                person_id=int(entry["annotId"]),
                pose_rotmat=entry["parm_pose"],
                betas=betas,
                cam_weak=entry["parm_cam"],
                joint_error_px=fit["joint_error_px_gt24"],
                mean_error_px=fit["mean_error_px"],
                iterations=fit["iterations"],
                keypoint_loss=fit["keypoint_loss"],
                max_abs_beta=max(abs(b) for b in betas),
                sanity_ok=fit["sanity_ok"],
                sanity_reason=fit["sanity_reason"],
                seconds=fit["seconds"],
                details={
                    k: fit[k]
                    for k in ("config", "checkpoint_sha256", "body_model", "sanity_rule", "prior")
                    if k in fit
                },
            )
        )
    with transaction.atomic():
        Fit.objects.bulk_create(fits, ignore_conflicts=True)
        failed_people = sum(len(f["annotIds"]) for f in run.failures)
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
