from django.contrib import admin

from webapp.benchmarks.models import Benchmark, BenchmarkVersion


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin[Benchmark]):
    list_display = ("name", "slug", "private", "created_at")
    prepopulated_fields = {"slug": ("name",)}  # noqa: RUF012
    filter_horizontal = ("readers",)


@admin.register(BenchmarkVersion)
class BenchmarkVersionAdmin(admin.ModelAdmin[BenchmarkVersion]):
    list_display = ("benchmark", "number", "rule", "status", "people", "sha256", "created_at")
    readonly_fields = ("file", "sha256", "size", "people", "card", "status", "error")
