from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    name = "webapp.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from webapp.core import schema  # noqa: F401  # registers the OpenAPI extensions

        # The embedded profile keeps its state in DATA_DIR: the SQLite file, the filesystem
        # broker's folders and local media. They must exist before the first connection.
        folders = [Path(settings.DATA_DIR), Path(settings.STATIC_ROOT)]
        if settings.MEDIA_STORAGE == "local":
            folders.append(Path(settings.MEDIA_ROOT))
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            folders += [
                Path(str(options[key])) for key in ("data_folder_in", "control_folder", "processed_folder")
            ]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
