from __future__ import annotations

from django.apps import AppConfig


class FitsConfig(AppConfig):
    name = "webapp.fits"
    label = "fits"
    verbose_name = "Fits"
