"""The Celery application. Workers: `celery -A webapp worker -Q celery,gpu,render`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Tasks live in the top-level `tasks` package (thin adapters over services).
app.conf.imports = (
    "tasks.benchmarks",
    "tasks.core",
    "tasks.crowd",
    "tasks.datasets",
    "tasks.fits",
    "tasks.regressors",
    "tasks.renders",
    "tasks.sweep",
)
