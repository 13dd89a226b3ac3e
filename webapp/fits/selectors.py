"""Reads of the fits app: job progress (rate, ETA), fit grids, statistics for plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from fitting.config import running_config
from fitting.export import eft_entry
from fitting.results import PersonFit, SanityVerdict
from fitting.truth import TruthScore
from webapp.core.media import media_url
from webapp.core.taskstate import TaskStatus
from webapp.datasets.selectors import source_person
from webapp.fits.models import SANITY_CODE_CHOICES, Fit, FitJob, Render


def job_queue_place(job: FitJob) -> int | None:
    """1 + the open jobs started before this one, for a job no worker has taken yet."""
    if job.status not in (TaskStatus.PENDING, TaskStatus.QUEUED):
        return None
    ahead = FitJob.objects.filter(
        status__in=(TaskStatus.QUEUED, TaskStatus.RUNNING), created_at__lt=job.created_at
    ).count()
    return ahead + 1


def job_progress(job: FitJob) -> dict[str, Any]:
    """done / total (people as they finish, the running chunks' included), failures, rate
    (people/s since fitting started) and ETA in seconds; a job that waits says its place."""
    in_flight = sum(job.chunks.filter(status=TaskStatus.RUNNING).values_list("people_done", flat=True))
    done = job.people_done + in_flight
    finished = done + job.people_failed
    started = job.started_at
    end = job.finished_at or timezone.now()
    elapsed = max((end - started).total_seconds(), 1e-6) if started else 0.0
    rate = done / elapsed if done and elapsed else 0.0
    left = max(job.people_total - finished, 0)
    place = job_queue_place(job)
    return {
        "id": job.pk,
        "status": job.status,
        "state": f"queued (place {place})" if place else job.status,
        "queue_place": place,
        "people_total": job.people_total,
        "people_done": done,
        "people_failed": job.people_failed,
        "percent": round(100.0 * finished / job.people_total, 1) if job.people_total else 0.0,
        "rate_per_s": round(rate, 3),
        "eta_s": round(left / rate) if rate and job.status == TaskStatus.RUNNING else None,
        "renders_done": job.renders_done,
        "elapsed_s": round(elapsed, 1),
        "devices": sorted({d for d in job.chunks.values_list("device", flat=True) if d}),
    }


def person_fit(fit: Fit) -> PersonFit:
    """A stored fit as ``fitting``'s own result (the inverse of services.fit_row); its key is the
    Person's id."""
    import numpy as np

    job = fit.job
    return PersonFit(
        key=fit.person_id,
        method=job.method,  # type: ignore[arg-type]  # FitJob.Method holds exactly fitting's names
        pose_rotmat=np.asarray(fit.pose_rotmat, dtype=np.float64),
        betas=np.asarray(fit.betas, dtype=np.float64),
        cam_weak=np.asarray(fit.cam_weak, dtype=np.float64),
        joint_error_px=tuple(fit.joint_error_px),
        mean_error_px=fit.mean_error_px,
        iterations=fit.iterations,
        keypoint_loss=fit.keypoint_loss,
        loss_before=fit.loss_before,
        loss_after=fit.loss_after,
        verdict=SanityVerdict(fit.sanity_ok, fit.sanity_reason, fit.sanity_rule, fit.sanity_code),  # type: ignore[arg-type]
        seconds=fit.seconds,
        config=running_config(job.method, job.method_config()),
        checkpoint_sha256=fit.checkpoint_sha256,
        body_model=fit.body_model,
        prior=fit.prior,
        turn_deg=fit.turn_deg,
    )


def fit_eft_entry(fit: Fit) -> dict[str, Any]:
    """The EFT JSON entry of a stored fit, with the dataset's own annotation id."""
    return eft_entry(person_fit(fit), source_person(fit.person))


def job_list() -> QuerySet[FitJob]:
    return FitJob.objects.select_related("dataset")


def job_fits(job: FitJob, sanity: str = "", order: str = "") -> QuerySet[Fit]:
    """A job's fits: all, ``ok``, ``failed``, or those rejected by one check (a sanity code)."""
    fits = Fit.objects.filter(job=job).select_related("person", "person__image")
    if sanity == "ok":
        fits = fits.filter(sanity_ok=True)
    elif sanity == "failed":
        fits = fits.filter(sanity_ok=False)
    elif sanity in SANITY_CODES:
        fits = fits.filter(sanity_ok=False, sanity_code=sanity)
    return fits.order_by({"error": "-mean_error_px", "iterations": "-iterations"}.get(order, "id"))


SANITY_CODES = {code for code, _ in SANITY_CODE_CHOICES if code != "ok"}


def rejection_reasons(job: FitJob) -> list[tuple[str, str, int]]:
    """(code, words, fits) for each check that rejected some of the job's fits, most first."""
    labels = dict(SANITY_CODE_CHOICES)
    counts = (
        Fit.objects.filter(job=job, sanity_ok=False)
        .exclude(sanity_code="ok")
        .values("sanity_code")
        .annotate(fits=Count("id"))
        .order_by("-fits", "sanity_code")
    )
    return [
        (row["sanity_code"], labels.get(row["sanity_code"], row["sanity_code"]), row["fits"])
        for row in counts
    ]


def render_urls(fits: list[Fit]) -> dict[int, dict[str, str]]:
    urls: dict[int, dict[str, str]] = {}
    for render in Render.objects.filter(fit__in=fits, status=TaskStatus.DONE):
        urls.setdefault(render.fit_id, {})[render.kind] = media_url(render.file.name)
    return urls


def job_statistics(job: FitJob) -> dict[str, list[float]]:
    rows = list(
        Fit.objects.filter(job=job).values_list("mean_error_px", "iterations", "max_abs_beta", "sanity_ok")
    )
    return {
        "error_px": [r[0] for r in rows],
        "iterations": [float(r[1]) for r in rows],
        "max_abs_beta": [r[2] for r in rows],
        "sanity_ok": [float(r[3]) for r in rows],
    }


def job_summary(job: FitJob) -> dict[str, Any]:
    """The job's figures: fits, mean / median / 90th percentile 2D error, mean and median
    iterations, sanity pass rate (None where there is no fit yet)."""
    import numpy as np

    stats = job_statistics(job)
    errors = np.asarray(stats["error_px"], dtype=np.float64)
    iterations = np.asarray(stats["iterations"], dtype=np.float64)
    if not errors.size:
        return {"fits": 0, "error_mean_px": None, "error_median_px": None, "error_p90_px": None,
                "iterations_mean": None, "iterations_median": None, "sanity_pass_rate": None}  # fmt: skip
    return {
        "fits": int(errors.size),
        "error_mean_px": round(float(errors.mean()), 2),
        "error_median_px": round(float(np.median(errors)), 2),
        "error_p90_px": round(float(np.percentile(errors, 90)), 2),
        "iterations_mean": round(float(iterations.mean()), 1),
        "iterations_median": round(float(np.median(iterations)), 1),
        "sanity_pass_rate": round(float(np.mean(stats["sanity_ok"])), 3),
    }


def job_actions(job: FitJob) -> dict[str, bool]:
    """Which actions apply to the job now: cancel while it is open, retry when a chunk failed."""
    return {
        "cancel": job.status in (TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RUNNING),
        "retry": job.chunks.filter(status=TaskStatus.FAILED).exists(),
    }


def job_plot_png(job: FitJob) -> bytes:
    """Four panels: 2D error, iterations, max |beta| histograms and the sanity pass rate."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = job_statistics(job)
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    panels = (
        ("error_px", "mean 2D error (px)"),
        ("iterations", "iterations"),
        ("max_abs_beta", "max |beta|"),
    )
    for axis, (key, label) in zip(axes[:3], panels, strict=True):
        if stats[key]:
            axis.hist(stats[key], bins=20, color="#1f77b4")
        else:
            axis.text(0.5, 0.5, "no fits yet", ha="center", va="center", transform=axis.transAxes)
        axis.set_xlabel(label)
        axis.set_ylabel("fits")
    passed = sum(stats["sanity_ok"])
    total = len(stats["sanity_ok"])
    axes[3].bar(["pass", "fail"], [passed, total - passed], color=["#1f7a3d", "#b3261e"])
    axes[3].set_title(f"sanity: {100 * passed / total:.0f}% pass" if total else "sanity: no fits yet")
    axes[3].set_ylim(0, max(1, total))  # no negative fits on an empty chart
    axes[3].set_ylabel("fits")
    fig.suptitle(f"job {job.pk}: {job.get_method_display()} on {job.dataset.name}, {total} fits")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def job_truth_score(job: FitJob, truth_path: Path) -> TruthScore:
    """The job's fits against known 3D truth (a synthetic set's ``truth.npz``), matched by the
    people's source annotation ids, each person's labels checked against the file's; scored as a
    whole and by sanity verdict (kept / rejected)."""
    import numpy as np

    from fitting.truth import FitToScore, load_truth, score_fits
    from webapp.fits.engine import body_for

    truth = load_truth(truth_path)
    body, _device = body_for(job.body_model)
    rows = Fit.objects.filter(job=job).values_list(
        "person__source_annotation_id", "person__keypoints_raw", "pose_rotmat", "betas", "sanity_ok"
    )
    fits = (
        FitToScore(
            str(key), np.asarray(pose, dtype=np.float64), np.asarray(betas, dtype=np.float64),
            "kept" if ok else "rejected", np.asarray(labels, dtype=np.float64),
        )
        for key, labels, pose, betas, ok in rows.iterator(chunk_size=500)
    )  # fmt: skip
    return score_fits(fits, truth, body)
