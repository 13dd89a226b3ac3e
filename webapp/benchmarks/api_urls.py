"""The researchers' endpoints alone, for their public OpenAPI schema (api/benchmarks/schema/)."""

from django.urls import path

from webapp.benchmarks import apis

urlpatterns = [
    path("api/benchmarks/", apis.BenchmarkListApi.as_view()),
    path("api/benchmarks/<slug:slug>/", apis.BenchmarkDetailApi.as_view()),
    path("api/benchmarks/<slug:slug>/versions/<int:number>/", apis.VersionDetailApi.as_view()),
    path("api/benchmarks/<slug:slug>/versions/<int:number>/download/", apis.VersionDownloadApi.as_view()),
]
