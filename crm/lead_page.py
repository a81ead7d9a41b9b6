"""What the lead page shows besides its forms, for the view and for the live frames alike.

The page and each live frame are rendered from `parts`, so a frame shows exactly what a reload would. A frame
is rendered per viewer (see realtime.broadcast.render_lead_page): whether they may edit decides between the
form and its read-only twin, and times are in the viewer's zone.
"""

from dataclasses import dataclass

from django.utils import timezone

from crm import history, lead_fields, queries
from crm.models import Lead, Stage
from crm.permissions import can_change
from crm.services import RESCORED


@dataclass(frozen=True)
class LastEdit:
    """The newest change that would refuse an edit made before it (a rescore refuses none)."""

    version: int
    text: str


def last_edit(lead: Lead) -> LastEdit:
    record = (
        lead.history.exclude(history_change_reason=RESCORED)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")
        .first()
    )
    if record is None:
        return LastEdit(lead.version, "")
    text = queries.describe_change(record, lead)
    return LastEdit(record.version, f"{text[:1].upper()}{text[1:]} at {history.moment(record.history_date)}.")


def details(lead: Lead) -> list[tuple[str, str]]:
    """The form's fields as text, for a viewer who may not edit them: no inputs to fill in vain."""
    names = history.Names()
    # serializable_value: a related field's id, which is what Names reads (as in the history rows)
    return [
        (field.title, names.show(field.model_attr, lead.serializable_value(field.model_attr)))
        for field in lead_fields.FIELDS
        if field.editable
    ]


def parts(user, lead: Lead) -> dict:
    """The context of the page's live parts: head, move control, read-only details, interactions, history."""
    editable = can_change(user, lead)
    return {
        "lead": lead,
        "can_change": editable,
        "details": None if editable else details(lead),
        "stages": Stage.objects.all(),
        "last_edit": last_edit(lead),
        "interactions": queries.interactions(lead),
        # Called by the template when it renders the history: the partials that skip it skip its queries.
        "history": lambda: history.lead_history(lead),
        "now": timezone.now(),
    }
