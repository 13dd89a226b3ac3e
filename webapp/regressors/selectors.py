"""Reads of the regressor registry."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from webapp.core.taskstate import OPEN, TaskStatus
from webapp.regressors.models import Regressor, TrainingJob


def regressor_list() -> QuerySet[Regressor]:
    return Regressor.objects.select_related("parent", "created_by").annotate(jobs=Count("fit_jobs"))


def regressor_named(key: str) -> Regressor | None:
    """A regressor by id (digits) or name."""
    found = Regressor.objects.filter(pk=int(key)).first() if key.isdigit() else None
    return found or Regressor.objects.filter(name=key).first()


def _full_box(rows: Any) -> float | None:
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("level") == 7 and isinstance(row.get("pa_mpjpe"), int | float):
            return float(row["pa_mpjpe"])
    return None


def evaluation_summary(regressor: Regressor) -> str:
    """Its PA-MPJPE as its own evaluation recorded it, saying on what: the bootstrap's held-out
    sets (full box), a training job's held-out fits, or its training validation."""
    evaluation = regressor.metrics.get("bootstrap_evaluation")
    if isinstance(evaluation, dict):  # per held-out set
        figures = [(name, _full_box(rows)) for name, rows in sorted(evaluation.items())]
        shown = [f"{name} {value:.1f} mm" for name, value in figures if value is not None]
        if shown:
            return ", ".join(shown) + " (held-out synthetic people, full box)"
    elif (value := _full_box(evaluation)) is not None:
        return f"everyday {value:.1f} mm (held-out synthetic people, full box)"
    pseudo = regressor.metrics.get("val_pa_mpjpe_pseudo_gt")
    if isinstance(pseudo, int | float):
        return f"{pseudo:.1f} mm against its held-out fits"
    value = regressor.metrics.get("pa_mpjpe")
    return f"{value:.1f} mm (its training validation)" if isinstance(value, int | float) else ""


def training_job_list() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.select_related("parent", "result").defer("history")


def training_progress(job: TrainingJob) -> dict[str, Any]:
    """What the training page shows: percent of the step budget, ETA, the last figures."""
    percent = round(100 * job.step / job.max_steps) if job.max_steps else 0
    return {
        "percent": min(100, percent) if job.status != TaskStatus.DONE else 100,
        "eta": _duration(job.eta_seconds) if job.status in OPEN and job.eta_seconds is not None else "",
        "open": job.status in OPEN,
    }


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def training_curves_png(job: TrainingJob) -> bytes:
    """Loss (training) and PA-MPJPE against the held-out fits (validation) per step."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = [(p["step"], p["loss"]) for p in job.history if p.get("loss") is not None]
    vals = [(p["step"], p["val_pa_mpjpe"]) for p in job.history if p.get("val_pa_mpjpe") is not None]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    if losses:
        axes[0].plot(*zip(*losses, strict=True), color="#2b6cb0", linewidth=1.2)
    axes[0].set_title("training loss")
    axes[0].set_xlabel("step")
    if vals:
        axes[1].plot(*zip(*vals, strict=True), color="#c05621", marker="o", markersize=3)
    axes[1].set_title("validation PA-MPJPE against held-out fits (mm)")
    axes[1].set_xlabel("step")
    for ax in axes:
        ax.grid(alpha=0.3)
        if not (losses or vals):
            ax.text(0.5, 0.5, "no step yet", ha="center", va="center", transform=ax.transAxes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()
