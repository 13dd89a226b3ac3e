from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = "EFT crowd administration"
admin.site.site_title = "EFT crowd"

urlpatterns = [
    path("", include("webapp.core.urls")),
    path("", include("webapp.datasets.urls")),
    path("", include("webapp.fits.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

if settings.MEDIA_STORAGE == "local":
    from django.views.static import serve

    # Local media (renders, images) through Django: fine for the embedded profile;
    # production uses S3 or a front server.
    urlpatterns += [
        path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})
    ]
