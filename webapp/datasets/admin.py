from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from webapp.datasets.models import Dataset, Image, Person
from webapp.datasets.services import dataset_delete


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin[Dataset]):
    list_display = ("name", "source_format", "split", "status", "stage", "progress_done", "progress_total",
                    "people_count", "images_count", "created_at")  # fmt: skip
    list_filter = ("status", "source_format")
    search_fields = ("name",)
    readonly_fields = ("status", "stage", "progress_done", "progress_total", "error", "annotations_count",
                       "people_count", "images_count", "skipped", "keypoints_outside", "filter_counts",
                       "created_at", "claimed_at", "heartbeat_at", "finished_at", "attempts",
                       "worker")  # fmt: skip

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        # An import is more than a row (zip, folder or S3; a worker task): the staff import form.
        return HttpResponseRedirect(reverse("datasets:list") + "#import")

    def delete_model(self, request: HttpRequest, obj: Dataset) -> None:
        dataset_delete(dataset=obj)  # rows and the stored image files

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        for dataset in queryset:
            dataset_delete(dataset=dataset)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin[Image]):
    list_display = ("name", "dataset", "width", "height", "bytes")
    list_filter = ("dataset",)
    search_fields = ("name",)


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin[Person]):
    list_display = ("source_annotation_id", "dataset", "image", "labelled", "coco_all", "coco_part")
    list_filter = ("dataset", "coco_all", "coco_part")
    search_fields = ("source_annotation_id", "subject_id")
    raw_id_fields = ("image",)
