"""Staff pages of the fits app: jobs with live progress, a job's plots and fits, a fit's page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from fitting.config import SANITY_RULES, THRESHOLD_UNITS, EftConfig, default_of
from fitting.datasets.filters import DEFAULT_FILTER, FILTERS
from webapp.core.models import field_default
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitJob
from webapp.fits.selectors import (
    job_actions,
    job_fits,
    job_list,
    job_plot_png,
    job_progress,
    job_summary,
    rejection_reasons,
    render_urls,
)
from webapp.fits.services import fit_job_cancel, fit_job_config, fit_job_retry_failed, fit_job_start
from webapp.regressors.models import Regressor
from webapp.regressors.services import regressor_shipped


class FitJobForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(status=Dataset.Status.DONE))
    method = forms.ChoiceField(
        choices=[(m.value, m.label) for m in FitJob.STARTABLE], initial=FitJob.Method.EFT
    )
    filter_name = forms.ChoiceField(
        choices=[(f.name, f.label) for f in FILTERS.values()], initial=DEFAULT_FILTER, label="Filter"
    )
    split = forms.CharField(max_length=32, required=False)
    max_iterations = forms.IntegerField(
        initial=default_of(EftConfig, "max_iterations"), min_value=0, max_value=1000,
        help_text="EFT (OCHuman: 100)",
    )  # fmt: skip
    sanity = forms.ChoiceField(
        choices=[(r, r) for r in SANITY_RULES], initial=default_of(EftConfig, "sanity"), label="Sanity rule",
        required=False,
        help_text="paper: max |beta| and the 2D loss; exporter: stricter; plausible: the paper's plus the 2D "
        "error for the person's size, joint limits and limbs through the torso",
    )  # fmt: skip
    threshold_units = forms.ChoiceField(
        choices=[(u, u) for u in THRESHOLD_UNITS], initial=default_of(EftConfig, "threshold_units"),
        label="Stop threshold in", help_text="3 pixels of the original image, or of the 224-pixel crop",
        required=False,
    )  # fmt: skip
    upright_search = forms.BooleanField(
        required=False, initial=default_of(EftConfig, "upright_search"),
        help_text="start from the crop turned by 0/90/180/270 degrees that the regressor reads best",
    )  # fmt: skip
    regressor = forms.ModelChoiceField(
        queryset=Regressor.objects.filter(status=Regressor.Status.DONE), required=False,
        empty_label="the configured regressor",
        help_text="the checkpoint EFT fine-tunes (and SMPLify starts from): see Regressors",
    )  # fmt: skip
    chunk_size = forms.IntegerField(initial=field_default(FitJob, "chunk_size"), min_value=1, max_value=4096)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["regressor"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Regressor.objects.filter(status=Regressor.Status.DONE)  # read per request


@staff_member_required
def job_list_page(request: HttpRequest) -> HttpResponse:
    regressor_shipped()  # listed among the choices from the first visit
    form = FitJobForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        options = (
            {
                "max_iterations": data["max_iterations"],
                "sanity": data["sanity"] or default_of(EftConfig, "sanity"),
                "threshold_units": data["threshold_units"] or default_of(EftConfig, "threshold_units"),
                "upright_search": data["upright_search"],
            }
            if data["method"] != FitJob.Method.SMPLIFY
            else {}
        )
        try:
            job = fit_job_start(
                dataset=data["dataset"], method=data["method"], filter_name=data["filter_name"],
                split=data["split"], config=fit_job_config(method=data["method"], options=options),
                chunk_size=data["chunk_size"], regressor=data["regressor"],
            )  # fmt: skip
        except ValidationError as exc:
            for error in exc.messages:
                form.add_error(None, error)
        else:
            messages.success(request, f"Job {job.pk} started: {job.people_total} people.")
            return redirect("fits:job", job_id=job.pk)
    jobs = list(job_list()[:50])
    return render(
        request, "fits/jobs.html", {"jobs": [(job, job_progress(job)) for job in jobs], "form": form}
    )


@staff_member_required
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(FitJob.objects.select_related("dataset", "regressor"), pk=job_id)
    sanity = request.GET.get("sanity", "")
    order = request.GET.get("order", "")
    page = Paginator(job_fits(job, sanity, order), 24).get_page(request.GET.get("page"))
    fits = list(page.object_list)
    renders = render_urls(fits)
    items = [(fit, renders.get(fit.pk, {}).get("camera", "")) for fit in fits]
    return render(
        request,
        "fits/job.html",
        {"job": job, "progress": job_progress(job), "summary": job_summary(job), "actions": job_actions(job),
         "config": sorted(job.config.items()), "page": page, "items": items,
         "sanity": sanity, "order": order, "reasons": rejection_reasons(job)},
    )  # fmt: skip


@staff_member_required
def job_plots(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(FitJob.objects.select_related("dataset"), pk=job_id)
    return HttpResponse(job_plot_png(job), content_type="image/png")


@staff_member_required
def fit_page(request: HttpRequest, fit_id: int) -> HttpResponse:
    fit = get_object_or_404(
        Fit.objects.select_related("job", "job__dataset", "person", "person__image"), pk=fit_id
    )
    from fitting.joints import GT24_NAMES

    joints = [(name, error) for name, error in zip(GT24_NAMES, fit.joint_error_px, strict=True)]
    return render(
        request,
        "fits/fit.html",
        {"fit": fit, "renders": render_urls([fit]).get(fit.pk, {}), "joints": joints},
    )


@staff_member_required
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(FitJob, pk=job_id)
    if request.method == "POST":
        fit_job_cancel(job=job)
        messages.success(request, f"Job {job.pk} cancelled: pending chunks will not run.")
    return redirect("fits:job", job_id=job.pk)


@staff_member_required
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(FitJob, pk=job_id)
    if request.method == "POST":
        count = fit_job_retry_failed(job=job)
        messages.success(request, f"{count} failed chunk(s) of job {job.pk} queued again.")
    return redirect("fits:job", job_id=job.pk)
