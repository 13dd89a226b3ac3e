from django.conf import settings
from django.urls import path

from webapp.core import apis, views
from webapp.core.media import media_serve

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", apis.HealthzApi.as_view(), name="healthz"),
    path("staff/status/", views.status_page, name="status"),
    # Stored files, checked (webapp.core.media); on S3 the app hands out presigned URLs instead.
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media_serve, name="media"),
]
