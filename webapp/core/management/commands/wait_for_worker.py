from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.celery import app as celery_app


class Command(BaseCommand):
    help = "Wait until Celery workers answer a ping through the configured broker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait in all")
        parser.add_argument("--count", type=int, default=1, help="how many workers must answer")

    def handle(self, *args: Any, **options: Any) -> None:
        deadline = time.monotonic() + options["timeout"]
        names: list[str] = []
        while time.monotonic() < deadline:
            replies = celery_app.control.ping(timeout=1.0) or []
            names = sorted(name for reply in replies for name in reply)
            if len(names) >= options["count"]:
                self.stdout.write(f"workers ready: {', '.join(names)}")
                return
        raise CommandError(
            f"{len(names)} of {options['count']} Celery workers answered within {options['timeout']:.0f} s"
        )
