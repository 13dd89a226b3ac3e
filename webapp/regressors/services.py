"""Writes of the regressor registry: register the shipped regressor, an uploaded checkpoint, a
trained one; check an upload on a worker; the checks a fit job makes before it uses one.

An upload is stored under ``regressors/<sha256>.pt`` and queued; a worker (``tasks.regressors``,
on the ``gpu`` queue, where torch is) claims it and loads it as the fitting code will
(``fitting.regressor.facts.checkpoint_facts``: a strict load, input channels agreeing with the
metadata). An unreadable file, a dict without ``model``, weights that do not make an HMR are
failed with the reason in the uploader's terms and the stored file is deleted. The same weights
are never registered twice. The web process never imports torch: the shipped regressor is
registered from the facts shipped beside it.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from fitting.assets import file_sha256
from webapp.core import taskstate
from webapp.core.taskstate import OPEN, TaskStatus
from webapp.regressors.models import Regressor, TrainingJob

SHIPPED_NAME = "bootstrap (shipped)"


def storage_name(sha256: str) -> str:
    return f"regressors/{sha256}.pt"


def _refuse_taken(name: str, sha256: str, label: str, training_job: int | None = None) -> None:
    """Refuse a name or weights already registered (a failed row gives them up: it is replaced)."""
    if not name:
        raise ValidationError({"name": "give the regressor a name"})
    for row in Regressor.objects.filter(name=name).exclude(status=TaskStatus.FAILED):
        raise ValidationError({"name": f"a regressor named {name!r} is already registered ({row.status})"})
    running = TrainingJob.objects.filter(name=name, status__in=OPEN)
    if training_job is not None:
        running = running.exclude(pk=training_job)
    if running.exists():
        raise ValidationError({"name": f"a running training job will register a regressor named {name!r}"})
    same = Regressor.objects.filter(sha256=sha256).first()
    if same is not None and same.status != TaskStatus.FAILED:
        raise ValidationError({"file": f"{label}: these weights are already registered as {same.name!r}"})
    Regressor.objects.filter(status=TaskStatus.FAILED).filter(name=name).delete()
    Regressor.objects.filter(status=TaskStatus.FAILED).filter(sha256=sha256).delete()


def _store(path: Path, sha256: str) -> str:
    stored = storage_name(sha256)
    if default_storage.exists(stored) and default_storage.size(stored) != path.stat().st_size:
        default_storage.delete(stored)  # cut short by a process that died while storing it
    if not default_storage.exists(stored):
        with path.open("rb") as handle:
            saved = default_storage.save(stored, File(handle))
        if saved != stored:  # a concurrent upload of the same bytes won the name
            default_storage.delete(saved)
    return stored


def _fact_fields(facts: Any) -> dict[str, Any]:
    return {
        "backbone": facts.backbone, "input_size": facts.input_size, "in_channels": facts.in_channels,
        "body_kind": facts.body_kind, "body_sha256": facts.body_sha256,
        "body_description": facts.body_description,
    }  # fmt: skip


def regressor_upload(
    *,
    name: str,
    chunks: Iterable[bytes],
    filename: str,
    parent: Regressor | None = None,
    notes: str = "",
    created_by: AbstractBaseUser | None = None,
    enqueue: bool = True,
) -> Regressor:
    """Store an uploaded checkpoint (its bytes in ``chunks``) and queue its check on a worker."""
    name = name.strip()
    with tempfile.TemporaryDirectory(prefix="regressor-upload-") as folder:
        path = Path(folder) / "upload.pt"
        with path.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        size = path.stat().st_size
        if size == 0:
            raise ValidationError({"file": f"{filename}: the file is empty"})
        sha = file_sha256(path)
        with transaction.atomic():
            _refuse_taken(name, sha, filename)
            stored = _store(path, sha)
            try:
                with transaction.atomic():
                    row = Regressor.objects.create(
                        name=name, source=Regressor.Source.UPLOADED, file=stored, sha256=sha, size=size,
                        original_name=filename[:255], parent=parent, notes=notes,
                        created_by=created_by if created_by is not None and created_by.pk else None,  # type: ignore[misc]
                        status=TaskStatus.QUEUED if enqueue else TaskStatus.PENDING,
                    )  # fmt: skip
            except IntegrityError as exc:  # the same name or bytes registered at the same moment
                raise ValidationError({"file": f"{filename}: registered by someone else just now"}) from exc
            if enqueue:
                regressor_checks_enqueue([row.pk])
    return row


def regressor_checks_enqueue(ids: list[int]) -> None:
    """Send the check tasks of these uploads once the current transaction commits."""
    from tasks.regressors import regressor_check_task

    transaction.on_commit(lambda: [regressor_check_task.delay(pk) for pk in ids])


def regressor_check(*, regressor_id: int, worker: str = "") -> Regressor:
    """Check a queued upload (claimed by compare-and-set: a second run does nothing): the strict
    load, then its facts; a file that fails is deleted and the row failed with the reason."""
    from fitting.regressor.facts import checkpoint_facts

    claimed = taskstate.claim(Regressor, regressor_id, worker)
    row = Regressor.objects.get(pk=regressor_id)
    if not claimed:
        return row
    path = Path(row.file.name)
    try:
        path = regressor_local_path(row, verify=False)
        facts = checkpoint_facts(path)
        if facts.sha256 != row.sha256:
            raise ValueError(f"the stored file's sha256 is {facts.sha256[:12]}, not {row.sha256[:12]}")
    except (ValueError, FileNotFoundError) as exc:
        # The stored path means nothing to whoever uploaded the file: name theirs.
        reason = str(exc).replace(str(path), row.original_name or row.name)
        if not Regressor.objects.filter(sha256=row.sha256).exclude(pk=row.pk).exists():
            default_storage.delete(row.file.name)
        taskstate.fail(Regressor, row.pk, reason)
    else:
        taskstate.finish(
            Regressor, row.pk, **_fact_fields(facts),
            training_data={**facts.training, **row.training_data}, metrics={**facts.metrics, **row.metrics},
        )  # fmt: skip
    row.refresh_from_db()
    return row


def regressor_lost(row: Regressor) -> None:
    """The sweeper failed a check lost too often: its file goes too."""
    default_storage.delete(row.file.name)


REGRESSOR_CHECK_WORK = taskstate.WorkKind(
    "regressor checks", Regressor, regressor_checks_enqueue, regressor_lost, resend_waiting=True
)


def regressor_register_path(
    path: Path,
    *,
    name: str,
    source: str = Regressor.Source.TRAINED,
    parent: Regressor | None = None,
    notes: str = "",
    created_by: AbstractBaseUser | None = None,
    training_data: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    training_job: int | None = None,
) -> Regressor:
    """Register a checkpoint file on this machine, checked here and now (in a worker or a
    command, where torch is): a training job's result (``training_job``: the job whose name it
    takes)."""
    from fitting.regressor.facts import checkpoint_facts

    path = Path(path)
    try:
        facts = checkpoint_facts(path)
    except (ValueError, FileNotFoundError) as exc:
        raise ValidationError({"file": str(exc)}) from exc
    return _register_checked(
        path, facts, name=name.strip(), source=source, parent=parent, notes=notes, created_by=created_by,
        training_data=training_data, metrics=metrics, training_job=training_job,
    )  # fmt: skip


def _register_checked(
    path: Path,
    facts: Any,
    *,
    name: str,
    source: str,
    parent: Regressor | None = None,
    notes: str = "",
    created_by: AbstractBaseUser | None = None,
    training_data: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    training_job: int | None = None,
) -> Regressor:
    from django.utils import timezone

    with transaction.atomic():
        _refuse_taken(name, facts.sha256, path.name, training_job)
        stored = _store(path, facts.sha256)
        try:
            with transaction.atomic():
                return Regressor.objects.create(
                    name=name, source=source, file=stored, sha256=facts.sha256, size=facts.size,
                    original_name=path.name, parent=parent, notes=notes,
                    created_by=created_by if created_by is not None and created_by.pk else None,  # type: ignore[misc]
                    training_data={**facts.training, **(training_data or {})},
                    metrics={**facts.metrics, **(metrics or {})}, status=TaskStatus.DONE,
                    finished_at=timezone.now(), **_fact_fields(facts),
                )  # fmt: skip
        except IntegrityError as exc:
            raise ValidationError({"file": f"{path.name}: registered by someone else just now"}) from exc


def regressor_shipped() -> Regressor:
    """The shipped bootstrap regressor's row, registered on first use from the facts shipped
    beside it (no torch in the web process)."""
    from fitting.assets import BOOTSTRAP_FACTS_PATH, BOOTSTRAP_REGRESSOR_PATH
    from fitting.regressor.facts import read_facts

    facts = read_facts(BOOTSTRAP_FACTS_PATH, BOOTSTRAP_REGRESSOR_PATH)
    found = Regressor.objects.filter(sha256=facts.sha256, status=TaskStatus.DONE).first()
    if found is not None:
        return found
    name = SHIPPED_NAME
    if Regressor.objects.filter(name=name).exclude(sha256=facts.sha256).exists():
        name = f"{SHIPPED_NAME} {facts.sha256[:12]}"  # an older shipped file holds the name
    try:
        return _register_checked(
            BOOTSTRAP_REGRESSOR_PATH, facts, name=name, source=Regressor.Source.SHIPPED,
            notes="the licence-free regressor the product ships (docs/BOOTSTRAP.md)",
        )  # fmt: skip
    except ValidationError:
        found = Regressor.objects.filter(sha256=facts.sha256, status=TaskStatus.DONE).first()
        if found is None:  # registered concurrently, or the weights are queued as an upload
            raise
        return found


def regressor_local_path(regressor: Regressor, *, verify: bool = True) -> Path:
    """A path on this machine to the regressor's file: the stored file itself on local storage;
    on S3 a copy in DATA_DIR/cache/regressors, fetched once and checked against its sha256."""
    try:
        return Path(default_storage.path(regressor.file.name))
    except NotImplementedError:
        pass
    cached = Path(settings.DATA_DIR) / "cache" / "regressors" / f"{regressor.sha256}.pt"
    if cached.is_file() and (not verify or file_sha256(cached) == regressor.sha256):
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{uuid.uuid4().hex}.part")  # processes fetch it at once
    with default_storage.open(regressor.file.name, "rb") as source, partial.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    if file_sha256(partial) != regressor.sha256:
        partial.unlink()
        raise ValueError(f"regressor {regressor.name}: the stored file does not match its sha256")
    partial.replace(cached)
    return cached


@lru_cache(maxsize=8)
def _body_sha256(path: str) -> str:
    from fitting.assets import OPEN_BODY_PATH

    return file_sha256(Path(path) if path else OPEN_BODY_PATH)


def body_of_job(body_model: str) -> tuple[str, str]:
    """(kind, sha256) of the body a fit job uses: its own path, else the configured one, else
    the open body."""
    from webapp.fits.engine import OPEN_BODY

    path = "" if body_model == OPEN_BODY else (body_model or str(settings.EFT_BODY_MODEL_PATH or ""))
    try:
        return ("smpl" if path else "open"), _body_sha256(path)
    except OSError as exc:
        raise ValidationError(
            {"body_model": f"the body model file {Path(path).name} cannot be read here: {exc.strerror}"}
        ) from exc


def regressor_check_body(regressor: Regressor, body_model: str = "") -> None:
    """Refuse (ValidationError on ``regressor``) a checkpoint not checked yet, or trained for
    another body model than the job's."""
    from fitting.regressor.facts import body_mismatch

    if regressor.status != TaskStatus.DONE:
        raise ValidationError(
            {"regressor": f"regressor {regressor.name!r} is {regressor.status}, not checked and ready"}
        )
    kind, sha = body_of_job(body_model)
    why = body_mismatch(regressor.body_kind, regressor.body_sha256, kind, sha)
    if why:
        raise ValidationError({"regressor": f"regressor {regressor.name!r} cannot be used here: {why}"})
