from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from webapp.core.services import staff_user_ensure


class Command(BaseCommand):
    help = "Create the staff (super)user, or reset its password; prints the credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="", help="default: a new random password")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or secrets.token_urlsafe(12)
        _user, created = staff_user_ensure(
            username=options["username"], password=password, email=options["email"]
        )
        verb = "created" if created else "password reset for"
        self.stdout.write(f"Staff user {verb}: username {options['username']}  password {password}")
