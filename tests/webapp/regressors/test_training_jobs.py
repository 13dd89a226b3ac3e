"""Training jobs: fits of a fit job train a regressor that is registered; a job goes on from its
last saved step after its worker died; a waiting job is cancelled at once; bad requests are
refused before anything is queued."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from fitting.config import EftConfig
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitJob
from webapp.fits.services import fit_job_start
from webapp.regressors.models import Regressor, TrainingJob
from webapp.regressors.services import regressor_shipped
from webapp.regressors.training import (
    TrainingOptions,
    saved_steps,
    training_job_cancel,
    training_job_run,
    training_job_start,
)

pytestmark = pytest.mark.django_db

SMALL = TrainingOptions(max_steps=6, batch_size=2, val_fraction=0.3, val_every=3, checkpoint_every=2)


@pytest.fixture
def fitted(dataset: Dataset, django_capture_on_commit_callbacks: Any) -> FitJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = fit_job_start(
            dataset=dataset, filter_name="all", config=EftConfig(max_iterations=1), render=False
        )
    job.refresh_from_db()
    assert job.status == FitJob.Status.DONE
    Fit.objects.filter(job=job).update(sanity_ok=True)  # every fit counts as passing here
    return job


def test_a_training_job_registers_a_new_regressor(
    fitted: FitJob, django_capture_on_commit_callbacks: Any
) -> None:
    parent = regressor_shipped()
    with django_capture_on_commit_callbacks(execute=True):
        job = training_job_start(name="tuned on synth", parent=parent, fit_jobs=[fitted], options=SMALL)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.DONE, job.error
    assert job.step == 6
    assert job.people_train + job.people_val == Fit.objects.filter(job=fitted).count()
    assert job.people_val >= 1
    made = job.result
    assert made is not None
    assert made.name == "tuned on synth"
    assert made.source == Regressor.Source.TRAINED
    assert made.parent == parent
    assert (made.backbone, made.input_size, made.in_channels) == (parent.backbone, parent.input_size, 6)
    assert made.sha256 != parent.sha256
    assert made.training_data["training_job"]["fit_jobs"] == [fitted.pk]
    assert made.metrics["val_pa_mpjpe_pseudo_gt"] > 0
    steps = [point["step"] for point in job.history]
    assert steps == sorted(steps)
    assert steps[-1] == 6
    assert any("val_pa_mpjpe" in point for point in job.history)  # the validation curve
    assert sum("loss" in point for point in job.history) >= 3  # a loss curve even for a short run
    assert all("loss" in point for point in job.history if "val_pa_mpjpe" not in point)
    assert saved_steps(job) == []  # cleaned up
    # The new checkpoint is a regressor like any: a fit job may start from it.
    again = fit_job_start(dataset=fitted.dataset, filter_name="all", regressor=made, enqueue=False)
    assert again.regressor == made


class WorkerDied(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs (no except Exception)."""


def test_a_job_whose_worker_died_goes_on_from_its_last_saved_step(
    fitted: FitJob, monkeypatch: pytest.MonkeyPatch, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tasks.sweep import SWEPT
    from webapp.core.taskstate import sweep_stale_work

    job = training_job_start(name="resumed", parent=regressor_shipped(), fit_jobs=[fitted], options=SMALL,
                             enqueue=False)  # fmt: skip
    from webapp.regressors import training

    real_fields = training._progress_fields

    def dies_at_step_3(progress: Any) -> dict[str, Any]:
        if progress.step >= 3:  # its validation report, one step after the save at 2
            raise WorkerDied
        return real_fields(progress)

    monkeypatch.setattr(training, "_progress_fields", dies_at_step_3)
    with pytest.raises(WorkerDied):
        training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.RUNNING  # as a killed worker leaves it
    assert saved_steps(job) == [2]
    monkeypatch.setattr(training, "_progress_fields", real_fields)
    # A second message for it (a redelivery) does nothing while it is running.
    assert training_job_run(job_id=job.pk).attempts == 1
    # The sweeper finds it silent and queues it again; the next worker goes on from step 2.
    TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stale_work(SWEPT)["training jobs"]["requeued"] == 1
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.DONE, job.error
    assert job.resumed == 1
    assert job.attempts == 2
    assert job.step == 6
    steps = [point["step"] for point in job.history]
    assert steps == sorted(set(steps))  # no step drawn twice: points after the saved step are redrawn
    assert steps[-1] == 6
    assert job.result is not None


def test_cancelling(fitted: FitJob) -> None:
    waiting = training_job_start(name="never", parent=regressor_shipped(), fit_jobs=[fitted], options=SMALL,
                                 enqueue=False)  # fmt: skip
    assert training_job_cancel(waiting)
    waiting.refresh_from_db()
    assert waiting.status == TrainingJob.Status.CANCELLED
    assert training_job_run(job_id=waiting.pk).status == TrainingJob.Status.CANCELLED  # not started
    assert not Regressor.objects.filter(name="never").exists()
    # A running one is asked to stop at its next report (the worker's side: tests/integration).
    running = training_job_start(name="asked", parent=regressor_shipped(), fit_jobs=[fitted], options=SMALL,
                                 enqueue=False)  # fmt: skip
    TrainingJob.objects.filter(pk=running.pk).update(status=TrainingJob.Status.RUNNING)
    assert training_job_cancel(running)
    running.refresh_from_db()
    assert running.cancel_requested
    assert running.status == TrainingJob.Status.RUNNING


def test_bad_requests_are_refused_before_anything_is_queued(fitted: FitJob, tmp_path: Path) -> None:
    parent = regressor_shipped()
    with pytest.raises(ValidationError, match="choose fit jobs or published benchmark versions"):
        training_job_start(name="x", parent=parent)
    with pytest.raises(ValidationError, match="the name 'bootstrap \\(shipped\\)' is taken"):
        training_job_start(name=parent.name, parent=parent, fit_jobs=[fitted])
    with pytest.raises(ValidationError, match="unknown option\\(s\\) \\['steps'\\]"):
        TrainingOptions.from_dict({"steps": 3})
    with pytest.raises(ValidationError, match="max_steps must be 1 to"):
        TrainingOptions.from_dict({"max_steps": 0})
    assert TrainingOptions.from_dict({"max_steps": "50", "lr": "1e-4"}) == TrainingOptions(
        max_steps=50, lr=1e-4
    )
    Fit.objects.filter(job=fitted).update(sanity_ok=False)
    with pytest.raises(ValidationError, match="the sources hold 0 usable fit"):
        training_job_start(name="empty", parent=parent, fit_jobs=[fitted])
    Fit.objects.filter(job=fitted).update(sanity_ok=True)
    with pytest.raises(ValidationError, match="hold 0 usable"):  # none of them published
        training_job_start(name="accepted", parent=parent, fit_jobs=[fitted], selection="accepted")
    spin = Regressor.objects.create(
        name="spin", source="uploaded", file="regressors/x.pt", sha256="1" * 64, size=1, backbone="resnet50",
        input_size=224, in_channels=3, body_kind="smpl", status="done",
    )  # fmt: skip
    with pytest.raises(ValidationError, match="trained for the licensed SMPL body"):
        training_job_start(name="wrong body", parent=spin, fit_jobs=[fitted])
    assert not TrainingJob.objects.exists()


def test_the_training_pages(
    fitted: FitJob, staff_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    page = staff_client.get("/staff/training/")
    assert page.status_code == 200
    assert "No training job yet" in page.content.decode()
    form = {"name": "from the page", "parent": regressor_shipped().pk, "fit_jobs": [fitted.pk],
            "selection": "sanity", "max_steps": 4, "batch_size": 2, "lr": 5e-5}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        posted = staff_client.post("/staff/training/", form)
    assert posted.status_code == 302
    job = TrainingJob.objects.get(name="from the page")
    assert posted["Location"] == f"/staff/training/{job.pk}/"
    shown = staff_client.get(posted["Location"]).content.decode()
    assert "done" in shown
    assert 'id="result"' in shown  # the link to the new regressor
    assert 'http-equiv="refresh"' not in shown  # finished: no reloading
    curves = staff_client.get(f"/staff/training/{job.pk}/curves.png")
    assert curves["Content-Type"] == "image/png"
    assert curves.content[:8] == b"\x89PNG\r\n\x1a\n"
    refused = staff_client.post("/staff/training/", {**form, "name": "no sources", "fit_jobs": []})
    assert "choose fit jobs or published benchmark versions" in refused.content.decode()
    cancelled = staff_client.post(f"/staff/training/{job.pk}/cancel/", follow=True)
    assert "nothing to cancel" in cancelled.content.decode()
    listed = staff_client.get("/staff/training/").content.decode()
    assert "from the page" in listed
    assert "100%" in listed
