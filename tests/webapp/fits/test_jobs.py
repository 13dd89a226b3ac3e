"""Fit jobs: chunks claimed once, one Fit per person even when a chunk runs twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from fitting.config import EftConfig, SmplifyConfig
from webapp.datasets.models import Dataset
from webapp.fits.engine import loads_so_far
from webapp.fits.models import Fit, FitChunk, FitJob
from webapp.fits.services import fit_chunk_run, fit_job_cancel, fit_job_config, fit_job_start

pytestmark = pytest.mark.django_db


def test_job_fits_every_person_once(dataset: Dataset, django_capture_on_commit_callbacks: Any) -> None:
    before = loads_so_far()
    with django_capture_on_commit_callbacks(execute=True):
        job = fit_job_start(
            dataset=dataset, filter_name="all", config=EftConfig(max_iterations=2), chunk_size=2, render=False
        )
    job.refresh_from_db()
    assert job.status == FitJob.Status.DONE
    assert job.people_done == job.people_total == dataset.filter_counts["all"]
    assert FitChunk.objects.filter(job=job).count() == -(-job.people_total // 2)
    assert set(FitChunk.objects.filter(job=job).values_list("status", flat=True)) == {"done"}
    fits = list(Fit.objects.filter(job=job))
    assert len(fits) == job.people_total
    assert np.asarray(fits[0].pose_rotmat).shape == (24, 3, 3)
    assert all(f.iterations <= 2 for f in fits)
    assert job.method_config() == EftConfig(max_iterations=2)
    assert {f.sanity_rule for f in fits} == {"paper"}
    assert all(len(f.checkpoint_sha256) == 64 for f in fits)
    assert len(fits[0].joint_error_px) == 24
    assert loads_so_far() - before <= 1  # the engine is loaded once per process, not per chunk

    # A redelivered chunk (reset to pending, as after a lost worker) writes nothing twice.
    chunk = FitChunk.objects.filter(job=job).first()
    assert chunk is not None
    FitChunk.objects.filter(pk=chunk.pk).update(status=FitChunk.Status.PENDING)
    again = fit_chunk_run(chunk_id=chunk.pk)
    assert again.status == FitChunk.Status.DONE
    assert again.attempts == 2
    assert Fit.objects.filter(job=job).count() == job.people_total
    # A chunk that is not pending is left alone.
    assert fit_chunk_run(chunk_id=chunk.pk).attempts == 2


def test_regressor_and_smplify_jobs(dataset: Dataset, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        regressor = fit_job_start(
            dataset=dataset, method="regressor", filter_name="all", chunk_size=8, render=False
        )
        smplify = fit_job_start(
            dataset=dataset, method="smplify", filter_name="all", config=SmplifyConfig(iterations=2)
        )
    assert set(Fit.objects.filter(job=regressor).values_list("iterations", flat=True)) == {0}
    smplify_fits = Fit.objects.filter(job=smplify)
    assert smplify_fits.count() == smplify.people_total
    assert all(f.iterations == 4 for f in smplify_fits)
    assert all(f.prior.startswith("pose_prior_gmm8.npz") for f in smplify_fits)


def test_bad_job_requests(dataset: Dataset) -> None:
    with pytest.raises(ValidationError, match=r"unknown option\(s\) \['max_iters'\]"):
        fit_job_config(method="eft", options={"max_iters": 3})
    with pytest.raises(ValidationError, match="max_iterations must be zero or more, got -1"):
        fit_job_config(method="eft", options={"max_iterations": -1})
    with pytest.raises(ValidationError, match="method smplify takes SmplifyConfig, not EftConfig"):
        fit_job_start(dataset=dataset, method="smplify", config=EftConfig(), enqueue=False)
    with pytest.raises(ValidationError, match="no person of synth passes"):
        fit_job_start(dataset=dataset, split="test", enqueue=False)
    with pytest.raises(ValidationError, match="unknown method"):
        fit_job_start(dataset=dataset, method="magic", enqueue=False)
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.RUNNING)
    dataset.refresh_from_db()
    with pytest.raises(ValidationError, match="is importing, not ready"):
        fit_job_start(dataset=dataset, enqueue=False)


def test_cancel_stops_pending_chunks(dataset: Dataset) -> None:
    job = fit_job_start(dataset=dataset, filter_name="all", chunk_size=1, enqueue=False)
    fit_job_cancel(job=job)
    assert job.status == FitJob.Status.CANCELLED
    chunk = FitChunk.objects.filter(job=job).first()
    assert chunk is not None
    assert fit_chunk_run(chunk_id=chunk.pk).error == "job cancelled"
    assert Fit.objects.filter(job=job).count() == 0


def test_sweeper_requeues_lost_chunks_and_fails_hopeless_ones(
    dataset: Dataset, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tasks.sweep import SWEPT
    from webapp.core.taskstate import sweep_stale_work

    settings.TASK_STALE_SECONDS = 60
    settings.TASK_MAX_ATTEMPTS = 2
    job = fit_job_start(
        dataset=dataset, filter_name="all", chunk_size=2, config=EftConfig(max_iterations=1), enqueue=False
    )
    lost, hopeless, fresh = list(FitChunk.objects.filter(job=job))[:3]
    old = timezone.now() - timedelta(minutes=5)
    FitChunk.objects.filter(pk=lost.pk).update(status="running", heartbeat_at=old, attempts=1)
    FitChunk.objects.filter(pk=hopeless.pk).update(status="running", heartbeat_at=old, attempts=2)
    FitChunk.objects.filter(pk=fresh.pk).update(status="running", heartbeat_at=timezone.now(), attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_stale_work(SWEPT)
    assert counts == {
        "dataset imports": {"requeued": 0, "failed": 0, "resent": 0},
        "fit chunks": {"requeued": 1, "failed": 1, "resent": 0},
        "renders": {"requeued": 0, "failed": 0, "resent": 0},
        "benchmark versions": {"requeued": 0, "failed": 0, "resent": 0},
        "regressor checks": {"requeued": 0, "failed": 0, "resent": 0},
        "training jobs": {"requeued": 0, "failed": 0, "resent": 0},
    }
    lost.refresh_from_db()
    hopeless.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == FitChunk.Status.DONE  # queued again and run (eager)
    assert hopeless.status == FitChunk.Status.FAILED
    assert hopeless.error == "lost 2 times (its worker died or hung: no heartbeat)"
    job.refresh_from_db()
    assert job.people_failed == len(hopeless.person_ids)
    assert fresh.status == FitChunk.Status.RUNNING


def test_out_of_memory_splits_the_chunk(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """No GPU here: the CUDA error torch raises is raised for chunks of more than one person."""
    import torch

    import webapp.fits.services as services

    real_run = services._run

    def tight_memory(job: FitJob, chunk: FitChunk, beat: Any) -> Any:
        if len(chunk.person_ids) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_run(job, chunk, beat)

    monkeypatch.setattr(services, "_run", tight_memory)
    with django_capture_on_commit_callbacks(execute=True):
        job = fit_job_start(
            dataset=dataset, filter_name="all", chunk_size=4, config=EftConfig(max_iterations=1), render=False
        )
    job.refresh_from_db()
    assert job.status == FitJob.Status.DONE
    assert Fit.objects.filter(job=job).count() == job.people_total
    statuses = list(FitChunk.objects.filter(job=job).values_list("status", flat=True))
    assert "split" in statuses
    assert set(statuses) <= {"split", "done"}
    assert all(len(c.person_ids) == 1 for c in FitChunk.objects.filter(job=job, status="done"))


def test_retry_failed_chunks(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    import webapp.fits.services as services

    real_run = services._run

    def full_disk(job: FitJob, chunk: FitChunk, beat: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_run", full_disk)
    with pytest.raises(RuntimeError, match="disk full"), django_capture_on_commit_callbacks(execute=True):
        fit_job_start(
            dataset=dataset,
            filter_name="all",
            chunk_size=100,
            config=EftConfig(max_iterations=1),
            render=False,
        )
    job = FitJob.objects.get(dataset=dataset)
    assert job.status == FitJob.Status.FAILED  # its only chunk failed: nothing was fitted
    assert job.people_failed == job.people_total
    assert FitChunk.objects.get(job=job).error == "RuntimeError: disk full"
    monkeypatch.setattr(services, "_run", real_run)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.fit_job_retry_failed(job=job) == 1
    job.refresh_from_db()
    assert (job.status, job.people_failed, job.people_done) == (FitJob.Status.DONE, 0, job.people_total)


def test_fits_are_rendered_after_their_chunk(
    dataset: Dataset, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from PIL import Image

    from webapp.fits.models import Render
    from webapp.fits.renders import fit_renders_make

    with django_capture_on_commit_callbacks(execute=True):
        job = fit_job_start(
            dataset=dataset, filter_name="all", config=EftConfig(max_iterations=1), chunk_size=3
        )
    job.refresh_from_db()
    renders = Render.objects.filter(fit__job=job)
    assert renders.count() == 3 * job.people_total == job.renders_done
    camera = renders.filter(kind="camera").first()
    side = renders.filter(kind="side").first()
    assert camera is not None
    assert side is not None
    with camera.file.open("rb") as handle:
        picture = np.asarray(Image.open(handle).convert("RGB"))
    assert picture.shape == (512, 512, 3)
    with side.file.open("rb") as handle:
        profile = np.asarray(Image.open(handle).convert("RGB"))
    # The crop is the image alone: the camera view is the same picture with the body drawn over it.
    crop = renders.get(kind="crop", fit=camera.fit)
    with crop.file.open("rb") as handle:
        plain = np.asarray(Image.open(handle).convert("RGB")).astype(np.float64)
    changed = np.abs(plain - picture).max(axis=2) > 40
    assert plain.shape == picture.shape
    assert 0.02 < changed.mean() < 0.9  # where the body is drawn, and nowhere else
    body_pixels = (profile.min(axis=2) < 230).mean()
    assert 0.02 < body_pixels < 0.6  # a body on a white background
    # Running the render task again makes nothing new.
    assert set(renders.values_list("status", flat=True)) == {"done"}
    assert fit_renders_make(render_ids=list(renders.values_list("id", flat=True))) == 0
    assert Render.objects.filter(fit__job=job).count() == 3 * job.people_total


def test_exported_entries_carry_the_source_annotation_ids(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The web path's EFT JSON entry names the dataset's own annotation id, never a row's key."""
    import json

    from fitting.joints import GT24_NAMES, GT24_OFFSET
    from fitting.synth.generate import SynthConfig, generate
    from webapp.datasets.services import dataset_create, dataset_import
    from webapp.fits.selectors import fit_eft_entry

    settings.DATASET_IMPORT_ROOTS = [tmp_path / "imports"]
    settings.DATASET_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = tmp_path / "imports" / "ids"
    generate(SynthConfig(people=4, seed=3, width=160, height=160), folder, progress=False)
    annotations = json.loads((folder / "annotations.json").read_text())
    for annotation in annotations["annotations"]:
        annotation["id"] = 700_000 + 3 * annotation["id"]  # far from any primary key
    (folder / "annotations.json").write_text(json.dumps(annotations))
    names = {image["id"]: image["file_name"] for image in annotations["images"]}
    source = {a["id"]: (names[a["image_id"]], a["keypoints"]) for a in annotations["annotations"]}

    dataset = dataset_import(
        dataset_id=dataset_create(
            name="ids",
            source_format="coco",
            source_kind="server",
            source_location=str(folder),
            annotation_path="annotations.json",
            images_path="images",
            enqueue=False,
        ).pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = fit_job_start(dataset=dataset, method="regressor", filter_name="all", render=False)
    entries = [
        fit_eft_entry(fit) for fit in Fit.objects.filter(job=job).select_related("job", "person__image")
    ]
    assert sorted(e["annotId"] for e in entries) == sorted(source)
    for entry in entries:
        image_name, keypoints = source[entry["annotId"]]
        assert entry["imageName"] == image_name
        labelled = np.asarray(keypoints, dtype=float).reshape(17, 3)
        assert entry["fit"]["method"] == "regressor"
        assert entry["fit"]["config"]["max_iterations"] == 0
        assert len(entry["parm_pose"]) == 24
        # The entry's labels are the file's: COCO's nose is GT-24's "Nose".
        nose = entry["gt_keypoint_2d"][GT24_OFFSET + GT24_NAMES.index("Nose")]
        if labelled[0, 2] > 0:
            assert nose[:2] == pytest.approx(labelled[0, :2])


def test_a_render_that_cannot_be_made_fails_with_its_reason(
    dataset: Dataset, django_capture_on_commit_callbacks: Any
) -> None:
    from webapp.datasets.models import Image
    from webapp.fits.models import Render

    with django_capture_on_commit_callbacks(execute=True):
        job = fit_job_start(
            dataset=dataset, filter_name="all", config=EftConfig(max_iterations=0), render=False
        )
    fit = Fit.objects.filter(job=job).select_related("person__image").first()
    assert fit is not None
    image = fit.person.image
    with image.file.open("wb") as handle:
        handle.write(b"not a picture any more")
    from webapp.fits.renders import fit_renders_make, renders_request

    ids = renders_request(job=job, fit_ids=[fit.pk], enqueue=False)
    assert fit_renders_make(render_ids=ids) == 1  # the side view needs no image
    camera = Render.objects.get(fit=fit, kind="camera")
    side = Render.objects.get(fit=fit, kind="side")
    assert (side.status, camera.status) == ("done", "failed")
    assert camera.error == f"ImageError: stored image {image.file.name} cannot be decoded"
    assert not camera.file
    assert Image.objects.filter(pk=image.pk).exists()


def test_deleting_a_job_or_a_dataset_deletes_every_file_made_for_it(
    dataset: Dataset, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from webapp.datasets.services import dataset_delete
    from webapp.fits.models import PairRender, Render
    from webapp.fits.renders import fit_pair_render
    from webapp.fits.services import fit_job_delete

    media = Path(settings.MEDIA_ROOT)
    with django_capture_on_commit_callbacks(execute=True):
        first = fit_job_start(dataset=dataset, method="regressor", filter_name="all")
        second = fit_job_start(dataset=dataset, method="regressor", filter_name="all")
    a = Fit.objects.filter(job=first).select_related("person").first()
    assert a is not None
    b = Fit.objects.get(job=second, person=a.person)
    pair = fit_pair_render(fit_a=a, fit_b=b, size=64)
    first_renders = [r.file.name for r in Render.objects.filter(fit__job=first)]
    assert len(first_renders) == 3 * first.people_total
    assert all(name.startswith(f"datasets/{dataset.pk}/renders/job-{first.pk}/") for name in first_renders)
    assert pair.file.name.startswith(f"datasets/{dataset.pk}/renders/ab/")

    fit_job_delete(job=first)
    assert not [n for n in first_renders if (media / n).exists()]
    assert not (media / pair.file.name).exists()
    assert PairRender.objects.count() == 0
    second_renders = [media / r.file.name for r in Render.objects.filter(fit__job=second)]
    assert second_renders
    assert all(path.exists() for path in second_renders)  # the other job keeps its files

    dataset_delete(dataset=dataset)
    assert not [p for p in (media / "datasets" / str(dataset.pk)).rglob("*") if p.is_file()]


def test_progress_counts_people_as_they_finish_and_says_the_queue_place(dataset: Dataset) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from webapp.fits.selectors import job_progress

    first = fit_job_start(dataset=dataset, filter_name="all", chunk_size=2)  # queued: enqueue on commit
    second = fit_job_start(dataset=dataset, filter_name="all", chunk_size=2)
    assert (first.status, second.status) == ("queued", "queued")
    assert job_progress(first)["state"] == "queued (place 1)"
    assert job_progress(second)["state"] == "queued (place 2)"
    assert job_progress(second)["rate_per_s"] == 0.0  # nothing has started: no rate from creation

    # A worker claims the first chunk of the first job and has fitted one person of two.
    chunk = FitChunk.objects.filter(job=first).order_by("index").first()
    assert chunk is not None
    started = timezone.now() - timedelta(seconds=10)
    FitChunk.objects.filter(pk=chunk.pk).update(status="running", people_done=1)
    FitJob.objects.filter(pk=first.pk).update(status="running", started_at=started)
    first.refresh_from_db()
    progress = job_progress(first)
    assert (progress["state"], progress["people_done"]) == ("running", 1)
    assert progress["rate_per_s"] == pytest.approx(0.1, rel=0.05)  # 1 person in the 10 s since it started
    assert progress["eta_s"] == pytest.approx((first.people_total - 1) * 10, rel=0.06)
    assert job_progress(second)["state"] == "queued (place 2)"  # still behind the running job


def test_start_a_job_from_the_api(dataset: Dataset, django_capture_on_commit_callbacks: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    get_user_model().objects.create_user("boss", password="right-horse-battery", is_staff=True)
    client = Client()
    assert client.login(username="boss", password="right-horse-battery")
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            "/api/fits/jobs/",
            {"dataset": dataset.pk, "method": "eft", "filter": "all", "config": {"max_iterations": 1},
             "chunk_size": 2, "render": False},
            content_type="application/json",
        )  # fmt: skip
    assert answer.status_code == 201, answer.content
    body = answer.json()
    job = FitJob.objects.get(pk=body["id"])
    assert (body["method"], body["filter"], body["chunk_size"], body["config"]["max_iterations"]) == (
        "eft", "all", 2, 1
    )  # fmt: skip
    assert job.status == "done"  # eager Celery ran the chunks
    detail = client.get(f"/api/fits/jobs/{job.pk}/").json()
    assert detail["people_done"] == job.people_total == detail["summary"]["fits"]
    assert detail["job"]["id"] == job.pk

    bad = client.post(
        "/api/fits/jobs/",
        {"dataset": dataset.pk, "config": {"max_iters": 3}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json() == {"config": ["unknown option(s) ['max_iters']; EftConfig has " + str(sorted(
        ["lr", "max_iterations", "threshold_px", "shape_weight", "gamma", "keypoint_weight", "leg_weight",
         "camera_weight", "overall", "ignore_hips", "min_leg_length", "sanity", "threshold_units",
         "upright_search"]
    ))]}  # fmt: skip
    assert (
        client.post("/api/fits/jobs/", {"dataset": 999}, content_type="application/json").status_code == 400
    )
    assert Client().post("/api/fits/jobs/", {"dataset": dataset.pk}).status_code == 403


def test_start_a_job_from_the_command(dataset: Dataset) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "fit_job", "--dataset", dataset.name, "--method", "regressor", "--filter", "all", "--no-render",
        "--here", "--option", "sanity=exporter", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    job = FitJob.objects.get(dataset=dataset)
    assert job.status == "done"
    assert job.method_config() == EftConfig(sanity="exporter")
    assert Fit.objects.filter(job=job).count() == job.people_total
    assert f"job {job.pk} done: {job.people_total} fitted, 0 failed" in out.getvalue()
    with pytest.raises(CommandError, match=r"no dataset 'nope' \(datasets: synth\)"):
        call_command("fit_job", "--dataset", "nope")
    with pytest.raises(CommandError, match="max_iterations must be zero or more, got -2"):
        call_command("fit_job", "--dataset", str(dataset.pk), "--option", "max_iterations=-2")


def test_the_job_page_shows_figures_options_and_only_the_actions_that_apply(
    dataset: Dataset, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from webapp.fits.selectors import job_summary

    get_user_model().objects.create_user("boss", password="right-horse-battery", is_staff=True)
    client = Client()
    assert client.login(username="boss", password="right-horse-battery")
    waiting = fit_job_start(dataset=dataset, filter_name="all", config=EftConfig(max_iterations=7))
    page = client.get(f"/staff/jobs/{waiting.pk}/").content.decode()
    assert 'id="cancel-job"' in page
    assert "return confirm('Cancel job" in page
    assert 'id="retry-job"' not in page  # nothing failed
    assert "<th>max_iterations</th><td><code>7</code></td>" in page
    assert "{'lr'" not in page  # the options are a table, not a printed dict

    with django_capture_on_commit_callbacks(execute=True):
        done = fit_job_start(dataset=dataset, method="regressor", filter_name="all", render=False)
    summary = job_summary(done)
    errors = sorted(Fit.objects.filter(job=done).values_list("mean_error_px", flat=True))
    assert summary["fits"] == len(errors) == done.people_total
    assert summary["error_mean_px"] == round(sum(errors) / len(errors), 2)
    assert summary["error_median_px"] == round(float(np.median(errors)), 2)
    assert summary["iterations_mean"] == 0.0  # the regressor alone makes no update
    page = client.get(f"/staff/jobs/{done.pk}/").content.decode()
    assert 'id="cancel-job"' not in page
    assert 'id="retry-job"' not in page
    assert f"{summary['error_mean_px']} / {summary['error_median_px']} / {summary['error_p90_px']} px" in page

    import webapp.fits.services as services

    def broken(job: FitJob, chunk: FitChunk, beat: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_run", broken)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        failed = fit_job_start(dataset=dataset, filter_name="all", chunk_size=100, render=False)
    failed = FitJob.objects.latest("created_at")
    page = client.get(f"/staff/jobs/{failed.pk}/").content.decode()
    assert 'id="retry-job"' in page
    assert 'id="cancel-job"' not in page  # a failed job is over


def test_a_jobs_fits_are_scored_against_the_truth_of_the_synthetic_set(
    dataset: Dataset, tmp_path: Path
) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    call_command(
        "fit_job", "--dataset", dataset.name, "--method", "regressor", "--filter", "all", "--no-render",
        "--here", stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    job = FitJob.objects.get(dataset=dataset)
    truth = tmp_path / "imports" / "synth" / "truth.npz"  # the fixture's synthetic set
    out = StringIO()
    call_command("score_fits", str(job.pk), "--truth", str(truth), "--json", stdout=out)
    import json

    scored = json.loads(out.getvalue())
    assert scored["people"] == job.people_total
    assert scored["unmatched"] == 0
    assert 10.0 < scored["pa_mpjpe_mm"] < 400.0  # the regressor alone: not exact, not absurd
    assert sum(g["people"] for g in scored["by_group"].values()) == scored["people"]
    lines = StringIO()
    call_command("score_fits", str(job.pk), "--truth", str(truth), stdout=lines)
    assert f"{job.people_total} fits scored, 0 without truth, {job.people_total} people's labels checked" in (
        lines.getvalue()
    )

    other = tmp_path / "other.npz"
    np.savez(other, annotation_id=np.array([987654]), joints_spin49=np.zeros((1, 49, 3)))
    with pytest.raises(CommandError, match="has a row in"):
        call_command("score_fits", str(job.pk), "--truth", str(other))
    from fitting.synth.generate import SynthConfig, generate

    another = tmp_path / "another"  # the same ids 1..N, other people
    generate(SynthConfig(people=5, seed=45, width=160, height=160, max_people_per_image=2), another,
             progress=False)  # fmt: skip
    with pytest.raises(CommandError, match="it is the truth of another set"):
        call_command("score_fits", str(job.pk), "--truth", str(another / "truth.npz"))
    with pytest.raises(CommandError, match="no such file"):
        call_command("score_fits", str(job.pk), "--truth", str(tmp_path / "absent.npz"))
    empty = FitJob.objects.create(dataset=dataset, method="eft")
    with pytest.raises(CommandError, match=f"fit job {empty.pk} has no fits yet"):
        call_command("score_fits", str(empty.pk), "--truth", str(truth))
    with pytest.raises(CommandError, match="no fit job 999"):
        call_command("score_fits", "999", "--truth", str(truth))
