"""Pages of the core app: home and the staff status page."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webapp.core.selectors import health_report, worker_heartbeats


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@staff_member_required
def status_page(request: HttpRequest) -> HttpResponse:
    refresh = request.GET.get("refresh") in {"1", "true"}
    report = health_report(expose_paths=True, refresh_probe=refresh)
    return render(
        request,
        "core/status.html",
        {"report": report, "checks": report["checks"], "heartbeats": worker_heartbeats()},
    )
