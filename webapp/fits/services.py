"""Writes of the fits app: start a fit job, run one of its chunks, cancel it.

A job's people are cut into chunks; each chunk is a task on the ``gpu`` queue. A worker claims a
chunk by compare-and-set (pending -> running), fits its people with ``fitting.pipeline`` and
writes one Fit per person in one transaction; the (job, person) unique constraint keeps a chunk
that runs twice (a redelivery after a worker died) from writing anything twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from fitting.config import Method, MethodConfig, SmplifyConfig, config_class, method_config
from fitting.datasets.filters import DEFAULT_FILTER
from webapp.core import taskstate
from webapp.core.media import delete_folder, job_render_folder
from webapp.core.models import field_default
from webapp.core.taskstate import TaskStatus
from webapp.datasets.models import Dataset, Person
from webapp.datasets.selectors import people_passing
from webapp.fits.models import Fit, FitChunk, FitJob, PairRender
from webapp.regressors.models import Regressor
from webapp.regressors.services import regressor_check_body, regressor_local_path

if TYPE_CHECKING:
    from fitting.results import ImageFailure, PersonFit


def fit_job_config(*, method: str, options: dict[str, Any] | None = None) -> MethodConfig:
    """The method's options dataclass from a form's or a request's values (the one validation);
    a bad name or value is a ValidationError on ``config`` that says which."""
    try:
        return method_config(method, options)
    except ValueError as exc:
        raise ValidationError({"config": str(exc)}) from exc


def job_people(dataset: Dataset, filter_name: str, split: str) -> QuerySet[Person]:
    try:
        people = people_passing(dataset, filter_name)
    except ValueError as exc:
        raise ValidationError({"filter": str(exc)}) from exc
    if split:
        people = people.filter(split=split)
    return people.order_by("image__name", "id")  # a chunk reads as few images as it can


@transaction.atomic
def fit_job_start(
    *,
    dataset: Dataset,
    method: str = FitJob.Method.EFT,
    filter_name: str = DEFAULT_FILTER,
    split: str = "",
    config: MethodConfig | None = None,
    chunk_size: int | None = None,
    checkpoint: str = "",
    regressor: Regressor | None = None,
    body_model: str = "",
    render: bool = True,
    enqueue: bool = True,
) -> FitJob:
    """A new job over the dataset's people (by filter and split), cut into chunks that are
    enqueued on the ``gpu`` queue once this transaction commits. ``config`` is the method's
    options dataclass (validated when it was made: ``fitting.config.method_config``); None is
    the method's defaults. ``regressor``: a registered checkpoint (refused if it was trained for
    another body model than the job's); else ``checkpoint`` (a path), else the configured one."""
    if dataset.status != Dataset.Status.DONE:
        raise ValidationError({"dataset": f"dataset {dataset.name} is {dataset.state}, not ready"})
    if method not in FitJob.Method.values:
        raise ValidationError({"method": f"unknown method {method!r}; choose from {FitJob.Method.values}"})
    options = config if config is not None else config_class(method)()
    if not isinstance(options, config_class(method)):
        raise ValidationError(
            {"config": f"method {method} takes {config_class(method).__name__}, not {type(options).__name__}"}
        )
    if regressor is not None:
        if checkpoint:
            raise ValidationError({"regressor": "give a registered regressor or a checkpoint path, not both"})
        regressor_check_body(regressor, body_model)
    if chunk_size is None:
        chunk_size = int(field_default(FitJob, "chunk_size"))
    if not 1 <= chunk_size <= 4096:
        raise ValidationError({"chunk_size": "must be between 1 and 4096"})
    ids = list(job_people(dataset, filter_name, split).values_list("id", flat=True))
    if not ids:
        raise ValidationError(
            {"filter": f"no person of {dataset.name} passes {filter_name} (split {split or 'any'})"}
        )
    waiting = TaskStatus.QUEUED if enqueue else TaskStatus.PENDING
    job = FitJob.objects.create(
        dataset=dataset, method=method, filter=filter_name, split=split, config=asdict(options),
        chunk_size=chunk_size, checkpoint=checkpoint, regressor=regressor, body_model=body_model,
        people_total=len(ids),
        render=render, status=waiting,
    )  # fmt: skip
    chunks = FitChunk.objects.bulk_create(
        [FitChunk(job=job, index=k, person_ids=ids[start : start + chunk_size], status=waiting)
         for k, start in enumerate(range(0, len(ids), chunk_size))]
    )  # fmt: skip
    if enqueue:
        fit_chunks_enqueue(_ids(chunks, FitChunk.objects.filter(job=job)))
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
    """Run a pending or queued chunk (claimed by compare-and-set; anything else is left alone).
    Each fitted person is a heartbeat."""
    claimed = taskstate.claim(FitChunk, chunk_id, worker, people_done=0)
    chunk = FitChunk.objects.select_related("job").get(pk=chunk_id)
    if not claimed:
        return chunk
    job = chunk.job
    if job.status == TaskStatus.CANCELLED:  # cancelled between the claim and now
        FitChunk.objects.filter(pk=chunk.pk).update(status=TaskStatus.CANCELLED, error="job cancelled")
        chunk.refresh_from_db()
        return chunk
    FitJob.objects.filter(pk=job.pk, status__in=taskstate.WAITING).update(
        status=TaskStatus.RUNNING, started_at=timezone.now()
    )
    started = time.perf_counter()
    try:
        _, failed = _run(job, chunk, _person_counter(chunk.pk))
    except Exception as exc:
        if _out_of_memory(exc) and len(chunk.person_ids) > 1:
            _split(chunk, str(exc))
            return FitChunk.objects.get(pk=chunk.pk)
        taskstate.fail(
            FitChunk, chunk.pk, f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - started
        )
        _chunk_lost(chunk)
        raise
    taskstate.finish(
        FitChunk, chunk.pk, seconds=time.perf_counter() - started,
        error="; ".join(f.error for f in failed)[:5000],
    )  # fmt: skip
    _finish_if_complete(job.pk)
    chunk.refresh_from_db()
    return chunk


def _person_counter(chunk_id: int) -> Callable[[], None]:
    """Called once per fitted person: the chunk's count (what progress shows) and heartbeat."""
    count = 0

    def person_done() -> None:
        nonlocal count
        count += 1
        taskstate.heartbeat(FitChunk, chunk_id, people_done=count)

    return person_done


def _chunk_lost(chunk: FitChunk) -> None:
    """A chunk failed for good: its people count as failed, and the job may be over."""
    FitJob.objects.filter(pk=chunk.job_id).update(people_failed=F("people_failed") + len(chunk.person_ids))
    _finish_if_complete(chunk.job_id)


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
        sanity_code=fit.verdict.code,
        turn_deg=fit.turn_deg,
        seconds=round(fit.seconds, 3),
        checkpoint_sha256=fit.checkpoint_sha256,
        body_model=fit.body_model[:500],
        prior=fit.prior[:200],
    )


def _run(job: FitJob, chunk: FitChunk, beat: Callable[[], None]) -> tuple[int, list[ImageFailure]]:
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

    checkpoint = str(regressor_local_path(job.regressor)) if job.regressor is not None else job.checkpoint
    engine = engine_for(checkpoint, job.body_model)
    FitChunk.objects.filter(pk=chunk.pk).update(device=engine.device)
    settings_ = _settings(job, engine.device, len(rows))
    run = fit_people(
        [source_person(p) for p in rows], load, engine.regressor, engine.body, settings_, engine.prior,
        keys=[p.pk for p in rows], on_person=beat,
    )  # fmt: skip
    fits = [fit_row(job=job, fit=fit) for fit in run.fits]
    with transaction.atomic():
        Fit.objects.bulk_create(fits, ignore_conflicts=True)
        FitChunk.objects.filter(pk=chunk.pk).update(people_done=0)  # now counted in the job's
        failed_people = sum(len(f.keys) for f in run.failures)
        FitJob.objects.filter(pk=job.pk).update(
            people_done=Fit.objects.filter(job=job).count(), people_failed=F("people_failed") + failed_people
        )
        if job.render:
            from webapp.fits.renders import renders_request

            fit_ids = list(
                Fit.objects.filter(job=job, person_id__in=chunk.person_ids).values_list("id", flat=True)
            )
            renders_request(job=job, fit_ids=fit_ids)
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
            [FitChunk(job_id=chunk.job_id, index=top + 1, person_ids=ids[:half], status=TaskStatus.QUEUED),
             FitChunk(job_id=chunk.job_id, index=top + 2, person_ids=ids[half:], status=TaskStatus.QUEUED)]
        )  # fmt: skip
        FitChunk.objects.filter(pk=chunk.pk).update(
            status=FitChunk.SPLIT, error=reason[:2000], finished_at=timezone.now()
        )
        fit_chunks_enqueue(_ids(parts, FitChunk.objects.filter(job_id=chunk.job_id, index__gt=top)))
    return parts


def _ids(created: list[FitChunk], fallback: QuerySet[FitChunk]) -> list[int]:
    """Primary keys of bulk-created chunks (read back where the backend does not return them)."""
    if all(c.pk for c in created):
        return [c.pk for c in created]
    return list(fallback.values_list("id", flat=True))


def fit_chunks_enqueue(chunks: list[int]) -> None:
    """Send these chunks' tasks once the current transaction commits."""
    from tasks.fits import fit_chunk_task

    transaction.on_commit(lambda: [fit_chunk_task.delay(pk) for pk in chunks])


#: How the stale-work sweeper (webapp.core.taskstate) treats fit chunks.
FIT_CHUNK_WORK = taskstate.WorkKind("fit chunks", FitChunk, fit_chunks_enqueue, _chunk_lost)


def fit_job_retry_failed(*, job: FitJob) -> int:
    """Queue the job's failed chunks again (not the cancelled ones); returns how many."""
    with transaction.atomic():
        failed = FitChunk.objects.filter(job=job, status=TaskStatus.FAILED)
        lost = sum(len(people) for people in failed.values_list("person_ids", flat=True))
        ids = taskstate.requeue(failed)
        if not ids:
            return 0
        FitJob.objects.filter(pk=job.pk).update(
            status=TaskStatus.QUEUED, finished_at=None, people_failed=F("people_failed") - lost
        )
        fit_chunks_enqueue(ids)
    return len(ids)


def _finish_if_complete(job_id: int) -> None:
    """A job with no open chunk is over: failed when no chunk got done (every one failed),
    done otherwise (its failed people counted); a cancelled job stays cancelled."""
    chunks = FitChunk.objects.filter(job_id=job_id)
    if chunks.filter(status__in=taskstate.OPEN).exists():
        return
    outcome = TaskStatus.DONE if chunks.filter(status=TaskStatus.DONE).exists() else TaskStatus.FAILED
    FitJob.objects.filter(pk=job_id, status__in=taskstate.OPEN).update(
        status=outcome, finished_at=timezone.now()
    )


def fit_job_cancel(*, job: FitJob) -> FitJob:
    """Stop a job: its waiting chunks are cancelled; running ones finish."""
    with transaction.atomic():
        FitJob.objects.filter(pk=job.pk, status__in=taskstate.OPEN).update(
            status=TaskStatus.CANCELLED, finished_at=timezone.now()
        )
        taskstate.cancel(FitChunk.objects.filter(job=job), "job cancelled")
    job.refresh_from_db()
    return job


def fit_job_delete(*, job: FitJob) -> None:
    """Delete a job, its chunks, fits and renders, and every file made for it (its renders'
    folder and the A/B pictures of its fits)."""
    folder = job_render_folder(job.dataset_id, job.pk)
    pairs = list(
        PairRender.objects.filter(Q(fit_a__job=job) | Q(fit_b__job=job)).values_list("file", flat=True)
    )
    with transaction.atomic():
        job.delete()
    delete_folder(folder)
    for name in pairs:
        default_storage.delete(name)
