"""The responses that hand a published version's files out (pages and API alike), streamed."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse

from webapp.benchmarks.models import BenchmarkVersion


def json_response(version: BenchmarkVersion) -> FileResponse:
    """The version's JSON file as an attachment, with its SHA-256 as ETag."""
    response = FileResponse(
        default_storage.open(version.file.name, "rb"), as_attachment=True,
        filename=version.download_name, content_type="application/json",
    )  # fmt: skip
    response["ETag"] = f'"{version.sha256}"'
    response["X-Content-SHA256"] = version.sha256
    return response


def archive_response(version: BenchmarkVersion) -> FileResponse:
    """The version's zip: the JSON, its dataset card (CARD.md), plots and the body files."""
    return FileResponse(
        default_storage.open(version.archive.name, "rb"), as_attachment=True,
        filename=version.download_name.removesuffix(".json") + ".zip", content_type="application/zip",
    )  # fmt: skip
