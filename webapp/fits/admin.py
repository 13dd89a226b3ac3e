from django.contrib import admin

from webapp.fits.models import Fit, FitChunk, FitJob


@admin.register(FitJob)
class FitJobAdmin(admin.ModelAdmin[FitJob]):
    list_display = (
        "id",
        "dataset",
        "method",
        "filter",
        "status",
        "people_done",
        "people_failed",
        "people_total",
    )
    list_filter = ("status", "method")
    readonly_fields = ("people_total", "people_done", "people_failed", "created_at", "finished_at")


@admin.register(FitChunk)
class FitChunkAdmin(admin.ModelAdmin[FitChunk]):
    list_display = ("job", "index", "status", "attempts", "worker", "seconds")
    list_filter = ("status",)


@admin.register(Fit)
class FitAdmin(admin.ModelAdmin[Fit]):
    list_display = ("job", "person", "mean_error_px", "iterations", "sanity_ok")
    list_filter = ("job", "sanity_ok")
    raw_id_fields = ("person",)
