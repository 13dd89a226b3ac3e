"""Where an import's files come from: an uploaded zip, a folder on the server, an S3 prefix.

``check_source`` refuses a request that cannot work before anything is stored (a file that is
not a zip, a folder outside the import roots, a malformed S3 location); ``store_source`` keeps an
upload in media storage; ``source_root`` gives an import worker the folder to read, unpacking a
zip or copying an S3 prefix under the same limits.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from webapp.datasets.models import Dataset


class DatasetImportError(ValueError):
    """An import that cannot proceed; the message says what is wrong and where."""


@dataclass(frozen=True)
class SourceRequest:
    """Exactly one of: an uploaded zip (a file object with a name), a server folder, an S3 prefix."""

    archive: Any = None
    server_folder: str = ""
    s3_prefix: str = ""

    @property
    def kind(self) -> str:
        if self.archive:
            return Dataset.Source.UPLOAD
        return Dataset.Source.S3 if self.s3_prefix else Dataset.Source.SERVER


def _listing(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit]) or "nothing"
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _has(names: list[str], path: str) -> bool:
    """``path`` is one of the files, or a folder holding some of them."""
    wanted = path.strip("/")
    return not wanted or any(n == wanted or n.startswith(wanted + "/") for n in names)


def _check_paths(where: str, names: list[str], annotation_path: str, images_path: str) -> None:
    """The annotation file (or folder) and the image folder are where the request says."""
    if annotation_path and not _has(names, annotation_path):
        raise DatasetImportError(
            f"{where} has no {annotation_path!r} (the annotation path); it holds: {_listing(names)}"
        )
    if images_path and not _has(names, images_path):
        raise DatasetImportError(
            f"{where} has no folder {images_path!r} (the images path); it holds: {_listing(names)}"
        )


def check_source(source: SourceRequest, annotation_path: str = "", images_path: str = "") -> None:
    """Refuse, before anything is stored or queued, a source that cannot be imported: not exactly
    one source, a file that is not a zip or an empty one, a folder outside the import roots, a
    malformed S3 location, or an annotation file / image folder that is not in the zip or folder
    (the message lists what it holds)."""
    given = [bool(source.archive), bool(source.server_folder), bool(source.s3_prefix)]
    if sum(given) != 1:
        raise DatasetImportError("give exactly one source: a zip, a server folder or an S3 prefix")
    if source.archive:
        name = Path(getattr(source.archive, "name", "") or "upload.zip").name
        if getattr(source.archive, "size", None) == 0:
            raise DatasetImportError(f"{name} is empty (0 bytes)")
        position = source.archive.tell() if hasattr(source.archive, "tell") else 0
        try:
            if not zipfile.is_zipfile(source.archive):
                raise DatasetImportError(f"{name} is not a zip file")
            source.archive.seek(0)
            with zipfile.ZipFile(source.archive) as archive:
                names = sorted(i.filename for i in archive.infolist() if not i.is_dir())
        except zipfile.BadZipFile as exc:
            raise DatasetImportError(f"{name} is not a readable zip file ({exc})") from exc
        finally:
            source.archive.seek(position)
        if not names:
            raise DatasetImportError(f"{name} is an empty zip (it holds no file)")
        _check_paths(name, names, annotation_path, images_path)
    elif source.s3_prefix:
        parse_s3_location(source.s3_prefix)
    else:
        folder = Path(source.server_folder)
        if not folder.is_absolute():
            raise DatasetImportError("the server folder must be an absolute path")
        if not inside_roots(folder, settings.DATASET_IMPORT_ROOTS):
            roots = ", ".join(str(r) for r in settings.DATASET_IMPORT_ROOTS)
            raise DatasetImportError(f"{folder} is outside the import roots ({roots})")
        if not folder.is_dir():
            raise DatasetImportError(f"{folder} is not a folder")
        for path, what in ((annotation_path, "the annotation path"), (images_path, "the images path")):
            if path and not (folder / path).exists():
                entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
                raise DatasetImportError(f"{folder} has no {path!r} ({what}); it holds: {_listing(entries)}")


def store_source(source: SourceRequest) -> str:
    """The location an import reads: an upload is saved in media storage (``uploads/``), a folder
    or prefix is its own location."""
    if source.archive:
        name = Path(getattr(source.archive, "name", "") or "upload.zip").name
        return default_storage.save(f"uploads/{name}", source.archive)
    return str(source.s3_prefix or source.server_folder)


def inside_roots(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == root or root in resolved.parents for root in roots)


def source_root(dataset: Dataset, work: Path) -> Path:
    """The folder the dataset's annotation and image paths are relative to: the server folder
    itself, or a copy of the zip / S3 prefix unpacked into ``work`` (checked against the limits)."""
    from fitting.datasets.archive import ArchiveLimits, extract_archive

    if dataset.source_kind == Dataset.Source.SERVER:
        return Path(dataset.source_location)
    if dataset.source_kind == Dataset.Source.UPLOAD:
        limits = ArchiveLimits(
            max_entries=settings.DATASET_ZIP_MAX_ENTRIES,
            max_total_bytes=settings.DATASET_ZIP_MAX_BYTES,
            max_ratio=settings.DATASET_ZIP_MAX_RATIO,
        )
        local = work / "upload.zip"
        with default_storage.open(dataset.source_location, "rb") as source, local.open("wb") as out:
            shutil.copyfileobj(source, out)
        return extract_archive(local, work / "source", limits)
    if dataset.source_kind == Dataset.Source.S3:
        return download_s3_prefix(dataset.source_location, work / "source")
    raise DatasetImportError(f"source kind {dataset.source_kind!r} is not supported")


def s3_client() -> Any:
    """A boto3 S3 client from the environment (AWS_* credentials; AWS_S3_ENDPOINT_URL for
    S3-compatible stores)."""
    import os

    import boto3

    return boto3.client(
        "s3",
        region_name=os.environ.get("AWS_S3_REGION_NAME") or None,
        endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
    )


def parse_s3_location(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix ending in '/' or empty)."""
    if not location.startswith("s3://"):
        raise DatasetImportError(f"{location!r} is not an s3://bucket/prefix location")
    bucket, _, prefix = location[5:].partition("/")
    if not bucket:
        raise DatasetImportError(f"{location!r} names no bucket")
    return bucket, (prefix.rstrip("/") + "/") if prefix else ""


def download_s3_prefix(location: str, target: Path) -> Path:
    """Copy every object under an S3 prefix into ``target`` (same limits as a zip upload)."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_location(location)
    client = s3_client()
    target.mkdir(parents=True, exist_ok=False)
    count = total = 0
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                relative = key[len(prefix) :]
                if not relative or relative.endswith("/"):
                    continue
                parts = Path(relative).parts
                if Path(relative).is_absolute() or ".." in parts:
                    raise DatasetImportError(f"{location}: object key {key!r} points outside the prefix")
                count += 1
                total += int(item.get("Size", 0))
                if count > settings.DATASET_ZIP_MAX_ENTRIES:
                    raise DatasetImportError(
                        f"{location}: more than {settings.DATASET_ZIP_MAX_ENTRIES} objects under the prefix"
                    )
                if total > settings.DATASET_ZIP_MAX_BYTES:
                    raise DatasetImportError(f"{location}: more than {settings.DATASET_ZIP_MAX_BYTES} bytes")
                destination = target.joinpath(*parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                body = client.get_object(Bucket=bucket, Key=key)["Body"]
                with destination.open("wb") as out:
                    shutil.copyfileobj(body, out)
    except (BotoCoreError, ClientError) as exc:
        raise DatasetImportError(f"{location}: S3 error ({exc})") from exc
    if count == 0:
        raise DatasetImportError(f"{location}: no objects under this prefix")
    return target


@dataclass(frozen=True)
class ImageFacts:
    width: int
    height: int
    sha256: str
    bytes: int


def inspect_image(path: Path) -> ImageFacts:
    """Size, checksum and byte count of a JPEG or PNG; raises DatasetImportError naming the file."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetImportError(f"image {path} is missing") from None
    except OSError as exc:
        raise DatasetImportError(f"image {path} cannot be read ({exc.strerror})") from exc

    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            kind = picture.format
            width, height = picture.size
            if kind not in ("JPEG", "PNG"):
                raise DatasetImportError(f"image {path} is {kind}, not JPEG or PNG")
            if kind == "JPEG":
                picture.draft("RGB", (max(width // 8, 1), max(height // 8, 1)))  # decode at 1/8: fast
            picture.load()  # a truncated or corrupt file fails here
    except UnidentifiedImageError:
        raise DatasetImportError(f"image {path} is not an image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, DatasetImportError):
            raise
        raise DatasetImportError(f"image {path} is corrupt ({exc})") from exc
    return ImageFacts(width, height, hashlib.sha256(data).hexdigest(), len(data))
