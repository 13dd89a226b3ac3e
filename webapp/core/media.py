"""Checked access to stored files (dataset images, uploads, renders): nothing in media storage
is public.

Who may read a file:

- staff: every file;
- anyone holding a signed address for that one file (``media_url(name, expires=...)``), until it
  expires: how a crowd worker will see the pictures of the assignment it holds;
- nobody else (403).

Local storage is served by ``media_serve`` (with the web server's ``X-Accel-Redirect`` or
``X-Sendfile`` when ``MEDIA_SENDFILE`` names one); S3 answers presigned, expiring URLs itself.
Every file derived from a dataset lives under ``datasets/<id>/`` (images, then
``renders/job-<id>/`` and ``renders/ab/``), so deleting the folder deletes them all.
"""

from __future__ import annotations

import mimetypes
import posixpath
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse

_SALT = "webapp.core.media"


def dataset_folder(dataset_id: int) -> str:
    return f"datasets/{dataset_id}"


def job_render_folder(dataset_id: int, job_id: int) -> str:
    return f"{dataset_folder(dataset_id)}/renders/job-{job_id}"


def _clean(name: str) -> str:
    normal = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
    if normal in ("", ".") or normal.startswith("..") or "/../" in f"/{normal}/":
        raise Http404("no such file")
    return normal


def _signature(name: str, expires: int) -> str:
    """``timestamp:signature`` of the file's name and lifetime (both travel in the address: the
    lifetime is signed, so an address cannot be stretched)."""
    return signing.TimestampSigner(salt=_SALT).sign(f"{name}|{expires}").split(":", 1)[1]


def signature_valid(name: str, token: str, expires: int) -> bool:
    try:
        signing.TimestampSigner(salt=_SALT).unsign(f"{name}|{expires}:{token}", max_age=expires)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return False
    return True


def media_url(name: str, *, expires: int | None = None) -> str:
    """The address of a stored file. Without ``expires`` it is for staff (their session is
    checked); with it, a signed address anyone holding it may use for ``expires`` seconds. On S3
    both are presigned URLs that expire (``expires`` or AWS_QUERYSTRING_EXPIRE)."""
    if not name:
        return ""
    if settings.MEDIA_STORAGE == "s3":
        return str(default_storage.url(name, expire=expires or settings.AWS_QUERYSTRING_EXPIRE))  # type: ignore[call-arg]
    url = reverse("core:media", kwargs={"path": name})
    if expires is None:
        return url
    if not 0 < expires <= settings.MEDIA_SIGNED_MAX_SECONDS:
        raise ValueError(f"expires must be 1..{settings.MEDIA_SIGNED_MAX_SECONDS} s, got {expires}")
    return f"{url}?{urlencode({'token': _signature(name, expires), 'expires': expires})}"


def media_serve(request: HttpRequest, path: str) -> HttpResponse | FileResponse:
    """A stored file, to staff or to the holder of a valid signed address (local storage)."""
    name = _clean(path)
    allowed = bool(request.user.is_authenticated and request.user.is_staff)
    if not allowed and "token" in request.GET:
        try:
            expires = int(request.GET.get("expires", "0"))
        except ValueError:
            expires = 0
        allowed = 0 < expires <= settings.MEDIA_SIGNED_MAX_SECONDS and signature_valid(
            name, request.GET["token"], expires
        )
    if not allowed:
        return HttpResponseForbidden(
            "this file is not yours to see (sign in as staff, or the address expired)"
        )
    if not default_storage.exists(name):
        raise Http404("no such file")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    header = settings.MEDIA_SENDFILE
    response: HttpResponse | FileResponse
    if header == "X-Accel-Redirect":
        response = HttpResponse(content_type=kind)
        response["X-Accel-Redirect"] = f"{settings.MEDIA_SENDFILE_PREFIX.rstrip('/')}/{quote(name)}"
    elif header == "X-Sendfile":
        response = HttpResponse(content_type=kind)
        response["X-Sendfile"] = default_storage.path(name)
    else:
        response = FileResponse(default_storage.open(name, "rb"), content_type=kind)
    if not kind.startswith("image/"):
        response["Content-Disposition"] = f'attachment; filename="{posixpath.basename(name)}"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def delete_folder(folder: str) -> int:
    """Delete every stored file under ``folder`` (any depth); returns how many."""
    count = 0
    try:
        folders, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in files:
        default_storage.delete(f"{folder}/{name}")
        count += 1
    for name in folders:
        count += delete_folder(f"{folder}/{name}")
    return count
