from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from webapp.benchmarks import apis, views

app_name = "benchmarks"

urlpatterns = [
    path("benchmarks/", views.benchmark_list_page, name="list"),
    path("account/api-token/", views.api_token_page, name="token"),
    path("benchmarks/<slug:slug>/", views.benchmark_page, name="detail"),
    path("benchmarks/<slug:slug>/v<int:number>/", views.version_page, name="version"),
    path("benchmarks/<slug:slug>/v<int:number>/download.json", views.version_download, name="download"),
    path("benchmarks/<slug:slug>/v<int:number>/download.zip", views.version_archive, name="archive"),
    path("benchmarks/<slug:slug>/v<int:number>/plots.png", views.version_plot, name="plots"),
    path("benchmarks/<slug:slug>/v<int:number>/retry/", views.version_retry, name="retry"),
    path("api/benchmarks/", apis.BenchmarkListApi.as_view(), name="api-list"),
    # The researchers' API described on its own (public): the staff schema is /api/schema/.
    path(
        "api/benchmarks/schema/",
        SpectacularAPIView.as_view(urlconf="webapp.benchmarks.api_urls", permission_classes=[AllowAny]),
        name="api-schema",
    ),
    path(
        "api/benchmarks/docs/",
        SpectacularSwaggerView.as_view(url_name="benchmarks:api-schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
    path("api/benchmarks/<slug:slug>/versions/", apis.VersionPublishApi.as_view(), name="api-publish"),
    path(
        "api/benchmarks/<slug:slug>/versions/<int:number>/state/",
        apis.VersionStateApi.as_view(),
        name="api-state",
    ),
    path("api/benchmarks/<slug:slug>/", apis.BenchmarkDetailApi.as_view(), name="api-detail"),
    path(
        "api/benchmarks/<slug:slug>/versions/<int:number>/",
        apis.VersionDetailApi.as_view(),
        name="api-version",
    ),
    path(
        "api/benchmarks/<slug:slug>/versions/<int:number>/download/",
        apis.VersionDownloadApi.as_view(),
        name="api-download",
    ),
]
