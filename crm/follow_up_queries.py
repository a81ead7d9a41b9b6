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


def needing_attention(user):
    """The user's overdue and due-today follow-ups ("today" in their zone), soonest first."""
    return (
        FollowUp.objects.filter(owner=user)
        .needing_attention(timezone.now(), user_zone(user))
        .select_related("lead")
        .order_by("due_at", "id")
    )


def due_count(user) -> int:
    return needing_attention(user).count()
