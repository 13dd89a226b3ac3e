"""Checked media: every kind of stored file (dataset image, upload, render) is refused to
anonymous visitors, signed-in non-staff users, stretched, tampered and expired addresses, and
served to staff and to the holder of a valid signed address; deletes leave no file behind."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image as PILImage

from webapp.core.media import media_url

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery-staple"


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def files(settings: Any, tmp_path: Path) -> dict[str, str]:
    settings.MEDIA_ROOT = tmp_path / "media"
    return {
        "dataset image": default_storage.save("datasets/7/images/000.jpg", ContentFile(_jpeg())),
        "upload": default_storage.save("uploads/coco.zip", ContentFile(b"PK\x05\x06" + bytes(18))),
        "render": default_storage.save("datasets/7/renders/job-3/11-camera.jpg", ContentFile(_jpeg())),
    }


@pytest.fixture
def staff() -> Client:
    get_user_model().objects.create_user("boss", password=PASSWORD, is_staff=True)
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    return client


@pytest.fixture
def worker() -> Client:
    get_user_model().objects.create_user("worker", password=PASSWORD)
    client = Client()
    assert client.login(username="worker", password=PASSWORD)
    return client


KINDS = ["dataset image", "upload", "render"]


@pytest.mark.parametrize("kind", KINDS)
def test_only_staff_see_a_plain_address(
    kind: str, files: dict[str, str], staff: Client, worker: Client
) -> None:
    url = media_url(files[kind])
    assert url == f"/media/{files[kind]}"
    assert Client().get(url).status_code == 403  # anonymous
    assert worker.get(url).status_code == 403  # signed in, not staff
    answer = staff.get(url)
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == default_storage.open(files[kind]).read()  # type: ignore[attr-defined]
    assert answer["Cache-Control"] == "private, max-age=300"
    if kind == "upload":
        assert answer["Content-Disposition"] == 'attachment; filename="coco.zip"'


@pytest.mark.parametrize("kind", KINDS)
def test_a_signed_address_opens_one_file_until_it_expires(kind: str, files: dict[str, str]) -> None:
    url = media_url(files[kind], expires=60)
    assert Client().get(url).status_code == 200  # no session needed
    other = next(name for k, name in files.items() if k != kind)
    stolen = url.replace(files[kind], other)  # the token of one file does not open another
    assert Client().get(stolen).status_code == 403
    stretched = url.replace("expires=60", "expires=86400")  # the lifetime is signed
    assert Client().get(stretched).status_code == 403
    tampered = url.replace("token=", "token=1")
    assert Client().get(tampered).status_code == 403


def test_an_expired_address_is_refused(files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = media_url(files["render"], expires=30)
    assert Client().get(url).status_code == 200
    later = time.time() + 31
    monkeypatch.setattr(time, "time", lambda: later)  # the signer reads the clock through time.time
    assert Client().get(url).status_code == 403


def test_paths_outside_storage_and_missing_files(staff: Client, files: dict[str, str]) -> None:
    assert staff.get("/media/../settings.py").status_code == 404
    assert staff.get("/media/datasets/7/images/none.jpg").status_code == 404
    with pytest.raises(ValueError, match=r"expires must be 1\.\.86400 s, got 0"):
        media_url(files["render"], expires=0)


def test_the_web_server_can_send_the_bytes(staff: Client, files: dict[str, str], settings: Any) -> None:
    settings.MEDIA_SENDFILE = "X-Accel-Redirect"
    answer = staff.get(media_url(files["render"]))
    assert answer.status_code == 200
    assert answer["X-Accel-Redirect"] == f"/protected-media/{files['render']}"
    assert answer.content == b""
    settings.MEDIA_SENDFILE = "X-Sendfile"
    assert staff.get(media_url(files["render"]))["X-Sendfile"] == str(
        Path(settings.MEDIA_ROOT) / files["render"]
    )
