from __future__ import annotations

from django.apps import AppConfig


class CrowdConfig(AppConfig):
    name = "webapp.crowd"
    label = "crowd"
    verbose_name = "Crowd work"
