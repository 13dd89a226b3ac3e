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
    path("", include("webapp.crowd.urls")),
    path("", include("webapp.benchmarks.urls")),
    path("", include("webapp.regressors.urls")),
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
