"""Staff pages of the datasets app: the list (with the import form) and a dataset's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from webapp.core import taskstate
from webapp.datasets.forms import DatasetImportForm
from webapp.datasets.models import Dataset, Person
from webapp.datasets.selectors import (
    dataset_filter_table,
    dataset_importing,
    dataset_list,
    dataset_sample_people,
    person_picture_png,
)
from webapp.datasets.services import dataset_import_request
from webapp.datasets.sources import SourceRequest


@staff_member_required
def dataset_list_page(request: HttpRequest) -> HttpResponse:
    form = DatasetImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        source = SourceRequest(
            archive=data["archive"], server_folder=data["server_folder"], s3_prefix=data["s3_prefix"]
        )
        try:
            dataset = dataset_import_request(
                source=source,
                name=data["name"],
                source_format=data["source_format"],
                annotation_path=data["annotation_path"],
                images_path=data["images_path"],
                split=data["split"],
                licence=data["licence"],
                outside_policy=data["outside_policy"],
                split_preset=data["split_preset"],
                split_seed=data["split_seed"],
                split_test_fraction=data["split_test_fraction"],
            )
        except ValidationError as exc:
            for field, errors in (
                exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            ).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"Import of {dataset.name} started.")
            return redirect("datasets:detail", dataset_id=dataset.pk)
    return render(
        request,
        "datasets/list.html",
        {"datasets": dataset_list(), "form": form, "refresh": dataset_importing()},
    )


@staff_member_required
def dataset_detail_page(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    busy = dataset.status in taskstate.OPEN
    return render(
        request,
        "datasets/detail.html",
        {
            "dataset": dataset,
            "filters": dataset_filter_table(dataset),
            "samples": [] if busy else dataset_sample_people(dataset),
            "refresh": busy,
        },
    )


@staff_member_required
def person_picture(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.select_related("image"), pk=person_id)
    return HttpResponse(person_picture_png(person), content_type="image/png")
