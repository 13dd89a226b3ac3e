from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.celery import app as celery_app


class Command(BaseCommand):
    help = "Wait until a Celery worker answers a ping through the configured broker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait in all")

    def handle(self, *args: Any, **options: Any) -> None:
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            replies = celery_app.control.ping(timeout=1.0) or []
            if replies:
                names = ", ".join(sorted(name for reply in replies for name in reply))
                self.stdout.write(f"worker ready: {names}")
                return
        raise CommandError(f"no Celery worker answered within {options['timeout']:.0f} s")
