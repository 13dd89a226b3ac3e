"""REST API of the fits app (staff): job progress for the live dashboard."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.fits.models import FitJob
from webapp.fits.selectors import job_list, job_progress


class FitJobListApi(APIView):
    """Progress of the latest jobs: done / total, failures, rate, ETA (polled by the dashboard)."""

    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        return Response([job_progress(job) for job in job_list()[:50]])


class FitJobDetailApi(APIView):
    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(responses=dict)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(job_progress(get_object_or_404(FitJob, pk=job_id)))
