"""Import leads from a CSV file, all or nothing; bad rows are listed by line number."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm import importing


class Command(BaseCommand):
    help = (
        "Import leads from a comma- or semicolon-separated UTF-8 file. Known fields: "
        f"{', '.join(importing.FIELDS)}. Columns named like a field fill it; other columns become the "
        "leads' attributes. A row whose external_id (or, without one, email) is an existing lead's "
        "updates that lead with the fields the file maps; the others are created. Nothing is imported if "
        "any row is bad."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help='fill FIELD (or "attribute" / "ignore") from COLUMN, e.g. --map "y=converted"; repeatable',
        )
        parser.add_argument(
            "--ignore", action="append", default=[], metavar="COLUMN", help="leave COLUMN out; repeatable"
        )
        parser.add_argument("--actor", metavar="USERNAME", help="whom the leads' history names as importer")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the file and count what it would create, update or leave unchanged; write nothing",
        )

    def handle(
        self,
        *args,
        file: str,
        map: list[str],
        ignore: list[str],
        actor: str | None,
        dry_run: bool = False,
        **options,
    ):
        self.verbosity = options["verbosity"]
        actor_user = self._actor(actor)
        maps = {}
        for item in map:
            column, equals, field = item.rpartition("=")
            if not equals or not column.strip():
                raise CommandError(f'--map takes COLUMN=FIELD, like --map "y=converted"; got “{item}”.')
            maps[column] = field
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror or error}.") from error
        try:
            csv_file = importing.read_csv(data)
            mapping = importing.resolve_mapping(csv_file.columns, maps, ignore)
            self._describe(mapping)
            result = importing.import_leads(csv_file, mapping, actor=actor_user, dry_run=dry_run)
        except importing.ImportRefused as refused:
            raise CommandError("\n".join(refused.lines())) from refused
        self.stdout.write(self.style.SUCCESS(f"{importing.summary(result)} ({result.seconds:.1f} s)"))
        if note := importing.unkeyed_note(result):
            self.stdout.write(self.style.WARNING(note))

    def _actor(self, username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--actor: there is no user “{username}”.")
        return user

    def _describe(self, mapping: dict[str, str]) -> None:
        if self.verbosity < 1:
            return
        fields = [f"{column} → {target}" for column, target in mapping.items() if target in importing.FIELDS]
        kept = [column for column, target in mapping.items() if target == importing.ATTRIBUTE]
        ignored = [column for column, target in mapping.items() if target == importing.IGNORE]
        self.stdout.write(f"Fields: {', '.join(fields) or 'none'}")
        self.stdout.write(f"Attributes: {', '.join(kept) or 'none'}")
        if ignored:
            self.stdout.write(f"Ignored: {', '.join(ignored)}")
