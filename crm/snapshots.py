"""Agent performance over time: an hourly snapshot of each agent's figures, and the trend lines read from it.

The figures are crm.analytics' own, over the performance page's default period (90 days) as of the hour,
so a snapshot says what the page said then. A rerun for the same hour overwrites that hour's rows, so the
scheduler may tick twice; rows older than ANALYTICS_SNAPSHOT_RETENTION_DAYS are deleted by the same run.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm import analytics
from crm.models import AgentPerformance

SNAPSHOT_PERIOD = "90d"
FIGURES = [
    "assigned",
    "contacted",
    "won",
    "lost",
    "median_hours_to_first_contact",
    "interactions_per_lead",
    "overdue",
]


@transaction.atomic
def record_agent_performance(now: datetime | None = None) -> int:
    """Write every agent's figures as of the hour holding `now` (overwriting them); returns the rows."""
    now = now or timezone.now()
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    period = analytics.preset_period(SNAPSHOT_PERIOD, timezone.localdate(hour))
    rows = [
        AgentPerformance(agent_id=row.agent_id, hour=hour, **{name: getattr(row, name) for name in FIGURES})
        for row in analytics.agent_rows(period, now=now)
    ]
    AgentPerformance.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["agent", "hour"], update_fields=FIGURES
    )
    keep = timedelta(days=settings.ANALYTICS_SNAPSHOT_RETENTION_DAYS)
    AgentPerformance.objects.filter(hour__lt=hour - keep).delete()
    return len(rows)


def conversion_trend(period: analytics.Period, agent_id: int | None = None) -> dict:
    """Conversion rate (%) per agent per day in the period, from each day's last snapshot: Chart.js data.

    One query: the snapshots at the last snapshotted hour of each day.
    """
    start, end = period.bounds()
    snapshots = AgentPerformance.objects.filter(hour__lt=end)
    if start is not None:
        snapshots = snapshots.filter(hour__gte=start)
    if agent_id is not None:
        snapshots = snapshots.filter(agent_id=agent_id)
    tz = timezone.get_current_timezone()
    last_of_day = (
        snapshots.order_by()
        .annotate(day=TruncDate("hour", tzinfo=tz))
        .values("day")
        .annotate(last=Max("hour"))
        .values("last")
    )
    rows = (
        snapshots.filter(hour__in=Subquery(last_of_day))
        .order_by("hour", "agent__username")
        .values_list("hour", "agent__username", "won", "assigned")
    )
    days: list[str] = []
    series: dict[str, dict[str, float | None]] = {}
    for hour, agent, won, assigned in rows:
        day = timezone.localdate(hour).isoformat()
        if not days or days[-1] != day:
            days.append(day)
        series.setdefault(agent, {})[day] = round(won / assigned * 100, 1) if assigned else None
    return {
        "labels": days,
        "datasets": [
            {"label": agent, "data": [values.get(day) for day in days]} for agent, values in series.items()
        ],
    }
