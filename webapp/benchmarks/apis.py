"""REST API for researchers: benchmarks, versions with their dataset cards, downloads. Public
benchmarks need no account; private ones need a token (``Authorization: Token <key>``) or a
session of a permitted user."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.benchmarks.downloads import json_response
from webapp.benchmarks.models import Benchmark, BenchmarkVersion
from webapp.benchmarks.selectors import benchmark_for, published_versions, version_for, visible_benchmarks


class VersionOutSerializer(serializers.ModelSerializer[BenchmarkVersion]):
    download = serializers.SerializerMethodField(help_text="the JSON file's address")

    class Meta:
        model = BenchmarkVersion
        fields = (
            "number",
            "rule",
            "votes_needed",
            "note",
            "people",
            "sha256",
            "size",
            "card",
            "finished_at",
            "download",
        )

    def get_download(self, version: BenchmarkVersion) -> str:
        return reverse("benchmarks:api-download", args=[version.benchmark.slug, version.number])


class BenchmarkOutSerializer(serializers.ModelSerializer[Benchmark]):
    latest = serializers.SerializerMethodField()

    class Meta:
        model = Benchmark
        fields = ("name", "slug", "description", "private", "latest")

    def get_latest(self, benchmark: Benchmark) -> dict[str, Any] | None:
        version = published_versions(benchmark).first()
        return dict(VersionOutSerializer(version).data) if version is not None else None


class _ResearcherApi(APIView):
    authentication_classes = (TokenAuthentication, SessionAuthentication)
    permission_classes = (permissions.AllowAny,)


class BenchmarkListApi(_ResearcherApi):
    @extend_schema(operation_id="benchmarks_list", responses=BenchmarkOutSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(BenchmarkOutSerializer(visible_benchmarks(request.user), many=True).data)


class BenchmarkDetailApi(_ResearcherApi):
    @extend_schema(operation_id="benchmark_versions_list", responses=VersionOutSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        benchmark = benchmark_for(request.user, slug)
        return Response(VersionOutSerializer(published_versions(benchmark), many=True).data)


class VersionDetailApi(_ResearcherApi):
    @extend_schema(responses=VersionOutSerializer)
    def get(self, request: Request, slug: str, number: int) -> Response:
        return Response(VersionOutSerializer(version_for(request.user, slug, number)).data)


class VersionDownloadApi(_ResearcherApi):
    @extend_schema(responses={(200, "application/json"): OpenApiTypes.BINARY})
    def get(self, request: Request, slug: str, number: int) -> FileResponse:
        return json_response(version_for(request.user, slug, number))


class PublishInSerializer(serializers.Serializer[dict[str, Any]]):
    campaigns = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, help_text="ids of validation campaigns"
    )
    rule = serializers.ChoiceField(
        choices=BenchmarkVersion.Rule.choices, default=BenchmarkVersion.Rule.UNANIMOUS
    )
    votes_needed = serializers.IntegerField(min_value=1, max_value=9, default=3)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class VersionStateSerializer(serializers.ModelSerializer[BenchmarkVersion]):
    class Meta:
        model = BenchmarkVersion
        fields = ("number", "status", "people_done", "people_total", "error", "sha256")


class VersionPublishApi(APIView):
    """Publish a new version (staff): built by a worker; poll the version until it is done."""

    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(request=PublishInSerializer, responses={202: VersionStateSerializer})
    def post(self, request: Request, slug: str) -> Response:
        from django.core.exceptions import ValidationError

        from webapp.benchmarks.services import version_publish_request
        from webapp.crowd.models import Campaign

        incoming = PublishInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        campaigns = list(Campaign.objects.filter(pk__in=data["campaigns"]))
        missing = sorted(set(data["campaigns"]) - {c.pk for c in campaigns})
        if missing:
            return Response({"campaigns": [f"no campaign with id {missing}"]}, status=400)
        try:
            version = version_publish_request(
                benchmark=benchmark_for(request.user, slug), campaigns=campaigns, rule=data["rule"],
                votes_needed=data["votes_needed"], note=data["note"],
            )  # fmt: skip
        except ValidationError as exc:
            return Response(
                exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}, status=400
            )
        return Response(VersionStateSerializer(version).data, status=202)


class VersionStateApi(APIView):
    """A version's state while it is built (staff)."""

    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(responses=VersionStateSerializer)
    def get(self, request: Request, slug: str, number: int) -> Response:
        from django.shortcuts import get_object_or_404

        benchmark = benchmark_for(request.user, slug)
        return Response(VersionStateSerializer(get_object_or_404(benchmark.versions, number=number)).data)
