from django.contrib import admin

from webapp.datasets.models import Dataset, Image, Person


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin[Dataset]):
    list_display = ("name", "source_format", "split", "status", "stage", "progress_done", "progress_total",
                    "people_count", "images_count", "created_at")  # fmt: skip
    list_filter = ("status", "source_format")
    search_fields = ("name",)
    readonly_fields = ("status", "stage", "progress_done", "progress_total", "error", "annotations_count",
                       "people_count", "images_count", "skipped", "keypoints_outside", "filter_counts",
                       "created_at", "started_at", "finished_at")  # fmt: skip


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
