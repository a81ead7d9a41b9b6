"""A lead's history in the words of its form: labels, display values, names and local times.

`lead_fields` declares the labels people read; choices show their label ("Priority: Low → High"), related rows
their name, times the reader's zone (the middleware activates it) to the minute, money with its separators.
Bookkeeping (positions, versions, counters the interaction rows already tell) is never shown.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import dateformat, timezone
from django.utils.text import capfirst

from crm import lead_fields
from crm.models import Lead, LeadSource, Stage
from crm.people import full_name

# Churn that says nothing to a reader: the reason line ("logged a call", "moved") already tells it.
HIDDEN = {
    "position",
    "version",
    "updated_at",
    "interaction_count",
    "first_contact_at",
    "last_interaction_kind",
    "last_interaction_at",
    "closed_at",
    "attributes",
}
# Fields the form does not declare, in the words the lead page uses for them.
LABELS = {
    "stage": "Stage",
    "lead_score": "Score",
    "score_source": "Scored by",
    "follow_up_at": "Next follow-up",
    "snoozed_until": "Snoozed until",
    "snoozed_by": "Snoozed by",
    "snooze_reason": "Snooze reason",
}
TIME_FORMAT = "M j, Y H:i"
EMPTY = "—"


@dataclass(frozen=True)
class Change:
    when: datetime
    who: str
    reason: str
    fields: list[tuple[str, str, str]]


def label(attr: str) -> str:
    declared = {f.model_attr: f.title for f in lead_fields.FIELDS if f.name != "converted"}
    return LABELS.get(attr) or declared.get(attr) or capfirst(str(Lead._meta.get_field(attr).verbose_name))


def moment(value: datetime) -> str:
    """A time as people read it: in the current (the reader's) zone, to the minute."""
    return dateformat.format(timezone.localtime(value), TIME_FORMAT)


class Names:
    """The names of the rows a history refers to by id, read once per page (three small queries)."""

    def __init__(self) -> None:
        self.related = {
            "stage": dict(Stage.objects.values_list("pk", "name")),
            "source": dict(LeadSource.objects.values_list("pk", "name")),
        }
        users = {user.pk: full_name(user) for user in get_user_model().objects.all()}
        self.related["owner"] = self.related["snoozed_by"] = users

    def show(self, attr: str, value) -> str:
        if value in (None, ""):
            return EMPTY
        if attr in self.related:
            return str(self.related[attr].get(value, value))
        choices = dict(Lead._meta.get_field(attr).flatchoices)
        if choices:
            return str(choices.get(value, value))
        if isinstance(value, datetime):
            return moment(value)
        if isinstance(value, Decimal):
            return f"{value:,.2f}"
        return str(value)


def lead_history(lead: Lead, limit: int = 100) -> list[Change]:
    """Who changed which field from what to what, newest first."""
    records = list(
        lead.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1]
    )
    names = Names()
    changes = []
    for newer, older in zip(records, [*records[1:], None], strict=True):
        if len(changes) == limit:
            break
        fields = []
        if older is not None:
            delta = newer.diff_against(older, excluded_fields=HIDDEN, foreign_keys_are_objs=False)
            fields = [
                (label(f.field), names.show(f.field, f.old), names.show(f.field, f.new))
                for f in delta.changes
            ]
        reason = newer.history_change_reason or ("created" if older is None else "changed")
        changes.append(Change(newer.history_date, full_name(newer.history_user, "system"), reason, fields))
    return changes
