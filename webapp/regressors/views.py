"""Staff pages of the registry: the list with an upload form, and one regressor."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from fitting.config import default_of
from webapp.benchmarks.models import BenchmarkVersion
from webapp.core.taskstate import OPEN, TaskStatus
from webapp.fits.models import FitJob
from webapp.regressors.models import Regressor, TrainingJob
from webapp.regressors.selectors import (
    evaluation_summary,
    regressor_list,
    training_curves_png,
    training_job_list,
    training_progress,
)
from webapp.regressors.services import regressor_shipped, regressor_upload
from webapp.regressors.training import TrainingOptions, training_job_cancel, training_job_start


class UploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    file = forms.FileField(help_text="a SPIN / EFT checkpoint (.pt), or one this product trained")
    parent = forms.ModelChoiceField(
        queryset=Regressor.objects.filter(status=Regressor.Status.DONE), required=False,
        help_text="the checkpoint it was fine-tuned from",
    )  # fmt: skip
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


@staff_member_required
def regressor_list_page(request: HttpRequest) -> HttpResponse:
    regressor_shipped()
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        user = request.user if request.user.is_authenticated else None
        try:
            made = regressor_upload(
                name=form.cleaned_data["name"], chunks=upload.chunks(), filename=upload.name,
                parent=form.cleaned_data["parent"], notes=form.cleaned_data["notes"], created_by=user,
            )  # fmt: skip
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(
                request, f"Stored {made.name} (sha256 {made.short_sha}); a worker checks it by loading it."
            )
            return redirect("regressors:detail", regressor_id=made.pk)
    rows = [(r, evaluation_summary(r)) for r in regressor_list()]
    return render(request, "regressors/list.html", {"rows": rows, "form": form})


@staff_member_required
def regressor_page(request: HttpRequest, regressor_id: int) -> HttpResponse:
    regressor = get_object_or_404(Regressor.objects.select_related("parent", "created_by"), pk=regressor_id)
    return render(
        request,
        "regressors/detail.html",
        {
            "regressor": regressor,
            "refresh": regressor.status in OPEN,  # the check is running: the page reloads itself
            "evaluation": evaluation_summary(regressor),
            "jobs": regressor.fit_jobs.select_related("dataset").order_by("-created_at")[:20],
            "trainings": regressor.training_jobs.order_by("-created_at")[:20],
            "children": regressor.children.all(),
            "training": json.dumps(regressor.training_data, indent=1, sort_keys=True)[:20_000],
            "metrics": json.dumps(regressor.metrics, indent=1, sort_keys=True)[:20_000],
            "training_known": bool(regressor.training_data),
            "metrics_known": bool(regressor.metrics),
        },
    )


class TrainingForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="the new regressor's name")
    parent = forms.ModelChoiceField(queryset=Regressor.objects.none(), help_text="fine-tune these weights")
    fit_jobs = forms.ModelMultipleChoiceField(
        queryset=FitJob.objects.none(), required=False, help_text="their fits, chosen by the selection below"
    )
    versions = forms.ModelMultipleChoiceField(
        queryset=BenchmarkVersion.objects.none(), required=False, label="Benchmark versions",
        help_text="published versions: their accepted fits",
    )  # fmt: skip
    selection = forms.ChoiceField(choices=TrainingJob.Selection.choices, initial=TrainingJob.Selection.SANITY)
    max_steps = forms.IntegerField(initial=default_of(TrainingOptions, "max_steps"), min_value=1)
    batch_size = forms.IntegerField(initial=default_of(TrainingOptions, "batch_size"), min_value=1)
    lr = forms.FloatField(initial=default_of(TrainingOptions, "lr"), label="Learning rate")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = {
            "parent": Regressor.objects.filter(status=Regressor.Status.DONE),
            "fit_jobs": FitJob.objects.filter(status=FitJob.Status.DONE).select_related("dataset"),
            "versions": BenchmarkVersion.objects.filter(status=TaskStatus.DONE).select_related("benchmark"),
        }
        for name, queryset in choices.items():
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset


@staff_member_required
def training_list_page(request: HttpRequest) -> HttpResponse:
    shipped = regressor_shipped()
    form = TrainingForm(request.POST or None, initial={"parent": shipped.pk})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = request.user if request.user.is_authenticated else None
        try:
            options = TrainingOptions.from_dict(
                {"max_steps": data["max_steps"], "batch_size": data["batch_size"], "lr": data["lr"]}
            )
            job = training_job_start(
                name=data["name"], parent=data["parent"], fit_jobs=list(data["fit_jobs"]),
                versions=list(data["versions"]), selection=data["selection"], options=options,
                created_by=user,
            )  # fmt: skip
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"Training job {job.pk} queued on the gpu queue.")
            return redirect("regressors:training", job_id=job.pk)
    jobs = [(job, training_progress(job)) for job in training_job_list()[:50]]
    return render(request, "regressors/training_list.html", {"jobs": jobs, "form": form})


@staff_member_required
def training_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(training_job_list(), pk=job_id)
    progress = training_progress(job)
    return render(
        request,
        "regressors/training.html",
        {"job": job, "progress": progress, "refresh": progress["open"], "config": sorted(job.config.items()),
         "fit_jobs": job.fit_jobs.select_related("dataset"),
         "versions": job.versions.select_related("benchmark")},
    )  # fmt: skip


@staff_member_required
def training_curves(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(TrainingJob, pk=job_id)
    return HttpResponse(training_curves_png(job), content_type="image/png")


@staff_member_required
def training_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(TrainingJob, pk=job_id)
    if request.method == "POST":
        if training_job_cancel(job):
            messages.success(
                request, f"Training job {job.pk}: cancelled (a running one stops at its next report)."
            )
        else:
            messages.error(request, f"Training job {job.pk} is {job.status}: nothing to cancel.")
    return redirect("regressors:training", job_id=job.pk)
