"""Django settings: every value comes from the environment, with an embedded default.

Profiles (see README.md):
- embedded default: SQLite file, filesystem broker consumed by a real worker, local media;
- production: PostgreSQL (DATABASE_URL), Redis (CELERY_BROKER_URL), S3 media, MTurk.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from webapp.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_path,
    env_str,
    load_dotenv,
)

# Lets runtime code subscript generic classes the way the type stubs do (ModelAdmin[Model]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
_env_file = env_str("EFT_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file.lower() != "none":
    load_dotenv(Path(_env_file))

DATA_DIR = (env_path("DATA_DIR") or BASE_DIR / "data").resolve()

# --- core ---------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(`make run` writes one), or set DJANGO_DEBUG=true for a throwaway random key."
        )
    SECRET_KEY = secrets.token_urlsafe(50)
elif not DEBUG and (len(SECRET_KEY) < 32 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY is too weak for DJANGO_DEBUG=false: use 32+ random characters.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a proxy that sets X-Forwarded-For: count sign-in failures per real client address.
USE_X_FORWARDED_FOR = env_bool("USE_X_FORWARDED_FOR", False)
# How many proxies in front of the app append to X-Forwarded-For (read only with the above).
TRUSTED_PROXIES = max(1, env_int("TRUSTED_PROXIES", 1))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "webapp.core",
    "webapp.datasets",
    "webapp.fits",
    "webapp.crowd",
    "webapp.benchmarks",
    "webapp.regressors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
# Connections are kept between requests (DATABASE_CONN_MAX_AGE seconds; 0 closes each one at the
# end of its request): a new PostgreSQL connection costs a server process and several round trips
# on every request, which under a crowd's votes was most of their time (bench/REPORT.md). A kept
# connection is checked before each request's first query (CONN_HEALTH_CHECKS): a restarted
# database costs no failed request.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server and worker write the same file: wait for the lock instead of failing,
    # and take the write lock at BEGIN so a read-then-write transaction cannot deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# Every password check (sign-in form, API basic authentication) is throttled per username and
# client address: after this many failures within the window, that pair waits for the window.
AUTHENTICATION_BACKENDS = ["webapp.core.auth.ThrottledModelBackend"]
LOGIN_FAILURES_ALLOWED = env_int("LOGIN_FAILURES_ALLOWED", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)

# Shared by every web process (the sign-in failure counts live here): files under DATA_DIR on the
# embedded default, Redis (CACHE_URL=redis://host:6379/1) in production.
_cache_url = env_str("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
    if _cache_url.startswith(("redis://", "rediss://"))
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static and media ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the app folders directly too, so a fresh checkout works before collectstatic.
WHITENOISE_USE_FINDERS = True

MEDIA_STORAGE = env_str("MEDIA_STORAGE", "local")
MEDIA_ROOT = (env_path("MEDIA_ROOT") or DATA_DIR / "media").resolve()
MEDIA_URL = env_str("MEDIA_URL", "/media/")
# Nothing stored is public (webapp.core.media): staff, or a signed address for one file that
# expires (at most this long). S3 answers presigned URLs valid AWS_QUERYSTRING_EXPIRE seconds.
MEDIA_SIGNED_MAX_SECONDS = env_int("MEDIA_SIGNED_MAX_SECONDS", 86_400)
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 900)
# Local storage behind nginx or Apache: let the web server send the bytes once Django has said
# yes. "X-Accel-Redirect" (nginx: an internal location at MEDIA_SENDFILE_PREFIX aliased to
# MEDIA_ROOT) or "X-Sendfile" (Apache mod_xsendfile); empty: Django streams the file.
MEDIA_SENDFILE = env_str("MEDIA_SENDFILE", "")
MEDIA_SENDFILE_PREFIX = env_str("MEDIA_SENDFILE_PREFIX", "/protected-media/")
if MEDIA_SENDFILE not in ("", "X-Accel-Redirect", "X-Sendfile"):
    raise ImproperlyConfigured(
        f"MEDIA_SENDFILE={MEDIA_SENDFILE!r}: expected X-Accel-Redirect, X-Sendfile or empty"
    )
if MEDIA_STORAGE == "local":
    _default_storage: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "location": env_str("AWS_LOCATION", "media"),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": AWS_QUERYSTRING_EXPIRE,
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE={MEDIA_STORAGE!r}: expected 'local' or 's3'")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Celery -------------------------------------------------------------------------------
# Default: kombu's filesystem transport, a broker without a server that a real worker
# process consumes (the embedded profile). Production: redis://...
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
BROKER_DIR = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.25,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
# Eager execution runs tasks inline with no worker: for unit tests only.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Fitting runs on GPU hosts (`-Q gpu`), rendering on the `render` queue, the rest on `celery`.
CELERY_TASK_ROUTES = {
    "tasks.fits.*": {"queue": "gpu"},
    "tasks.renders.*": {"queue": "render"},
    "tasks.regressors.*": {"queue": "gpu"},  # a checkpoint's check loads it with torch
}
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "tasks.core.worker_heartbeat", "schedule": 60.0},
    "stale-work-sweeper": {"task": "tasks.sweep.sweep_stale_work", "schedule": 60.0},
    # MTurk assignments and worker blocks (does nothing unless MTURK_ENABLED).
    "crowd-mturk-sync": {"task": "tasks.crowd.sync_mturk_campaigns", "schedule": 120.0},
    "crowd-assignments-expire": {"task": "tasks.crowd.expire_assignments", "schedule": 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- fitting engine -----------------------------------------------------------------------
EFT_BODY_MODEL_PATH = env_path("EFT_BODY_MODEL_PATH")  # None: the open body shipped in fitting/
EFT_J_REGRESSOR_EXTRA_PATH = env_path("EFT_J_REGRESSOR_EXTRA_PATH")
EFT_REGRESSOR_CHECKPOINT = env_path("EFT_REGRESSOR_CHECKPOINT")
EFT_TORCH_DEVICE = env_str("EFT_TORCH_DEVICE", "auto")
EFT_RENDER_BACKENDS = env_list("EFT_RENDER_BACKENDS", "egl,osmesa")
HEALTH_PROBE_TTL = env_float("HEALTH_PROBE_TTL", 300.0)

# --- datasets -----------------------------------------------------------------------------
# Server folders staff may import from (comma-separated); nothing outside them is read.
DATASET_IMPORT_ROOTS = [
    Path(p).expanduser().resolve() for p in env_list("DATASET_IMPORT_ROOTS", str(DATA_DIR / "imports"))
]
# Where uploaded zips are unpacked while they are imported (removed afterwards).
DATASET_WORK_DIR = (env_path("DATASET_WORK_DIR") or DATA_DIR / "import-work").resolve()
# Zip limits: entries, total uncompressed bytes, and the compression ratio of one entry.
DATASET_ZIP_MAX_ENTRIES = env_int("DATASET_ZIP_MAX_ENTRIES", 500_000)
DATASET_ZIP_MAX_BYTES = env_int("DATASET_ZIP_MAX_BYTES", 200 * 1024**3)
DATASET_ZIP_MAX_RATIO = env_float("DATASET_ZIP_MAX_RATIO", 200.0)

# --- long work (imports, fit chunks, renders; webapp.core.taskstate) ----------------------
# Running work whose worker sent no heartbeat for this long is taken as lost and queued again
# (workers beat with every item of progress: a person fitted, a batch of images stored).
TASK_STALE_SECONDS = env_int("TASK_STALE_SECONDS", 600)
# Work lost this many times is failed instead of queued again.
TASK_MAX_ATTEMPTS = env_int("TASK_MAX_ATTEMPTS", 3)

# --- crowd --------------------------------------------------------------------------------
MTURK_ENABLED = env_bool("MTURK_ENABLED", False)
MTURK_SANDBOX = env_bool("MTURK_SANDBOX", True)
MTURK_REGION = env_str("MTURK_REGION", "us-east-1")
# The sandbox's requester API (campaigns with the sandbox flag); production is boto3's default.
MTURK_ENDPOINT_URL = env_str("MTURK_ENDPOINT_URL", "https://mturk-requester-sandbox.us-east-1.amazonaws.com")
MTURK_EXTERNAL_BASE_URL = env_str("MTURK_EXTERNAL_BASE_URL")
if MTURK_ENABLED and not MTURK_EXTERNAL_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "MTURK_ENABLED=true needs MTURK_EXTERNAL_BASE_URL, the public https:// address of this app "
        "(MTurk only frames HTTPS pages)."
    )
# MTurk HITs are offered MTURK_HIT_LIFETIME_SECONDS; a submitted assignment nobody reviews is
# approved (and paid) by MTurk itself after MTURK_AUTO_APPROVAL_SECONDS. MTurk calls that may
# succeed later (ServiceFault, throttling, a lost connection) are tried MTURK_RETRY_ATTEMPTS times
# in all, the first pause MTURK_RETRY_SECONDS, doubled each time.
MTURK_HIT_LIFETIME_SECONDS = env_int("MTURK_HIT_LIFETIME_SECONDS", 7 * 86400)
MTURK_AUTO_APPROVAL_SECONDS = env_int("MTURK_AUTO_APPROVAL_SECONDS", 3 * 86400)
MTURK_RETRY_ATTEMPTS = env_int("MTURK_RETRY_ATTEMPTS", 4)
MTURK_RETRY_SECONDS = env_float("MTURK_RETRY_SECONDS", 1.0)
# The MTurk worker sites: the only pages that may frame a HIT page (CSP frame-ancestors), and the
# only places its form may post the finished assignment to (turkSubmitTo).
CROWD_WORKER_SITES = env_list("CROWD_WORKER_SITES", "https://www.mturk.com,https://workersandbox.mturk.com")
# Time a worker has to finish an assignment: its vote token and picture addresses live this long.
CROWD_ASSIGNMENT_SECONDS = env_int("CROWD_ASSIGNMENT_SECONDS", 3600)
if not 60 <= CROWD_ASSIGNMENT_SECONDS <= MEDIA_SIGNED_MAX_SECONDS:
    raise ImproperlyConfigured(
        f"CROWD_ASSIGNMENT_SECONDS must be 60..{MEDIA_SIGNED_MAX_SECONDS} (MEDIA_SIGNED_MAX_SECONDS)"
    )
# Votes one client address may send (DRF rate: "120/min"); a worker answers an item in seconds.
CROWD_VOTE_RATE = env_str("CROWD_VOTE_RATE", "120/min")
# Gold items: a worker's first CROWD_GOLD_EARLY_ASSIGNMENTS assignments get twice the campaign's
# gold rate; a worker with CROWD_GOLD_STRIKES wrong gold answers whose gold accuracy is under
# CROWD_GOLD_MIN_ACCURACY is blocked.
CROWD_GOLD_EARLY_ASSIGNMENTS = env_int("CROWD_GOLD_EARLY_ASSIGNMENTS", 3)
CROWD_GOLD_STRIKES = env_int("CROWD_GOLD_STRIKES", 3)
CROWD_GOLD_MIN_ACCURACY = env_float("CROWD_GOLD_MIN_ACCURACY", 0.75)
# Days an in-house worker invitation stays valid.
CROWD_INVITE_DAYS = env_int("CROWD_INVITE_DAYS", 14)

# --- benchmarks -----------------------------------------------------------------------------
# People a publishing worker reads, projects and writes between two heartbeats.
PUBLISH_CHUNK = max(1, env_int("PUBLISH_CHUNK", 200))

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "webapp.core.auth.ThrottledBasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_THROTTLE_RATES": {"crowd-vote": CROWD_VOTE_RATE},
    # Throttles count per client address: REMOTE_ADDR, or behind trusted proxies the address the
    # nearest one saw (never the client's own X-Forwarded-For entries).
    "NUM_PROXIES": TRUSTED_PROXIES if USE_X_FORWARDED_FOR else 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "EFT crowd API",
    "DESCRIPTION": "Datasets, fit jobs, crowd validation and published benchmarks.",
    "VERSION": "0.1.0",
    # Swagger UI from the sidecar package: the docs page works without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- logging ------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
