"""CSV export: every lead field, then one column per attribute key; `import_leads` reads it back as it was.

Rows are streamed from a server-side iterator, so a large export never sits in memory. Text a spreadsheet
would run as a formula (`=…`, `+…`, `-…`, `@…`) goes out behind an apostrophe; the importer takes it off.
"""

import csv
import json
import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from itertools import islice

from asgiref.sync import sync_to_async
from django.db.models import QuerySet

from crm import lead_fields
from crm.importing import ESCAPED_FORMULA, FIELDS, FORMULA_STARTS

CHUNK = 2000
ASYNC_CHUNK = 500  # CSV lines fetched per trip to the database thread when served under ASGI
# Numbers a spreadsheet reads as numbers (-5, -3.2, +1e3): left as they are, though they start with - or +.
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class _Line:
    """A file-like object that hands back what csv.writer writes, so each row becomes one streamed string."""

    def write(self, text: str) -> str:
        return text


def attribute_keys(leads: QuerySet) -> list[str]:
    """Every attribute key of these leads, sorted: Postgres (jsonb) does not keep the order keys came in."""
    keys: set[str] = set()
    for attributes in leads.values_list("attributes", flat=True).iterator(chunk_size=CHUNK):
        keys.update(attributes or ())
    return sorted(keys)


def rows(leads: QuerySet) -> Iterator[list[str]]:
    """The header, then one row per lead in board order."""
    leads = leads.order_by("stage__order", "position", "id")
    keys = attribute_keys(leads)
    yield [*FIELDS, *keys]
    for *values, attributes in leads.values_list(*lead_fields.EXPORT_COLUMNS, "attributes").iterator(
        chunk_size=CHUNK
    ):
        attributes = attributes or {}
        yield [*lead_fields.export_row(values), *(_attribute(attributes.get(key)) for key in keys)]


def csv_lines(leads: QuerySet) -> Iterator[str]:
    """The export as CSV text, one line at a time (for a StreamingHttpResponse)."""
    writer = csv.writer(_Line(), lineterminator="\n")
    for row in rows(leads):
        yield writer.writerow([guard_cell(value) for value in row])


async def async_csv_lines(leads: QuerySet, chunk: int | None = None) -> AsyncIterator[str]:
    """csv_lines for an ASGI server, `chunk` (ASYNC_CHUNK) lines a piece.

    The sync generator queries the database, so each piece is read in the request's database thread
    (thread_sensitive); the server sends one piece before the next is read.
    """
    lines, chunk = csv_lines(leads), chunk or ASYNC_CHUNK

    def take() -> str:
        return "".join(islice(lines, chunk))

    try:
        while piece := await sync_to_async(take, thread_sensitive=True)():
            yield piece
    finally:
        await sync_to_async(lines.close, thread_sensitive=True)()


def guard_cell(value: str) -> str:
    """Text a spreadsheet would run as a formula, behind an apostrophe; numbers and other text as they are."""
    if (value[:1] in FORMULA_STARTS and not NUMBER.fullmatch(value)) or ESCAPED_FORMULA.match(value):
        return "'" + value
    return value


def write_csv(leads: QuerySet, out) -> int:
    """Write the export to a text stream; returns the number of leads written."""
    lines = 0
    for line in csv_lines(leads):
        out.write(line)
        lines += 1
    return lines - 1


def _attribute(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict | list):
        return json.dumps(value)
    if isinstance(value, float):
        # Positional, never 1e-05: the importer reads back only plain decimals as numbers.
        return format(Decimal(repr(value)), "f")
    return str(value)
