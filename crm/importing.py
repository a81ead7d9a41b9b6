"""CSV import: read a file from another tool, map its columns onto leads, write them all or none.

Every row is checked before anything is written, so a bad file changes nothing and the user gets every bad
line at once. A row whose external_id (or, when it has none, email, letter case aside) is an existing lead's
updates that lead, with only the fields the file maps; the others are new leads. So importing a file twice
creates nothing the second time. The write is bulk inserts and updates in one transaction (with history
naming the importing user) because 50,000 calls of the one-lead service would take minutes; one
LeadsImported event goes out on commit.
"""

import csv
import io
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm import events, lead_fields, services
from crm.models import ImportJob, Lead, LeadSource, Stage

# The fields a column can fill, in the order the export writes them (so an export imports back as it was).
FIELDS = lead_fields.NAMES
# Characters no lead field may hold (a NUL truncates text in some tools); tabs and line breaks are fine.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A new source is named as the admin would name it.
SOURCE_NAME = LeadSource._meta.get_field("name").formfield()
ATTRIBUTE = "attribute"
IGNORE = "ignore"
TARGETS = (*FIELDS, ATTRIBUTE, IGNORE)
# Headers other tools use for our fields.
ALIASES = {"expected_value": "value", "id": "external_id", "full_name": "name"}
# The fields a re-imported row may change on the lead it matches. The others (created_at, follow_up_at,
# lead_score, score_source) say how a lead came in or are kept by the product: they are read for new leads.
UPDATABLE = frozenset(lead_fields.EDITABLE_NAMES) | {"stage", "converted"}
# What an existing lead is compared with: the Lead attributes the updatable fields and attributes fill.
COMPARED = (*lead_fields.EDITABLE, "stage", "attributes")

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_REPORTED_ERRORS = 50
PREVIEW_ROWS = 10
BATCH_SIZE = 2000  # rows checked per progress report
PROGRESS_TIMEOUT = 60 * 60
# A running import reports at least every BATCH_SIZE rows; with no heartbeat for this long its worker is dead.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 2

# Numbers keep their type only when they read back exactly: "007" (a code) and "1e3" stay text.
INTEGER = re.compile(r"-?(0|[1-9]\d{0,17})")
DECIMAL = re.compile(r"-?(0|[1-9]\d*)\.\d+")
# A spreadsheet runs a cell starting with one of these as a formula, so the export writes such text behind an
# apostrophe (`'=1+1`, as a spreadsheet shows typed text); reading a cell takes one apostrophe off again. Text
# that already starts with apostrophes before such a character gets one more, so every value reads back.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_FORMULA = re.compile(r"'+[=+\-@\t\r]")


class ImportRefused(Exception):
    """Nothing was imported: `message` says why, `errors` lists the first bad rows, `error_count` all."""

    def __init__(self, message: str, errors: list["RowError"] | None = None, error_count: int = 0):
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.error_count = error_count or len(self.errors)

    def lines(self) -> list[str]:
        """The message and the bad rows, as a person reads them."""
        shown = [f"line {error.line}: {error.message}" for error in self.errors]
        more = self.error_count - len(self.errors)
        return [self.message, *shown, *([f"… and {more} more"] if more > 0 else [])]


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True)
class CsvFile:
    """A decoded CSV file: its columns, and its rows read lazily (a 50,000-row file is parsed twice)."""

    text: str
    delimiter: str
    columns: list[str]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, values) for each record; the header is line 1, blank lines are skipped."""
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        last_line, header_seen = 0, False
        try:
            for values in reader:
                start, last_line = last_line + 1, reader.line_num
                if not values or values == [""]:
                    continue
                if header_seen:
                    yield start, [unescape_cell(value) for value in values]
                header_seen = True
        except csv.Error as error:
            raise ImportRefused(f"Line {last_line + 1} is not valid CSV: {error}.") from error

    def preview(self, count: int = PREVIEW_ROWS) -> list[tuple[int, list[str]]]:
        rows = []
        for row in self.rows():
            rows.append(row)
            if len(rows) == count:
                break
        return rows

    def row_count(self) -> int:
        return sum(1 for _ in self.rows())


@dataclass
class ImportResult:
    """What an import did (or, a dry run, would do) with the file's rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    lead_ids: list[int] = field(default_factory=list)  # the created leads
    updated_ids: list[int] = field(default_factory=list)
    by_stage: dict[str, int] = field(default_factory=Counter)  # the created leads' stages
    # Created leads with neither an external_id nor an email: nothing can match them, so importing the
    # file again creates them again.
    unkeyed: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def count(self) -> int:
        return self.created + self.updated + self.unchanged


Progress = Callable[[str, int, int], None]


# --- Reading the file --------------------------------------------------------------------------------------


def read_csv(data: bytes) -> CsvFile:
    """Decode and check the shape of an uploaded file: UTF-8 (BOM or not), a header, commas or semicolons."""
    if not data.strip():
        raise ImportRefused("The file is empty.")
    if b"\x00" in data[:8192]:
        raise ImportRefused(
            "This is not a CSV file (it contains binary data; a spreadsheet must be saved as CSV first)."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRefused(
            f"The file is not UTF-8 text (byte {error.start + 1} cannot be read); save it as “CSV UTF-8”."
        ) from error
    if not text.strip():  # a byte-order mark and nothing else
        raise ImportRefused("The file is empty.")
    header_line = text.lstrip("\r\n").splitlines()[0]
    delimiter = _delimiter(header_line)
    if delimiter is None:
        raise ImportRefused(
            "This does not look like a CSV file: its first line has no commas or semicolons between column "
            "names (a file of one column must be headed by a lead field, like “name”)."
        )
    try:
        header = next(csv.reader(io.StringIO(text.lstrip("\r\n"), newline=""), delimiter=delimiter))
        columns = [unescape_cell(column).strip() for column in header]
    except csv.Error as error:
        raise ImportRefused(f"The header line is not valid CSV: {error}.") from error
    unnamed = [str(i + 1) for i, column in enumerate(columns) if not column]
    if unnamed:
        raise ImportRefused(
            f"Every column needs a name in the header line; column {', '.join(unnamed)} has none."
        )
    repeated = [column for column, n in Counter(columns).items() if n > 1]
    if repeated:
        raise ImportRefused(f"Column names must differ; the header repeats {', '.join(repeated)}.")
    return CsvFile(text=text, delimiter=delimiter, columns=columns)


def unescape_cell(value: str) -> str:
    """A cell as it was before the export guarded it against formulas: one leading apostrophe off."""
    return value[1:] if value[:1] == "'" and ESCAPED_FORMULA.match(value) else value


def _delimiter(header_line: str) -> str | None:
    try:
        widths = {d: len(next(csv.reader([header_line], delimiter=d), [])) for d in (";", ",")}
    except csv.Error as error:
        raise ImportRefused(f"The header line is not valid CSV: {error}.") from error
    best = max(widths, key=widths.get)
    if widths[best] > 1:
        return best
    # One column is a CSV file only if it is obviously meant as one (a list of names, say), not any text.
    return "," if field_for_header(header_line.strip().strip('"')) else None


# --- The mapping --------------------------------------------------------------------------------------------


def field_for_header(header: str) -> str | None:
    key = re.sub(r"[\s\-]+", "_", header.strip().lower())
    key = ALIASES.get(key, key)
    return key if key in FIELDS else None


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """Headers named like a field fill it (the first such column, if two are); the rest become attributes."""
    mapping, taken = {}, set()
    for column in columns:
        target = field_for_header(column)
        if target is None or target in taken:
            target = ATTRIBUTE
        taken.add(target)
        mapping[column] = target
    return mapping


def resolve_mapping(
    columns: list[str], maps: dict[str, str] | None = None, ignored: list[str] | None = None
) -> dict[str, str]:
    """The automatic mapping with the user's `--map column=field` and `--ignore column` on top.

    A column the user maps to a field takes it from a column that only matched it by name.
    """
    mapping = auto_mapping(columns)
    chosen: dict[str, str] = {}
    for column, target in (maps or {}).items():
        chosen[_column(columns, column)] = _target(target)
    for column in ignored or []:
        name = _column(columns, column)
        if name in chosen and chosen[name] != IGNORE:
            raise ImportRefused(f"Column “{name}” is both mapped to {chosen[name]} and ignored.")
        chosen[name] = IGNORE
    claimed = {target for target in chosen.values() if target in FIELDS}
    for column, target in mapping.items():
        if column not in chosen and target in claimed:
            mapping[column] = ATTRIBUTE
    mapping.update(chosen)
    check_mapping(columns, mapping)
    return mapping


def check_mapping(columns: list[str], mapping: dict[str, str]) -> None:
    """Refuse a mapping that names columns the file lacks, unknown fields, or one field twice."""
    missing = [column for column in mapping if column not in columns]
    if missing:
        raise ImportRefused(_missing_columns(missing[0], columns))
    unknown = sorted({target for target in mapping.values() if target not in TARGETS})
    if unknown:
        raise ImportRefused(_unknown_field(unknown[0]))
    by_field: dict[str, list[str]] = {}
    for column, target in mapping.items():
        if target in FIELDS:
            by_field.setdefault(target, []).append(column)
    for target, mapped in by_field.items():
        if len(mapped) > 1:
            names = " and ".join(f"“{c}”" for c in mapped)
            raise ImportRefused(f"Columns {names} are both mapped to {target}; map only one of them to it.")


def _column(columns: list[str], name: str) -> str:
    name = name.strip()
    if name in columns:
        return name
    folded = [column for column in columns if column.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise ImportRefused(_missing_columns(name, columns))


def _target(target: str) -> str:
    key = re.sub(r"[\s\-]+", "_", target.strip().lower())
    key = ALIASES.get(key, key)
    if key not in TARGETS:
        raise ImportRefused(_unknown_field(target))
    return key


def _missing_columns(name: str, columns: list[str]) -> str:
    return f"The file has no column “{name}”. Its columns are: {', '.join(columns)}."


def _unknown_field(target: str) -> str:
    return (
        f"“{target}” is not a lead field. Map a column to one of: {', '.join(FIELDS)}, "
        f"or to “{ATTRIBUTE}” or “{IGNORE}”."
    )


# --- Checking rows ------------------------------------------------------------------------------------------


@dataclass
class _Lookups:
    """What rows refer to, loaded once: stages, users by username, sources by name (folded)."""

    stages: list[Stage]
    users: dict[str, int]
    sources: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "_Lookups":
        users = dict(get_user_model().objects.values_list("username", "pk"))
        sources = {name.casefold(): pk for pk, name in LeadSource.objects.values_list("pk", "name")}
        return cls(list(Stage.objects.all()), users, sources)

    def first(self, kind: str) -> Stage | None:
        return next((stage for stage in self.stages if stage.kind == kind), None)

    def stage_named(self, value: str) -> Stage | None:
        for stage in self.stages:
            if value == stage.slug or value.casefold() == stage.name.casefold():
                return stage
        return None


class _RowError(Exception):
    pass


def _clean_row(
    line: int,
    values: list[str],
    columns: list[str],
    mapping: dict,
    lookups: _Lookups,
    attributes: bool = True,
) -> dict:
    """One row as Lead field values (plus `source_name`), or _RowError listing everything wrong with it.

    Each cell is cleaned by the lead form's own field (`crm.lead_fields`), so the import refuses what the
    form refuses, with its message. `attributes=False` skips reading attribute values, which cannot be wrong
    (the checking pass).
    """
    if len(values) != len(columns):
        raise _RowError(f"has {len(values)} values but the header has {len(columns)} columns")
    raw: dict[str, str] = {}
    kept: dict = {}
    for column, value in zip(columns, values, strict=True):
        target = mapping.get(column, ATTRIBUTE)
        if target == ATTRIBUTE:
            value = value.strip() if attributes else ""
            if value:
                kept[column] = attribute_value(value)
        elif target != IGNORE:
            raw[target] = value.strip()
    problems = []
    for column, value in zip(columns, values, strict=True):
        if bad := CONTROL.search(value):
            problems.append(
                f"{column} contains a control character (U+{ord(bad.group()):04X}), which a lead cannot hold"
            )
            raw.pop(mapping.get(column), None)  # said once, not again by the field's own check
    # The fields this row gives a value: only they may change a lead it matches.
    given = frozenset(name for name, text in raw.items() if text)
    lead: dict = {"attributes": kept, "source_name": raw.get("source", ""), "given": given}
    for name, text in raw.items():
        if not text or name in lead_fields.LOOKED_UP:
            continue
        field = lead_fields.BY_NAME[name]
        try:
            lead[field.model_attr] = field.clean(text)
        except ValidationError as error:
            problems.append(lead_fields.error_text(name, text, error))
    if lead["source_name"]:
        try:
            SOURCE_NAME.clean(lead["source_name"])
        except ValidationError as error:
            problems.append(lead_fields.error_text("source", lead["source_name"], error))
    if raw.get("owner"):
        if raw["owner"] not in lookups.users:
            problems.append(f"owner “{raw['owner']}” is not a username here")
        else:
            lead["owner_id"] = lookups.users[raw["owner"]]
    try:
        lead["stage"] = _stage(raw.get("stage", ""), raw.get("converted", ""), lookups)
    except _RowError as error:
        problems.append(str(error))
    if problems:
        raise _RowError("; ".join(problems))
    for name in ("external_id", "company", "phone", "email"):
        lead.setdefault(name, "")
    lead["name"] = lead.get("name") or lead["external_id"] or f"Imported lead (line {line})"
    return lead


def attribute_value(value: str) -> str | int | float:
    """Numbers as numbers when they read back exactly (so the model can use them); anything else as text."""
    if INTEGER.fullmatch(value):
        return int(value)
    if DECIMAL.fullmatch(value):
        return float(value)
    return value


def _stage(stage_value: str, converted_value: str, lookups: _Lookups) -> Stage:
    converted = None
    if converted_value:
        folded = converted_value.casefold()
        if folded not in lead_fields.TRUE_WORDS | lead_fields.FALSE_WORDS:
            raise _RowError(f"converted “{converted_value}” is not yes/no, 1/0 or true/false")
        converted = folded in lead_fields.TRUE_WORDS
    closed_kind = {True: Stage.Kind.WON, False: Stage.Kind.LOST, None: None}[converted]
    if stage_value:
        stage = lookups.stage_named(stage_value)
        if stage is None:
            raise _RowError(f"stage “{stage_value}” is not a stage here")
        if closed_kind and stage.kind != closed_kind:
            raise _RowError(f"converted “{converted_value}” contradicts stage “{stage.name}” ({stage.kind})")
        return stage
    stage = lookups.first(closed_kind or Stage.Kind.OPEN)
    if stage is None:
        raise _RowError(f"there is no {closed_kind or Stage.Kind.OPEN} stage to put the lead in")
    return stage


def _check(csv_file: CsvFile, mapping: dict, lookups: _Lookups, progress: Progress) -> tuple[int, dict]:
    """Read every row once; refuse the whole file if any is bad. Returns the number of rows and the leads
    they match ({line: lead id})."""
    errors: list[RowError] = []
    external_ids: dict[str, int] = {}
    emails: dict[str, int] = {}  # folded email -> line, for rows without an external_id
    count = 0
    for line, values in csv_file.rows():
        count += 1
        try:
            lead = _clean_row(line, values, csv_file.columns, mapping, lookups, attributes=False)
        except _RowError as error:
            errors.append(RowError(line, str(error)))
            continue
        external_id, email = lead["external_id"], lead["email"]
        if external_id:
            if external_id in external_ids:
                errors.append(
                    RowError(line, f"external_id “{external_id}” is also on line {external_ids[external_id]}")
                )
            else:
                external_ids[external_id] = line
        elif email:
            # Two such rows would be one lead on the next import: say so now, not then.
            if email.casefold() in emails:
                errors.append(
                    RowError(
                        line,
                        f"email “{email}” is also on line {emails[email.casefold()]} "
                        "(rows without an external_id are matched by email; give them one each)",
                    )
                )
            else:
                emails[email.casefold()] = line
        if count % BATCH_SIZE == 0:
            progress("checking", count, 0)
    matches = _matches(external_ids, emails, errors)
    if errors:
        errors.sort(key=lambda error: error.line)
        rows = "row has" if len(errors) == 1 else "rows have"
        raise ImportRefused(
            f"Nothing was imported: {len(errors)} {rows} errors.", errors[:MAX_REPORTED_ERRORS], len(errors)
        )
    if count == 0:
        raise ImportRefused("Nothing was imported: the file has a header but no rows.")
    return count, matches


def _matches(external_ids: dict[str, int], emails: dict[str, int], errors: list[RowError]) -> dict[int, int]:
    """{line: id of the one lead with the row's external_id, or (without one) email}; a row matching
    several leads is an error, since the file cannot say which of them it means."""
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    ids = list(external_ids)
    for start in range(0, len(ids), 500):
        chunk = Lead.objects.filter(external_id__in=ids[start : start + 500])
        for external_id, pk in chunk.values_list("external_id", "pk"):
            found["external_id", external_id].append(pk)
    if emails:
        # Folded here, not in SQL: SQLite's LOWER() leaves non-ASCII letters as they are.
        for email, pk in Lead.objects.exclude(email="").values_list("email", "pk").iterator(chunk_size=5000):
            if email.casefold() in emails:
                found["email", email.casefold()].append(pk)
    matches: dict[int, int] = {}
    matched_on: dict[int, int] = {}  # lead id -> the line that matched it
    for (what, key), pks in sorted(found.items(), key=lambda item: _line_of(item[0], external_ids, emails)):
        line = _line_of((what, key), external_ids, emails)
        if len(pks) == 1 and pks[0] in matched_on:
            errors.append(
                RowError(line, f"{what} “{key}” matches lead #{pks[0]}, as line {matched_on[pks[0]]} does")
            )
        elif len(pks) == 1:
            matches[line], matched_on[pks[0]] = pks[0], line
        else:
            leads = ", ".join(f"#{pk}" for pk in sorted(pks))
            errors.append(
                RowError(line, f"{what} “{key}” matches {len(pks)} leads ({leads}); it must match one")
            )
    return matches


def _line_of(found_key: tuple[str, str], external_ids: dict[str, int], emails: dict[str, int]) -> int:
    what, key = found_key
    return (external_ids if what == "external_id" else emails)[key]


# --- Writing ------------------------------------------------------------------------------------------------


def import_leads(
    csv_file: CsvFile,
    mapping: dict[str, str],
    *,
    actor=None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Import every row of `csv_file`, or none: ImportRefused lists the bad rows by line.

    Rows matching a lead update it, the others are created. `dry_run` checks and counts the same way and
    writes nothing (not even a new source).
    """
    started = time.monotonic()
    progress = progress or (lambda phase, done, total: None)
    check_mapping(csv_file.columns, mapping)
    with transaction.atomic():
        if not dry_run:
            # Hold the stage rows (as the bulk write will) before checking: a second import waits, then
            # sees this one's leads. A dry run (the preview page) must not wait for a running import.
            list(Stage.objects.select_for_update().order_by("pk"))
        lookups = _Lookups.load()
        total, matches = _check(csv_file, mapping, lookups, progress)
        result = ImportResult(dry_run=dry_run)
        rows = _rows(csv_file, mapping, lookups, actor, result, matches, _current(matches.values()))
        if dry_run:
            for _ in rows:
                pass
        else:
            progress("writing", 0, total)
            result.lead_ids, result.updated_ids = services.import_leads_in_bulk(
                rows, actor=actor, reason="imported", progress=lambda done: progress("writing", done, total)
            )
    result.by_stage = dict(result.by_stage)
    result.seconds = time.monotonic() - started
    return result


def _current(lead_ids) -> dict[int, dict]:
    """The matched leads' values of the fields an import may change, by id."""
    ids, current = list(lead_ids), {}
    for start in range(0, len(ids), 2000):
        for values in Lead.objects.filter(pk__in=ids[start : start + 2000]).values("pk", *COMPARED):
            current[values.pop("pk")] = values
    return current


def _rows(
    csv_file: CsvFile,
    mapping: dict,
    lookups: _Lookups,
    actor,
    result: ImportResult,
    matches: dict[int, int],
    current: dict[int, dict],
) -> Iterator[dict]:
    """The file's rows as new leads' column values, or `{"pk": id, **changes}` for a lead a row changes
    (already checked: a bad row cannot appear here); counts them in `result`."""
    for line, values in csv_file.rows():
        row = _clean_row(line, values, csv_file.columns, mapping, lookups)
        given, source_name = row.pop("given"), row.pop("source_name")
        pk = matches.get(line)
        if pk is None:
            row["source_id"] = _source_id(source_name, lookups, actor, create=not result.dry_run)
            result.created += 1
            if not (row["external_id"] or row["email"]):
                result.unkeyed += 1
            result.by_stage[row["stage"].name] += 1
            yield row
            continue
        changes = _changes(row, given, source_name, current[pk], lookups, actor, create=not result.dry_run)
        if changes:
            result.updated += 1
            yield {"pk": pk, **changes}
        else:
            result.unchanged += 1


def _changes(row: dict, given: frozenset, source_name: str, lead: dict, lookups: _Lookups, actor, create):
    """What a row changes on the lead it matches: the updatable fields it gives a value (an empty cell
    changes nothing), and its attributes merged over the lead's."""
    wanted: dict = {}
    for name in given & UPDATABLE:
        if name in ("stage", "converted"):
            stage = row["stage"]
            current = next(s for s in lookups.stages if s.pk == lead["stage"])
            # "converted" alone only says won or lost: a lead already in a column of that kind stays there.
            if "stage" in given or current.kind != stage.kind:
                wanted["stage"] = stage
        elif name == "source":
            wanted["source_id"] = _source_id(source_name, lookups, actor, create)
        elif name == "owner":
            wanted["owner_id"] = row["owner_id"]
        else:
            attr = lead_fields.BY_NAME[name].model_attr
            wanted[attr] = row[attr]
    compared = {"stage_id": "stage", "source_id": "source", "owner_id": "owner"}
    changes = {}
    for attr, value in wanted.items():
        old = lead[compared.get(attr, attr)]
        if (value.pk if attr == "stage" else value) != old:
            changes[attr] = value
    if row["attributes"]:
        merged = {**lead["attributes"], **row["attributes"]}
        if merged != lead["attributes"]:
            changes["attributes"] = merged
    return changes


NEW_SOURCE = -1  # a dry run's id for a source the import would create


def _source_id(name: str, lookups: _Lookups, actor, create: bool = True) -> int | None:
    if not name:
        return None
    key = name.casefold()
    if key not in lookups.sources:
        if not create:
            return NEW_SOURCE
        lookups.sources[key] = services.source_named(name, actor=actor).pk
    return lookups.sources[key]


# --- Background jobs (the browser's imports) ------------------------------------------------------------


def progress_key(job_id: int) -> str:
    return f"pipeline:import-job:{job_id}:progress"


def job_progress(job_id: int) -> dict:
    """{"phase", "done", "total"} as the worker last reported it: its rows are not committed until the end."""
    return cache.get(progress_key(job_id)) or {"phase": "waiting", "done": 0, "total": 0}


# A job's life, each step one conditional update, so a double submit or a redelivered message is a no-op:
# uploaded -> queued (start_job) -> running (claim_job) -> done (in the import's transaction) or failed.


def create_job(*, actor, upload, total_rows: int) -> ImportJob:
    """Store an uploaded file under a generated name (never the user's: any length, any script) and wait
    for its mapping; people still see the name they gave it.
    """
    job = ImportJob(original_name=upload.name[:255], created_by=actor, total_rows=total_rows)
    job.file.save(f"{uuid.uuid4().hex}.csv", upload, save=True)
    return job


def start_job(job_id: int, *, actor, mapping: dict[str, str]) -> bool:
    """Queue the import with its mapping; only the first Start counts. Workers hear ImportRequested."""
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.UPLOADED).update(
            mapping=mapping, status=ImportJob.Status.QUEUED
        )
        if started:
            events.publish(events.ImportRequested(actor_id=getattr(actor, "pk", None), job_id=job_id))
    return bool(started)


def lease_key(job_id: int) -> str:
    return f"pipeline:import-job:{job_id}:lease"


def renew_lease(job_id: int) -> None:
    """The running worker's heartbeat. In the cache, not the job's row: the import's rows (and any update
    of the job made beside them) stay invisible until its one transaction commits.
    """
    cache.set(lease_key(job_id), 1, timeout=int(LEASE.total_seconds()))


def claim_job(job_id: int) -> bool:
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    if claimed:
        renew_lease(job_id)
    return bool(claimed)


def reclaim_stalled_jobs(now: datetime | None = None) -> list[int]:
    """Jobs whose worker died (no heartbeat for LEASE): queued again once, then failed with a message.

    Run every minute by the scheduler. A dead worker's transaction rolled back, so a second try is safe;
    each change is conditional on the job still being as read, so two checks never both act on it.
    """
    now = now or timezone.now()
    stalled = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, started_at__lt=now - LEASE)
    acted = []
    for job in stalled.only("pk", "attempts", "created_by_id"):
        if cache.get(lease_key(job.pk)):
            continue
        same = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING, attempts=job.attempts)
        if job.attempts < MAX_ATTEMPTS:
            with transaction.atomic():
                if same.update(status=ImportJob.Status.QUEUED):
                    events.publish(events.ImportRequested(actor_id=job.created_by_id, job_id=job.pk))
                    acted.append(job.pk)
        elif same.update(
            status=ImportJob.Status.FAILED,
            message=(
                "The import stopped twice because its worker was stopped (a restart, or out of memory); "
                "nothing was imported. Upload the file again, or in smaller parts."
            ),
            finished_at=now,
        ):
            acted.append(job.pk)
    return acted


def run_job(job_id: int) -> None:
    """Import a queued job's file with its mapping; a redelivered message finds the job taken and stops."""
    if not claim_job(job_id):
        return
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)

    def report(phase: str, done: int, total: int) -> None:
        renew_lease(job_id)
        cache.set(
            progress_key(job_id),
            {"phase": phase, "done": done, "total": total or job.total_rows},
            PROGRESS_TIMEOUT,
        )

    try:
        with job.file.open("rb") as stored:
            csv_file = read_csv(stored.read())
        with transaction.atomic():
            result = import_leads(csv_file, job.mapping, actor=job.created_by, progress=report)
            # Marked done in the import's own transaction: the job never says "done" for rolled-back leads.
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportJob.Status.DONE,
                total_rows=result.count,
                imported_count=result.count,
                message=summary(result),
                finished_at=timezone.now(),
            )
    except ImportRefused as refused:
        fail_job(job_id, refused.message, refused.errors, refused.error_count)
    except FileNotFoundError:
        fail_job(job_id, "The uploaded file is gone; upload it again.")
    except BaseException as error:
        # Also the worker's time limit (an interrupt, not an Exception): never leave the job "importing".
        fail_job(job_id, f"The import stopped unexpectedly ({type(error).__name__}); nothing was imported.")
        raise
    finally:
        cache.delete_many([progress_key(job_id), lease_key(job_id)])


def fail_job(job_id: int, message: str, errors: list[RowError] = (), error_count: int = 0) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED,
        message=message,
        errors=[{"line": error.line, "message": error.message} for error in errors],
        error_count=error_count,
        finished_at=timezone.now(),
    )


def unkeyed_note(result: ImportResult) -> str:
    """A warning that a second import of this file would create some leads again, or ""."""
    if not result.unkeyed:
        return ""
    rows = "row has" if result.unkeyed == 1 else "rows have"
    return (
        f"{result.unkeyed:,} {rows} neither an external_id nor an email: importing the file again would "
        "create them again. Map a column to external_id to avoid that."
    )


def summary(result: ImportResult) -> str:
    """Imported 5 leads: 3 created (2 in New, 1 in Won), 1 updated, 1 unchanged. (A dry run says "would".)"""
    stages = ", ".join(f"{count:,} in {name}" for name, count in result.by_stage.items())
    created = f"{result.created:,} {'would be ' if result.dry_run else ''}created"
    counts = created + (f" ({stages})" if stages else "") + f", {result.updated:,} updated"
    counts += f", {result.unchanged:,} unchanged"
    leads = "lead" if result.count == 1 else "leads"
    if result.dry_run:
        return f"Dry run, nothing written: {result.count:,} {leads} checked; {counts}."
    return f"Imported {result.count:,} {leads}: {counts}."
