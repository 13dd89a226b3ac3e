"""REST API of the fits app (staff): start a fit job, follow its progress, read its figures."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fitting.datasets.filters import DEFAULT_FILTER, FILTERS
from webapp.core.models import field_default
from webapp.datasets.models import Dataset
from webapp.fits.models import FitJob
from webapp.fits.selectors import job_list, job_progress, job_summary
from webapp.fits.services import fit_job_config, fit_job_start
from webapp.regressors.models import Regressor


class FitJobProgressSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=FitJob.Status.choices)
    state = serializers.CharField(help_text='the status in words, e.g. "queued (place 2)"')
    queue_place = serializers.IntegerField(allow_null=True, help_text="1 + open jobs ahead; null once taken")
    people_total = serializers.IntegerField()
    people_done = serializers.IntegerField(help_text="fitted so far, people of running chunks included")
    people_failed = serializers.IntegerField()
    percent = serializers.FloatField()
    rate_per_s = serializers.FloatField(help_text="people per second since fitting started")
    eta_s = serializers.IntegerField(allow_null=True)
    renders_done = serializers.IntegerField()
    elapsed_s = serializers.FloatField()
    devices = serializers.ListField(child=serializers.CharField())


class FitJobSummarySerializer(serializers.Serializer[dict[str, Any]]):
    fits = serializers.IntegerField()
    error_mean_px = serializers.FloatField(allow_null=True)
    error_median_px = serializers.FloatField(allow_null=True)
    error_p90_px = serializers.FloatField(allow_null=True)
    iterations_mean = serializers.FloatField(allow_null=True)
    iterations_median = serializers.FloatField(allow_null=True)
    sanity_pass_rate = serializers.FloatField(allow_null=True)


class FitJobOutputSerializer(serializers.Serializer[FitJob]):
    id = serializers.IntegerField()
    dataset = serializers.IntegerField(source="dataset_id")
    method = serializers.CharField()
    filter = serializers.CharField()
    split = serializers.CharField()
    config = serializers.DictField(help_text="the method's options as used (EftConfig / SmplifyConfig)")
    chunk_size = serializers.IntegerField()
    render = serializers.BooleanField()
    regressor = serializers.IntegerField(source="regressor_id", allow_null=True, help_text="registered id")
    created_at = serializers.DateTimeField()
    progress = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    @extend_schema_field(FitJobProgressSerializer)
    def get_progress(self, job: FitJob) -> dict[str, Any]:
        return job_progress(job)

    @extend_schema_field(FitJobSummarySerializer)
    def get_summary(self, job: FitJob) -> dict[str, Any]:
        return job_summary(job)


class FitJobListApi(APIView):
    """GET: progress of the latest 50 jobs (polled by the dashboard). POST: start a job over a
    ready dataset's people; its chunks are queued on the gpu queue (answers 201 with the job)."""

    permission_classes = (permissions.IsAdminUser,)

    class FitJobInputSerializer(serializers.Serializer[dict[str, Any]]):
        dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
        method = serializers.ChoiceField(
            choices=[(m.value, m.label) for m in FitJob.STARTABLE], default=FitJob.Method.EFT
        )
        filter = serializers.ChoiceField(
            choices=[(f.name, f.description) for f in FILTERS.values()], default=DEFAULT_FILTER
        )
        split = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
        config = serializers.DictField(
            required=False, default=dict, help_text='the method\'s options, e.g. {"max_iterations": 100}'
        )
        chunk_size = serializers.IntegerField(
            min_value=1, max_value=4096, default=field_default(FitJob, "chunk_size")
        )
        render = serializers.BooleanField(default=True)
        regressor = serializers.PrimaryKeyRelatedField(
            queryset=Regressor.objects.all(), required=False, allow_null=True, default=None,
            help_text="a registered regressor's id (default: the configured one)",
        )  # fmt: skip

    @extend_schema(responses=FitJobProgressSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([job_progress(job) for job in job_list()[:50]])

    @extend_schema(request=FitJobInputSerializer, responses={201: FitJobOutputSerializer})
    def post(self, request: Request) -> Response:
        given = self.FitJobInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            job = fit_job_start(
                dataset=data["dataset"], method=data["method"], filter_name=data["filter"],
                split=data["split"], config=fit_job_config(method=data["method"], options=data["config"]),
                chunk_size=data["chunk_size"], render=data["render"], regressor=data["regressor"],
            )  # fmt: skip
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            return Response(detail, status=status.HTTP_400_BAD_REQUEST)
        return Response(FitJobOutputSerializer(job).data, status=status.HTTP_201_CREATED)


class FitJobDetailSerializer(FitJobProgressSerializer):
    summary = FitJobSummarySerializer()
    job = FitJobOutputSerializer()


class FitJobDetailApi(APIView):
    """One job: its progress (the fields polled by the job page), its figures and the job."""

    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(responses=FitJobDetailSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(FitJob.objects.select_related("dataset"), pk=job_id)
        return Response(
            {**job_progress(job), "summary": job_summary(job), "job": FitJobOutputSerializer(job).data}
        )
