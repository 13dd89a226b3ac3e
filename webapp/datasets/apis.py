"""REST API of the datasets app (staff): start an import, follow it, read the result."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.datasets.models import Dataset
from webapp.datasets.selectors import dataset_list
from webapp.datasets.services import dataset_import_request
from webapp.datasets.sources import SourceRequest


class DatasetOutputSerializer(serializers.ModelSerializer[Dataset]):
    progress_percent = serializers.FloatField(read_only=True)
    state = serializers.CharField(read_only=True, help_text="importing, ready, failed ... (status in words)")
    started_at = serializers.DateTimeField(source="claimed_at", read_only=True)

    class Meta:
        model = Dataset
        fields = ("id", "name", "source_format", "split", "source_kind", "status", "state", "stage",
                  "progress_done", "progress_total", "progress_percent", "error", "annotations_count",
                  "people_count", "images_count", "skipped", "keypoints_outside", "filter_counts",
                  "split_preset", "split_counts", "created_at", "started_at", "attempts",
                  "finished_at")  # fmt: skip


class DatasetListCreateApi(APIView):
    """GET: every dataset with its import state. POST: start an import from an uploaded zip
    (multipart field ``archive``), a server folder (``server_folder``) or an S3 prefix
    (``s3_prefix``, ``s3://bucket/prefix``); answers 201 with the
    pending dataset, whose import runs on a worker (poll ``/api/datasets/<id>/``)."""

    permission_classes = (permissions.IsAdminUser,)
    parser_classes = (MultiPartParser, FormParser, JSONParser)

    class DatasetInputSerializer(serializers.Serializer[dict[str, Any]]):
        name = serializers.CharField(max_length=200)
        source_format = serializers.ChoiceField(choices=Dataset.Format.choices)
        split = serializers.CharField(max_length=32, required=False, default="")
        licence = serializers.CharField(required=False, default="")
        annotation_path = serializers.CharField(max_length=500)
        images_path = serializers.CharField(max_length=500, required=False, default="")
        outside_policy = serializers.ChoiceField(choices=Dataset.OutsidePolicy.choices, default="keep")
        split_preset = serializers.ChoiceField(choices=Dataset.SplitPreset.choices, default="file")
        split_seed = serializers.IntegerField(default=0)
        split_test_fraction = serializers.FloatField(default=0.2)
        archive = serializers.FileField(required=False)
        server_folder = serializers.CharField(max_length=1000, required=False)
        s3_prefix = serializers.CharField(max_length=1000, required=False, help_text="s3://bucket/prefix")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            given = [k for k in ("archive", "server_folder", "s3_prefix") if attrs.get(k)]
            if len(given) != 1:
                raise serializers.ValidationError(
                    "give exactly one of archive (zip), server_folder, s3_prefix"
                )
            return attrs

    @extend_schema(responses=DatasetOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(DatasetOutputSerializer(dataset_list(), many=True).data)

    @extend_schema(request=DatasetInputSerializer, responses={201: DatasetOutputSerializer})
    def post(self, request: Request) -> Response:
        given = self.DatasetInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = dict(given.validated_data)
        source = SourceRequest(
            archive=data.pop("archive", None),
            server_folder=data.pop("server_folder", ""),
            s3_prefix=data.pop("s3_prefix", ""),
        )
        try:
            dataset = dataset_import_request(source=source, **data)
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            return Response(detail, status=status.HTTP_400_BAD_REQUEST)
        return Response(DatasetOutputSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailApi(APIView):
    """One dataset: import state and progress, counts, filter statistics."""

    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(responses=DatasetOutputSerializer)
    def get(self, request: Request, dataset_id: int) -> Response:
        return Response(DatasetOutputSerializer(get_object_or_404(Dataset, pk=dataset_id)).data)
