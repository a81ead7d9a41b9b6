"""The first account on a new server: a manager, who then adds the team in Settings > Team."""

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm import team
from crm.models import MANAGERS_GROUP

PASSWORD_ENV = "PIPELINE_MANAGER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a manager account (the first one on a server). Asks for what is not given; for scripts, give "
        f"--username, --name, --email and the password in ${PASSWORD_ENV} (or --password) with --no-input."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username")
        parser.add_argument("--name", help="Full name, as the team sees it.")
        parser.add_argument("--email")
        parser.add_argument("--password", help=f"Better: ${PASSWORD_ENV} (the process list shows options).")
        parser.add_argument(
            "--admin", action="store_true", help="Also let them into Django's admin (superuser)."
        )
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive")

    def handle(self, *args, interactive=True, admin=False, **options):
        values = {
            "username": options["username"],
            "full_name": options["name"],
            "email": options["email"],
            "password": options["password"] or os.environ.get(PASSWORD_ENV, ""),
        }
        asked = {
            "username": ("User name", "--username"),
            "full_name": ("Full name", "--name"),
            "email": ("Email", "--email"),
        }
        for key, (label, option) in asked.items():
            if not values[key]:
                if not interactive:
                    raise CommandError(f"{option} is required with --no-input.")
                values[key] = input(f"{label}: ").strip()
        if not values["password"]:
            if not interactive:
                raise CommandError(f"Give the password in ${PASSWORD_ENV} (or --password) with --no-input.")
            values["password"] = self.ask_password()
        try:
            user = team.add_member(actor=None, role=MANAGERS_GROUP, staff=admin, **values)
        except ValidationError as error:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
            raise CommandError(problems) from error
        self.stdout.write(self.style.SUCCESS(f"Manager {user.username} created: log in and open Settings."))

    def ask_password(self) -> str:
        while True:
            first = getpass.getpass("Password: ")
            if first and first == getpass.getpass("Password (again): "):
                return first
            self.stderr.write("The passwords were empty or did not match; again.")
