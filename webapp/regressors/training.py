"""Training jobs: fine-tune a registered regressor on fits, as the paper does with EFT pseudo
ground truth, and register what comes out.

``training_job_start`` checks the request (sources, their body model against the parent's, a free
name) and queues the job on the ``gpu`` queue. ``training_job_run`` (the task) claims it by
compare-and-set, reads the chosen fits as training people (the fit's SMPL parameters, its 3D
joints from the body model, the person's labelled keypoints and crop), holds out a share of the
images for validation, and trains from the parent's weights with the paper's crop augmentation.
Every ``checkpoint_every`` steps the checkpoint is copied into media storage (a new file per
step, the one before kept until it is whole): a worker that died
is noticed by the sweeper (no heartbeat), the job is queued again and the next worker goes on
from that step. ``training_job_cancel`` stops it at its next progress report. The best checkpoint
(by validation PA-MPJPE against the held-out fits) becomes a new ``Regressor``.
"""

from __future__ import annotations

import math
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from webapp.core import taskstate
from webapp.core.media import delete_folder
from webapp.core.taskstate import OPEN, WAITING, TaskStatus
from webapp.regressors.models import Regressor, TrainingJob
from webapp.regressors.services import regressor_check_body, regressor_local_path


@dataclass(frozen=True)
class TrainingOptions:
    max_steps: int = 2000
    batch_size: int = 32
    lr: float = 5e-5  # SPIN's and EFT's fine-tuning rate
    lr_schedule: str = "constant"
    val_fraction: float = 0.1  # of the images, held out to pick the best checkpoint
    val_every: int = 200
    checkpoint_every: int = 100
    crop_augment: float = 0.3  # the paper's: share of crops cut to a random truncation level
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> TrainingOptions:
        """Options from a form's or a request's values; ValidationError naming a bad one."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValidationError({"config": f"unknown option(s) {unknown}; known: {sorted(known)}"})
        try:
            options = cls(**{k: type(getattr(cls(), k))(v) for k, v in values.items()})
        except (TypeError, ValueError) as exc:
            raise ValidationError({"config": f"bad option value: {exc}"}) from exc
        checks = [
            (1 <= options.max_steps <= 10_000_000, "max_steps must be 1 to 10,000,000"),
            (1 <= options.batch_size <= 1024, "batch_size must be 1 to 1024"),
            (0 < options.lr < 1, "lr must be between 0 and 1"),
            (options.lr_schedule in ("constant", "cosine"), "lr_schedule must be constant or cosine"),
            (0 < options.val_fraction < 1, "val_fraction must be between 0 and 1"),
            (options.val_every >= 1 and options.checkpoint_every >= 1, "val_every and checkpoint_every >= 1"),
            (0 <= options.crop_augment <= 1, "crop_augment must be between 0 and 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValidationError({"config": message})
        return options


def work_folder(job: TrainingJob) -> Path:
    return Path(settings.DATA_DIR) / "training" / f"job-{job.pk}-{job.key}"


def storage_folder(job: TrainingJob) -> str:
    """Where its saved step lives in media storage (a worker on another host resumes from it)."""
    return f"training/job-{job.pk}-{job.key}"


def _fits(job: TrainingJob) -> QuerySet[Any]:
    """The fits a job trains on: its fit jobs' (by its selection) and its versions' accepted ones."""
    from django.db.models import Q

    from webapp.fits.models import Fit

    accepted: set[int] = set()
    for version in job.versions.all():
        accepted.update(int(pk) for pk in version.fit_ids)
    wanted = Q(pk__in=sorted(accepted)) if accepted else Q(pk__in=[])
    jobs = list(job.fit_jobs.values_list("pk", flat=True))
    if jobs:
        if job.selection == TrainingJob.Selection.SANITY:
            wanted |= Q(job_id__in=jobs, sanity_ok=True)
        else:
            published = {int(pk) for v in _done_versions() for pk in v.fit_ids}
            wanted |= Q(job_id__in=jobs, pk__in=sorted(published))
    return Fit.objects.filter(wanted).select_related("person", "person__image", "job").order_by("pk")


def _done_versions() -> QuerySet[Any]:
    from webapp.benchmarks.models import BenchmarkVersion

    return BenchmarkVersion.objects.filter(status=TaskStatus.DONE)


@transaction.atomic
def training_job_start(
    *,
    name: str,
    parent: Regressor,
    fit_jobs: list[Any] | None = None,
    versions: list[Any] | None = None,
    selection: str = TrainingJob.Selection.SANITY,
    options: TrainingOptions | None = None,
    created_by: AbstractBaseUser | None = None,
    enqueue: bool = True,
) -> TrainingJob:
    """Queue a training job; every check that can be made before training is made here."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "give the new regressor a name"})
    if (
        Regressor.objects.filter(name=name).exists()
        or TrainingJob.objects.filter(name=name, status__in=[*OPEN, TaskStatus.DONE]).exists()
    ):
        raise ValidationError({"name": f"the name {name!r} is taken by a regressor or a training job"})
    if parent.status != TaskStatus.DONE:
        raise ValidationError(
            {"parent": f"regressor {parent.name!r} is {parent.status}, not checked and ready"}
        )
    for fit_job in fit_jobs or []:
        fit_job.refresh_from_db(fields=["status"])
        if fit_job.status != TaskStatus.DONE:
            raise ValidationError({"fit_jobs": f"fit job {fit_job.pk} is {fit_job.status}, not done"})
    if selection not in TrainingJob.Selection.values:
        raise ValidationError({"selection": f"choose from {TrainingJob.Selection.values}"})
    fit_jobs, versions = list(fit_jobs or []), list(versions or [])
    if not fit_jobs and not versions:
        raise ValidationError({"fit_jobs": "choose fit jobs or published benchmark versions to train on"})
    for version in versions:
        if version.status != TaskStatus.DONE:
            raise ValidationError({"versions": f"{version} is not published"})
        if version.people and not version.fit_ids:
            raise ValidationError(
                {"versions": f"{version} was published before its fits were recorded: publish it again"}
            )
    for fit_job in fit_jobs:
        try:
            regressor_check_body(parent, fit_job.body_model)
        except ValidationError as exc:
            raise ValidationError({"fit_jobs": f"job {fit_job.pk}: {'; '.join(exc.messages)}"}) from exc
    options = options or TrainingOptions()
    job = TrainingJob.objects.create(
        name=name, parent=parent, selection=selection, config=asdict(options), max_steps=options.max_steps,
        status=TaskStatus.QUEUED if enqueue else TaskStatus.PENDING,
        created_by=created_by if created_by is not None and created_by.pk else None,  # type: ignore[misc]
    )  # fmt: skip
    job.fit_jobs.set(fit_jobs)
    job.versions.set(versions)
    count = _fits(job).count()
    if count < 2:
        raise ValidationError(
            {"fit_jobs": f"the sources hold {count} usable fit(s): too few to train and validate"}
        )
    if enqueue:
        training_jobs_enqueue([job.pk])
    return job


def training_jobs_enqueue(ids: list[int]) -> None:
    from tasks.regressors import training_job_task

    transaction.on_commit(lambda: [training_job_task.delay(pk) for pk in ids])


def training_job_cancel(job: TrainingJob) -> bool:
    """A waiting job is cancelled now (with what an earlier, lost attempt saved); a running one
    at its next progress report."""
    if taskstate.cancel(TrainingJob.objects.filter(pk=job.pk)):
        _clean(job)
        return True
    return bool(
        TrainingJob.objects.filter(pk=job.pk, status=TaskStatus.RUNNING).update(cancel_requested=True)
    )


def training_job_lost(job: TrainingJob) -> None:
    """The sweeper failed a job lost too often: its saved steps go too."""
    delete_folder(storage_folder(job))
    shutil.rmtree(work_folder(job), ignore_errors=True)


TRAINING_WORK = taskstate.WorkKind("training jobs", TrainingJob, training_jobs_enqueue, training_job_lost)


class LostJobError(RuntimeError):
    """This worker no longer holds the job (the sweeper gave it to another one)."""


def _image_path(image: Any, cache: Path) -> Path:
    try:
        return Path(str(default_storage.path(image.file.name)))
    except NotImplementedError:
        local = cache / str(image.file.name)
        if not local.is_file():
            local.parent.mkdir(parents=True, exist_ok=True)
            partial = local.with_name(f"{local.name}.{uuid.uuid4().hex}.part")
            with image.file.open("rb") as source, partial.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            partial.replace(local)  # whole, or not there
        return local


def training_people(
    job: TrainingJob, body: Any, cache: Path, beat: Callable[..., bool] = lambda **_: True
) -> list[Any]:
    """The job's fits as training people, with their 3D joints from the body model (``beat``:
    the worker's sign of life, every 200 people)."""
    from fitting.train.data import person_from_eft_entry, with_body_joints
    from webapp.fits.selectors import fit_eft_entry

    people = []
    for n, fit in enumerate(_fits(job).iterator(chunk_size=500)):
        people.append(
            person_from_eft_entry(
                fit_eft_entry(fit), _image_path(fit.person.image, cache), fit.person.image_id
            )
        )
        if n % 200 == 199:
            beat()
    return with_body_joints(people, body)


def _progress_fields(progress: Any) -> dict[str, Any]:
    def number(value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else round(float(value), 6)

    fields_: dict[str, Any] = {"step": progress.step, "eta_seconds": number(progress.eta_s)}
    if math.isfinite(progress.loss):
        fields_["loss"] = number(progress.loss)
    if progress.metrics is not None:
        fields_["val_pa_mpjpe"] = number(progress.metrics.get("pa_mpjpe"))
    return fields_


def _mine(job: TrainingJob) -> QuerySet[TrainingJob]:
    """The job's row while this attempt holds it: running, and not claimed again since (a worker
    the sweeper took for dead may still be alive; it must not write over its successor)."""
    return TrainingJob.objects.filter(pk=job.pk, status=TaskStatus.RUNNING, attempts=job.attempts)


def _clean(job: TrainingJob) -> None:
    delete_folder(storage_folder(job))
    shutil.rmtree(work_folder(job), ignore_errors=True)


def training_job_run(*, job_id: int, worker: str = "") -> TrainingJob:
    """Run a pending or queued training job, from its last saved step if it has one."""
    if not taskstate.claim(TrainingJob, job_id, worker):
        return TrainingJob.objects.get(pk=job_id)
    job = TrainingJob.objects.select_related("parent").get(pk=job_id)
    if job.cancel_requested:  # asked while its last worker was dying
        outcome = "stopped"
    else:
        try:
            outcome = _train(job)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".replace(str(work_folder(job)), "the job's folder")
            if _mine(job).update(status=TaskStatus.FAILED, error=reason[:10_000], finished_at=timezone.now()):
                _clean(job)  # its saved steps are no use to anyone now
            raise
    # Stopped by staff, or this worker lost the job (the sweeper gave it to another one after it
    # went silent): only the first is cancelled here, the other worker goes on.
    if outcome == "stopped" and _mine(job).filter(cancel_requested=True).update(
        status=TaskStatus.CANCELLED, error="cancelled by staff", finished_at=timezone.now(), eta_seconds=None
    ):
        _clean(job)
    return TrainingJob.objects.get(pk=job.pk)


def _train(job: TrainingJob) -> str:
    from fitting.train.data import Augment, split
    from fitting.train.trainer import TrainConfig, TrainProgress, train
    from webapp.fits.engine import body_for

    options = TrainingOptions.from_dict(job.config)
    work = work_folder(job)
    run = work / f"attempt-{job.attempts}"  # a worker taken for dead may still write in its own
    run.mkdir(parents=True, exist_ok=True)

    def beat(**changes: Any) -> bool:
        return bool(_mine(job).update(heartbeat_at=timezone.now(), **changes))

    resume = _fetch_saved_step(job, run / "resume.pt")  # a worker got this far before it died
    if resume is not None:
        beat(resumed=job.resumed + 1)
    parent = job.parent
    body_model = next((j.body_model for j in job.fit_jobs.all()), "")
    body, device = body_for(body_model)
    people = training_people(job, body, work / "images", beat)
    train_people, val_people = split(people, options.val_fraction, options.seed)
    if not train_people or not val_people:
        raise ValueError(f"{len(people)} people in {len({p.group for p in people})} images: too few to split")
    beat(people_train=len(train_people), people_val=len(val_people))
    config = TrainConfig(
        out=str(run), backbone=parent.backbone, input_size=parent.input_size,  # type: ignore[arg-type]
        aux_keypoints=parent.in_channels > 3, epochs=1_000_000, batch_size=options.batch_size, lr=options.lr,
        lr_schedule=options.lr_schedule, max_steps=options.max_steps,  # type: ignore[arg-type]
        val_every=options.val_every, checkpoint_every=options.checkpoint_every,
        progress_every=max(1, min(20, options.checkpoint_every, options.max_steps // 10)), workers=0,
        seed=options.seed,
        device=settings.EFT_TORCH_DEVICE, augment=Augment(crop_levels_prob=options.crop_augment),
    )  # fmt: skip
    history: list[dict[str, Any]] = []
    if resume is not None:  # the points after the saved step are drawn again
        step_saved = _saved_step(resume)
        history = [point for point in job.history if point["step"] <= step_saved]

    def on_progress(progress: TrainProgress) -> bool:
        point: dict[str, Any] = {"step": progress.step}
        if math.isfinite(progress.loss):
            point.update(loss=round(progress.loss, 6), lr=progress.lr,
                          **{k: round(v, 6) for k, v in progress.parts.items()})  # fmt: skip
        if progress.metrics is not None:
            point.update({f"val_{k}": round(v, 4) for k, v in progress.metrics.items() if math.isfinite(v)})
        if history and history[-1]["step"] == progress.step:  # the final validation of the last step
            history[-1].update(point)
        else:
            history.append(point)
        alive = beat(history=history[-2000:], **_progress_fields(progress))
        wanted = TrainingJob.objects.filter(pk=job.pk).values_list("cancel_requested", flat=True).first()
        return alive and not wanted

    def on_checkpoint(path: Path, step: int) -> None:
        # A new file per saved step; the one before stays until this one is whole, so a worker
        # killed while copying leaves the earlier step to resume from.
        if not _mine(job).exists():  # the job was given to another worker, or is over
            return
        name = step_name(job, step)
        if default_storage.exists(name):
            if default_storage.size(name) == path.stat().st_size:  # saved already (an epoch's end)
                return
            default_storage.delete(name)  # cut short by a worker that died while copying it
        with path.open("rb") as handle:
            default_storage.save(name, File(handle))
        for old in saved_steps(job)[2:]:
            default_storage.delete(step_name(job, old))

    result = train(
        config, train_people, val_people, init=regressor_local_path(parent) if resume is None else None,
        body=body, resume=resume, log=lambda _m: None, progress=False, on_progress=on_progress,
        on_checkpoint=on_checkpoint,
    )  # fmt: skip
    if result["stopped"] == "cancelled":
        return "stopped"
    _register(job, run / "best.pt", result, len(train_people), len(val_people), device)
    return "done"


def _saved_step(path: Path) -> int:
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True)["total_step_count"])


def step_name(job: TrainingJob, step: int) -> str:
    return f"{storage_folder(job)}/step-{step:09d}.pt"


def saved_steps(job: TrainingJob) -> list[int]:
    """The steps saved in media storage, the latest first."""
    try:
        names = default_storage.listdir(storage_folder(job))[1]
    except (FileNotFoundError, NotADirectoryError):
        return []
    steps = [int(n[5:-3]) for n in names if n.startswith("step-") and n.endswith(".pt") and n[5:-3].isdigit()]
    return sorted(steps, reverse=True)


def _fetch_saved_step(job: TrainingJob, local: Path) -> Path | None:
    """The latest saved step that loads whole, copied to ``local`` (None: start from the parent)."""
    for step in saved_steps(job):
        with default_storage.open(step_name(job, step), "rb") as source, local.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        try:
            if _saved_step(local) == step:
                return local
        except Exception:  # cut short when its worker died: the one before it
            continue
    return None


def _register(
    job: TrainingJob, best: Path, result: dict[str, Any], n_train: int, n_val: int, device: str
) -> None:
    from webapp.regressors.services import regressor_register_path

    sources = {
        "training_job": job.pk,
        "fit_jobs": sorted(job.fit_jobs.values_list("pk", flat=True)),
        "benchmark_versions": [str(v) for v in job.versions.all()],
        "selection": job.selection,
        "people_train": n_train,
        "people_val": n_val,
        "steps": result["steps"],
        "device": device,
        "options": job.config,
    }
    metrics = {"val_pa_mpjpe_pseudo_gt": result["best_pa_mpjpe"], "final": result["metrics"]}
    with transaction.atomic():
        made = regressor_register_path(
            best, name=job.name, source=Regressor.Source.TRAINED, parent=job.parent,
            notes=f"made by training job {job.pk}", created_by=job.created_by,
            training_data={"training_job": sources}, metrics=metrics, training_job=job.pk,
        )  # fmt: skip
        finished = _mine(job).update(
            status=TaskStatus.DONE, finished_at=timezone.now(), result=made,
            best_pa_mpjpe=result["best_pa_mpjpe"], eta_seconds=0, step=result["steps"],
        )  # fmt: skip
        if not finished:  # given to another worker meanwhile: it registers its own
            raise LostJobError(f"training job {job.pk} was given to another worker before it finished here")
    _clean(job)


def training_jobs_waiting() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(status__in=WAITING)
