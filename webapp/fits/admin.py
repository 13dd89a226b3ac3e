from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from webapp.fits.models import Fit, FitChunk, FitJob
from webapp.fits.services import fit_job_delete


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

    def delete_model(self, request: HttpRequest, obj: FitJob) -> None:
        fit_job_delete(job=obj)  # rows and every file made for the job

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FitJob]) -> None:
        for job in queryset:
            fit_job_delete(job=job)


@admin.register(FitChunk)
class FitChunkAdmin(admin.ModelAdmin[FitChunk]):
    list_display = ("job", "index", "status", "attempts", "worker", "seconds")
    list_filter = ("status",)


@admin.register(Fit)
class FitAdmin(admin.ModelAdmin[Fit]):
    list_display = ("job", "person", "mean_error_px", "iterations", "sanity_ok")
    list_filter = ("job", "sanity_ok")
    raw_id_fields = ("person",)
