"""``manage.py crowd_demo worker``: the demo's in-house worker account (prints its credentials once);
``manage.py crowd_demo campaign``: the open demo campaign (gold set, demo dataset, an EFT job run
by the workers, the campaign), made when missing. ``make run`` runs both."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webapp.crowd.demo import demo_campaign_prepare, demo_worker_ensure


class Command(BaseCommand):
    help = "Make the demo's worker account (step 'worker') or its open campaign (step 'campaign')."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("step", choices=["worker", "campaign"])
        parser.add_argument("--username", default="worker", help="step worker: the account's name")
        parser.add_argument(
            "--timeout", type=float, default=1800.0, help="step campaign: seconds to wait for the workers"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["step"] == "worker":
            user, password = demo_worker_ensure(options["username"])
            name = user.get_username()
            if password:
                self.stdout.write(f"Worker user created: username {name}  password {password}")
            else:
                self.stdout.write(
                    f"Worker user {name} exists; its password is unchanged "
                    f"(a new one: .venv/bin/python manage.py changepassword {name})"
                )
            return
        try:
            campaign = demo_campaign_prepare(
                say=lambda text: self.stdout.write(text, ending="\n"), timeout=options["timeout"]
            )
        except (TimeoutError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"demo campaign {campaign.name!r}: {campaign.state}"))
