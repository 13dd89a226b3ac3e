from django.urls import path

from webapp.core import apis, views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", apis.HealthzApi.as_view(), name="healthz"),
    path("staff/status/", views.status_page, name="status"),
]
