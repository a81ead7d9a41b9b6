"""The lead's user-facing fields, declared once.

The lead form, the services' editable set, the CSV import's columns and the CSV export's columns are all
derived from `FIELDS`, so adding a field is one entry here (plus the model field and its migration). Values
read from text (a CSV cell) are cleaned by the very form field the lead form uses, so the import refuses
exactly what the form refuses, with the same message; the entries that a form never sees (stage, owner by
username, "converted") say how they are read themselves.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import capfirst

from crm.models import Lead, Stage

TRUE_WORDS = {"1", "yes", "y", "true"}
FALSE_WORDS = {"0", "no", "n", "false"}
CONVERTED_TEXT = {Stage.Kind.WON: "1", Stage.Kind.LOST: "0", Stage.Kind.OPEN: ""}


def _text(value) -> str:
    return "" if value is None else str(value)


def _moment(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat() if value else ""


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _converted(kind: str) -> str:
    return CONVERTED_TEXT[kind]


def choice_number(choices) -> Callable[[str], str]:
    """A choice may be written as its number or its label ("3" or "High"); the form field takes the number."""
    by_label = {str(label).casefold(): str(number) for number, label in choices.choices}
    return lambda text: by_label.get(text.casefold(), text)


@dataclass(frozen=True)
class LeadField:
    """One user-facing field of a lead.

    name: the column name in CSV files (export header, import target).
    attr: the Lead attribute it fills, where it differs from `name`.
    label: what people read, where it differs from the model field's verbose name.
    editable: on the lead form and changeable through `services.update_lead` (agents included).
    column: what the export reads (a `values_list` path, default `attr`); `write` turns it into CSV text.
    prepare: turns a cell's text into what the form field reads (a label into its number).
    """

    name: str
    attr: str = ""
    label: str = ""
    editable: bool = False
    column: str = ""
    write: Callable[[object], str] = _text
    prepare: Callable[[str], str] | None = None

    @property
    def model_attr(self) -> str:
        return self.attr or self.name

    @property
    def export_column(self) -> str:
        return self.column or self.model_attr

    @property
    def title(self) -> str:
        return self.label or capfirst(str(Lead._meta.get_field(self.model_attr).verbose_name))

    def clean(self, text: str):
        """The value of a non-empty cell, cleaned as the lead form cleans it: by the form field, then by the
        model field's validators (what ModelForm's full_clean adds); ValidationError as they say.
        """
        if self.prepare is not None:
            text = self.prepare(text)
        value = _form_field(self.model_attr).clean(text)
        if value not in (None, ""):
            Lead._meta.get_field(self.model_attr).run_validators(value)
        return value


@cache
def _form_field(attr: str) -> forms.Field:
    field = Lead._meta.get_field(attr).formfield()
    field.required = False  # an empty cell means "not given"; a required column is checked by the importer
    return field


FIELDS: tuple[LeadField, ...] = (
    LeadField("external_id"),
    LeadField("name", editable=True),
    LeadField("email", editable=True),
    LeadField("phone", editable=True),
    LeadField("company", editable=True),
    LeadField("source", editable=True, column="source__name"),
    LeadField("stage", column="stage__slug"),
    LeadField("owner", editable=True, column="owner__username"),
    LeadField("value", attr="expected_value", editable=True, write=_money),
    LeadField("created_at", write=_moment),
    LeadField("converted", attr="stage", label="Converted", column="stage__kind", write=_converted),
    LeadField("priority", editable=True, prepare=choice_number(Lead.Priority)),
    LeadField("engagement_level", editable=True, prepare=choice_number(Lead.Engagement)),
    # Kept by the follow-up services (the next open follow-up's time): exported and imported, never typed.
    LeadField("follow_up_at", write=_moment),
    LeadField("lead_score"),
    LeadField("score_source", prepare=str.lower),
)
# The import writes these itself (source by name, stage, owner by username, the stage "converted" decides).
LOOKED_UP = {"source", "stage", "owner", "converted"}

BY_NAME = {field.name: field for field in FIELDS}
NAMES = tuple(field.name for field in FIELDS)
EDITABLE = tuple(field.model_attr for field in FIELDS if field.editable)
EDITABLE_NAMES = tuple(field.name for field in FIELDS if field.editable)
EXPORT_COLUMNS = tuple(field.export_column for field in FIELDS)


def export_row(values: tuple) -> list[str]:
    """One lead's values (in EXPORT_COLUMNS order) as CSV text."""
    return [field.write(value) for field, value in zip(FIELDS, values, strict=True)]


def error_text(name: str, text: str, error: ValidationError) -> str:
    shown = text if len(text) <= 40 else text[:40] + "…"
    return f"{name} “{shown}”: {' '.join(error.messages)}"
