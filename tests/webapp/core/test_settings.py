"""Settings refuse unsafe or contradictory configurations at start-up, with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load_settings(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "SECRET", "MTURK", "MEDIA"))}
    env.update({"EFT_ENV_FILE": "none", "DATA_DIR": str(tmp_path), **overrides})
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.MTURK_ENDPOINT_URL or '-',"
        " s.STORAGES['default']['BACKEND'], s.DATABASES['default']['CONN_MAX_AGE'],"
        " s.DATABASES['default']['CONN_HEALTH_CHECKS'])"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    proc = load_settings(tmp_path)
    assert proc.returncode != 0
    assert "SECRET_KEY is not set" in proc.stderr


def test_weak_secret_key_is_refused(tmp_path: Path) -> None:
    proc = load_settings(tmp_path, SECRET_KEY="short")
    assert proc.returncode != 0
    assert "too weak" in proc.stderr


def test_debug_makes_a_random_key_and_embedded_defaults(tmp_path: Path) -> None:
    proc = load_settings(tmp_path, DJANGO_DEBUG="true")
    assert proc.returncode == 0, proc.stderr
    engine, broker, mturk, storage = proc.stdout.split()[:4]
    assert storage == "django.core.files.storage.FileSystemStorage"
    assert engine == "django.db.backends.sqlite3"
    assert broker.startswith("filesystem://")
    assert mturk == "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
    assert (tmp_path / "broker" / "queue").is_dir()


def test_database_url_selects_postgresql(tmp_path: Path) -> None:
    proc = load_settings(tmp_path, DJANGO_DEBUG="true", DATABASE_URL="postgres://u:p@db.example:5433/eft")
    assert proc.returncode == 0, proc.stderr
    engine, *_, kept, checked = proc.stdout.split()
    assert engine == "django.db.backends.postgresql"
    # Connections are kept between requests, and checked before a request uses one.
    assert (kept, checked) == ("60", "True")
    proc = load_settings(
        tmp_path,
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://u:p@db.example:5433/eft",
        DATABASE_CONN_MAX_AGE="0",
    )
    assert proc.stdout.split()[-2] == "0"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MTURK_ENABLED": "true"}, "MTURK_EXTERNAL_BASE_URL"),
        ({"MTURK_ENABLED": "true", "MTURK_EXTERNAL_BASE_URL": "http://plain.example"}, "https://"),
        ({"MEDIA_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME"),
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE='ftp'"),
        ({"DJANGO_DEBUG": "perhaps"}, "DJANGO_DEBUG='perhaps' is not a boolean"),
    ],
)
def test_bad_configuration_names_the_setting(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    proc = load_settings(tmp_path, SECRET_KEY="x" * 40, **overrides)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_mturk_endpoint_is_the_sandbox_s_whatever_the_default_flag(tmp_path: Path) -> None:
    # Each campaign's sandbox flag picks the address: MTURK_ENDPOINT_URL (the sandbox's) for
    # sandbox campaigns, boto3's default (production) otherwise (webapp.crowd.mturk.mturk_client).
    proc = load_settings(
        tmp_path,
        SECRET_KEY="x" * 40,
        MTURK_ENABLED="true",
        MTURK_SANDBOX="false",
        MTURK_EXTERNAL_BASE_URL="https://eft.example.org",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[2] == "https://mturk-requester-sandbox.us-east-1.amazonaws.com"


def test_s3_media_through_django_storages(tmp_path: Path) -> None:
    proc = load_settings(
        tmp_path, SECRET_KEY="x" * 40, MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="eft-media"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[3] == "storages.backends.s3.S3Storage"
