"""Leads as the plain records `ml` reads: one query for the leads, one for their interactions.

A closed lead is described as it stood when it closed (interactions up to `closed_at`, its age then), so
what happened after the decision cannot leak into training. Stage and close dates never enter a record.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Max, Q, QuerySet

from crm.models import Interaction, Stage


@dataclass
class Records:
    ids: list[int]
    records: list[dict]
    judged_at: list[datetime]  # when each lead is looked at: now for open leads, closing time for closed ones
    outcomes: list[bool | None]  # won, lost, or None while open
    scores: dict[int, tuple[int | None, str]]  # the score each lead has now, so a rescore reads leads once


def lead_records(leads: QuerySet, now: datetime) -> Records:
    rows = leads.order_by().values_list(
        "id",
        "created_at",
        "closed_at",
        "engagement_level",
        "source__name",
        "owner__username",
        "priority",
        "expected_value",
        "attributes",
        "stage__kind",
        "lead_score",
        "score_source",
    )
    counts = _interaction_counts(leads)
    result = Records([], [], [], [], {})
    for row in rows.iterator(chunk_size=5000):
        pk, created, closed, engagement, source, owner, priority, value, attributes, kind, score, origin = row
        kinds, last = counts.get(pk, ({}, None))
        result.ids.append(pk)
        result.records.append(
            {
                "created_at": created,
                "interactions": kinds,
                "last_interaction_at": last,
                "engagement_level": engagement,
                "source": source,
                "owner": owner,
                "priority": priority,
                "value": float(value) if value is not None else None,
                "attributes": attributes or {},
            }
        )
        result.judged_at.append(closed or now)
        result.outcomes.append(None if kind == Stage.Kind.OPEN else kind == Stage.Kind.WON)
        result.scores[pk] = (score, origin)
    return result


def _interaction_counts(leads: QuerySet) -> dict[int, tuple[dict[str, int], datetime | None]]:
    before_close = Q(lead__closed_at__isnull=True) | Q(occurred_at__lte=F("lead__closed_at"))
    rows = (
        Interaction.objects.filter(before_close, lead__in=leads.order_by().values("pk"))
        .values_list("lead_id", "kind")
        .annotate(n=Count("id"), last=Max("occurred_at"))
        .order_by()
    )
    counts: dict[int, tuple[dict[str, int], datetime | None]] = {}
    for lead_id, kind, n, last in rows:
        kinds, latest = counts.get(lead_id, ({}, None))
        kinds[kind] = n
        counts[lead_id] = (kinds, last if latest is None or last > latest else latest)
    return counts
