from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from webapp.core.services import staff_user_ensure


class Command(BaseCommand):
    help = (
        "Create the staff (super)user and print its credentials; an existing one keeps its password "
        "unless --reset-password is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="", help="default: a new random password")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--reset-password", action="store_true", help="give an existing user a new password"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or secrets.token_urlsafe(12)
        username = options["username"]
        reset = bool(options["reset_password"] or options["password"])
        _user, created = staff_user_ensure(
            username=username, password=password, email=options["email"], reset=reset
        )
        if created or reset:
            verb = "created" if created else "password reset for"
            self.stdout.write(f"Staff user {verb}: username {username}  password {password}")
        else:
            self.stdout.write(
                f"Staff user {username} exists; its password is unchanged "
                f"(a new one: .venv/bin/python manage.py changepassword {username})"
            )
