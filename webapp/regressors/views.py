"""Staff pages of the registry: the list with an upload form, and one regressor."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from webapp.core.taskstate import OPEN
from webapp.regressors.models import Regressor
from webapp.regressors.selectors import full_box_pa_mpjpe, regressor_list
from webapp.regressors.services import regressor_shipped, regressor_upload


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
    rows = [(r, full_box_pa_mpjpe(r)) for r in regressor_list()]
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
            "pa_mpjpe": full_box_pa_mpjpe(regressor),
            "jobs": regressor.fit_jobs.select_related("dataset").order_by("-created_at")[:20],
            "children": regressor.children.all(),
            "training": json.dumps(regressor.training_data, indent=1, sort_keys=True)[:20_000],
            "metrics": json.dumps(regressor.metrics, indent=1, sort_keys=True)[:20_000],
        },
    )
