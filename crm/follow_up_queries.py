"""Read models for snooze and follow-ups: the lead page's section, the top bar's count and its list."""

from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import timezone

from crm.models import Delivery, FollowUp, Lead, user_zone


@dataclass(frozen=True)
class LeadFollowUps:
    open: list[FollowUp]
    past: list[FollowUp]


def _with_deliveries(follow_ups):
    """Each follow-up with its emails newest first (`follow_up.emails`), in one more query."""
    return follow_ups.select_related("owner").prefetch_related(
        Prefetch("deliveries", queryset=Delivery.objects.order_by("-created_at", "-id"), to_attr="emails")
    )


def for_lead(lead: Lead, past_limit: int = 20) -> LeadFollowUps:
    follow_ups = FollowUp.objects.filter(lead=lead)
    return LeadFollowUps(
        open=list(_with_deliveries(follow_ups.open()).order_by("due_at", "id")),
        past=list(_with_deliveries(follow_ups.past()).order_by("-due_at", "-id")[:past_limit]),
    )


def one(follow_up_id: int) -> FollowUp:
    return _with_deliveries(FollowUp.objects.select_related("lead")).get(pk=follow_up_id)


# The `due` filters of a user's own follow-ups ("today" in their zone): the top bar's list and the API's.
DUE_FILTERS = {
    "overdue": lambda follow_ups, now, tz: follow_ups.overdue(now),
    "today": lambda follow_ups, now, tz: follow_ups.due_today(now, tz),
    "attention": lambda follow_ups, now, tz: follow_ups.needing_attention(now, tz),
}


def owned_by(user, due: str = ""):
    """The user's follow-ups, soonest first; `due` one of DUE_FILTERS (KeyError otherwise) or "" for all."""
    follow_ups = FollowUp.objects.filter(owner=user)
    if due:
        follow_ups = DUE_FILTERS[due](follow_ups, timezone.now(), user_zone(user))
    return follow_ups.select_related("lead").order_by("due_at", "id")


def needing_attention(user):
    """The user's overdue and due-today follow-ups, soonest first."""
    return owned_by(user, "attention")


def due_count(user) -> int:
    return needing_attention(user).count()
