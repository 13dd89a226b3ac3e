from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAdminUser

admin.site.site_header = "EFT crowd administration"
admin.site.site_title = "EFT crowd"

urlpatterns = [
    path("", include("webapp.core.urls")),
    path("", include("webapp.datasets.urls")),
    path("", include("webapp.fits.urls")),
    path("admin/", admin.site.urls),
    # Staff pages, as the README says: the schema names every staff operation.
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[IsAdminUser]), name="api-schema"),
    path(
        "api/docs/",
        staff_member_required(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
]

if settings.MEDIA_STORAGE == "local":
    from django.views.static import serve

    # Local media (renders, images) through Django: fine for the embedded profile;
    # production uses S3 or a front server.
    urlpatterns += [
        path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})
    ]
