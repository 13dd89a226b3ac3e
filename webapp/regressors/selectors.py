"""Reads of the regressor registry."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from webapp.regressors.models import Regressor


def regressor_list() -> QuerySet[Regressor]:
    return Regressor.objects.select_related("parent", "created_by").annotate(jobs=Count("fit_jobs"))


def regressor_named(key: str) -> Regressor | None:
    """A regressor by id (digits) or name."""
    found = Regressor.objects.filter(pk=int(key)).first() if key.isdigit() else None
    return found or Regressor.objects.filter(name=key).first()


def full_box_pa_mpjpe(regressor: Regressor) -> float | None:
    """The full-box PA-MPJPE (mm) its own evaluation recorded, where it has one."""
    for row in regressor.metrics.get("bootstrap_evaluation", []) or []:
        if isinstance(row, dict) and row.get("level") == 7 and "pa_mpjpe" in row:
            return float(row["pa_mpjpe"])
    value = regressor.metrics.get("pa_mpjpe")
    return float(value) if isinstance(value, int | float) else None
