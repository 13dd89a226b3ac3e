"""The health endpoint: JSON for load balancers, monitors and the status page."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core.selectors import health_report


class HealthzApi(APIView):
    """State of database, broker, worker, renderer, torch device, body model and regressor.

    503 when the database or the broker is down; otherwise 200 with `status` ok or degraded.
    `?refresh=1` (staff only) re-runs the host probe instead of using its cached answer.
    """

    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        parameters=[OpenApiParameter("refresh", bool, description="re-probe renderer and torch (staff)")],
        responses={200: dict, 503: dict},
    )
    def get(self, request: Request) -> Response:
        is_staff = bool(request.user and request.user.is_staff)
        refresh = is_staff and request.query_params.get("refresh") in {"1", "true"}
        report = health_report(expose_paths=is_staff, refresh_probe=refresh)
        code = status.HTTP_503_SERVICE_UNAVAILABLE if report["status"] == "error" else status.HTTP_200_OK
        return Response(report, status=code)
