"""Export leads as CSV to stdout: the file `import_leads` reads back."""

import dataclasses

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm import exporting
from crm.models import Lead, LeadSource
from crm.queries import BoardFilter


class Command(BaseCommand):
    help = "Write every lead (or those matching the board's filters) as CSV to stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner", metavar="USERNAME", help="only this user's leads")
        parser.add_argument("--source", metavar="NAME", help="only leads from this source")
        parser.add_argument(
            "--q", default="", metavar="TEXT", help="only leads whose name/company/email has TEXT"
        )

    def handle(self, *args, owner: str | None, source: str | None, q: str, **options):
        board_filter = BoardFilter(owner_id=self._owner_id(owner), source_id=self._source_id(source), text=q)
        board_filter = dataclasses.replace(board_filter, snoozed=None)  # every lead, snoozed or not
        # Every CSV line ends in a newline, so the wrapper adds nothing to it.
        count = exporting.write_csv(board_filter.apply(Lead.objects.all()), self.stdout)
        if options["verbosity"] > 1:
            self.stderr.write(f"Exported {count:,} leads.")

    def _owner_id(self, username: str | None) -> int | None:
        if username is None:
            return None
        pk = get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()
        if pk is None:
            raise CommandError(f"--owner: there is no user “{username}”.")
        return pk

    def _source_id(self, name: str | None) -> int | None:
        if name is None:
            return None
        pk = LeadSource.objects.filter(name__iexact=name).values_list("pk", flat=True).first()
        if pk is None:
            raise CommandError(f"--source: there is no source “{name}”.")
        return pk
