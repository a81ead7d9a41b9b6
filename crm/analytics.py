"""Manager analytics, defined once: every page, CSV, snapshot and test reads its figures from here.

For a period (leads created from `start` to `end`, both days included, in the site's time zone):
`leads`; `won` / `lost` (of those, in a won / lost stage); `conversion_rate` = won / leads; `win_rate` =
won / (won + lost). Per agent (the owner): `assigned`, `contacted` (with at least one interaction),
`contact_rate`, `median_hours_to_first_contact`, `interactions_per_lead`, and `overdue` (open follow-ups
past due now, whatever the period). Aggregation happens in SQL, in a fixed number of queries; Python only
combines the grouped rows. Rates are `Rate`s (a count and its n), fractions in CSV, percentages on screen.
"""

import calendar
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate, TruncMonth
from django.utils import timezone

from crm.models import (
    AGENTS_GROUP,
    Interaction,
    Lead,
    LeadSource,
    Stage,
    created_between_q,
    lost_q,
    open_q,
    won_q,
)
from crm.people import OWNER_NAME_FIELDS, full_name, row_name

# --- Periods ----------------------------------------------------------------------------------------

PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90}
PRESETS = ("7d", "30d", "90d", "12m", "all")
PRESET_LABELS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "12m": "Last 12 months",
    "all": "All time",
}


class PeriodError(ValueError):
    """A period the user asked for that makes no sense; views answer 400 with its message."""


@dataclass(frozen=True)
class Period:
    """Leads created from `start` to `end`, both days included (local dates); `start` None is all time."""

    start: date | None
    end: date
    preset: str = ""  # the preset it came from, "" for a from/to range

    @property
    def label(self) -> str:
        if self.preset:
            return PRESET_LABELS[self.preset]
        return f"{self.start or 'the start'} to {self.end}"

    def bounds(self) -> tuple[datetime | None, datetime]:
        """[start, end) as aware times: local midnight of the first day, and of the day after the last."""
        tz = timezone.get_current_timezone()
        start = None if self.start is None else datetime.combine(self.start, time.min, tzinfo=tz)
        return start, datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz)

    def leads(self) -> QuerySet:
        return Lead.objects.created_between(*self.bounds())

    def lead_q(self, prefix: str = "") -> Q:
        return created_between_q(*self.bounds(), prefix=prefix)

    def months(self, first_lead: date | None = None) -> list[date]:
        """The first day of each month the period touches (all time: from the first lead's month)."""
        start = self.start or first_lead or self.end
        month, last = start.replace(day=1), self.end.replace(day=1)
        months = []
        while month <= last:
            months.append(month)
            month = _add_months(month, 1)
        return months

    def query(self) -> str:
        """The query string that asks for this period again."""
        if self.preset:
            return f"period={self.preset}"
        return f"from={self.start.isoformat() if self.start else ''}&to={self.end.isoformat()}"


def today() -> date:
    return timezone.localdate()


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def preset_period(preset: str, on: date | None = None) -> Period:
    """7d/30d/90d: that many days ending today; 12m: the 12 calendar months ending with this one; all."""
    on = on or today()
    if preset in PRESET_DAYS:
        return Period(on - timedelta(days=PRESET_DAYS[preset] - 1), on, preset)
    if preset == "12m":
        return Period(_add_months(on.replace(day=1), -11), on, preset)
    if preset == "all":
        return Period(None, on, preset)
    raise PeriodError(f"“{preset}” is not a period: use one of {', '.join(PRESETS)}.")


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"“{value[:20]}” is not a date for {name}: use YYYY-MM-DD.") from None


def parse_period(params, default: str, on: date | None = None) -> Period:
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD` (either may be left out) or `?period=<preset>`; else `default`."""
    start, end = params.get("from", "").strip(), params.get("to", "").strip()
    if start or end:
        period = Period(
            _parse_day(start, "from") if start else None, _parse_day(end, "to") if end else (on or today())
        )
        if period.start and period.start > period.end:
            raise PeriodError("The period ends before it starts.")
        return period
    return preset_period(params.get("period", "").strip() or default, on)


# --- Rates and statistics -------------------------------------------------------------------------

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


@dataclass(frozen=True)
class Rate:
    """`count` out of `n`: a fraction for CSV, a percentage for people, never without its n."""

    count: int
    n: int

    @property
    def value(self) -> float | None:
        return self.count / self.n if self.n else None

    @property
    def percent(self) -> str:
        return "—" if self.value is None else f"{self.value * 100:.1f}%"

    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.count, self.n)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval (95% by default): honest near 0% and 100% and for small n, unlike p ± 2se."""
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p_value(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test of k1/n1 against k2/n2."""
    if not n1 or not n2:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0  # both all won or all lost: no difference to speak of
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def _medians(rows: QuerySet, key: str, value, tiebreak: str = "pk") -> dict:
    """{group: (median of `value`, rows in the group)} per `key`, in SQL: rank each group's rows and keep
    the one or two middle ones, so at most two rows per group leave the database whatever the data's size."""
    ranked = rows.order_by().annotate(
        _v=value,
        _rank=Window(RowNumber(), partition_by=[F(key)], order_by=[F("_v").asc(), F(tiebreak).asc()]),
        _n=Window(Count("*"), partition_by=[F(key)]),
    )
    middle = ranked.filter(Q(_rank=(F("_n") + 1) / 2) | Q(_rank=(F("_n") + 2) / 2))
    found: dict = {}
    for group, v, n in middle.values_list(key, "_v", "_n"):
        found.setdefault(group, ([], n))[0].append(v)
    return {group: (sum(vs, type(vs[0])(0)) / len(vs), n) for group, (vs, n) in found.items()}


# Seconds between two timestamps in SQL, per database: the one thing the ORM cannot say over a grouped row.
SECONDS_BETWEEN = {
    "postgresql": "EXTRACT(EPOCH FROM ({later} - {earlier}))",
    "sqlite": "((julianday({later}) - julianday({earlier})) * 86400.0)",
}


def _first_contacts(per_lead: QuerySet) -> dict:
    """{owner: (median seconds from creation to first contact, contacted leads, interactions)} from
    `per_lead` rows (lead, owner, created, first contact, interactions): ranked and summed per owner in SQL
    around the grouped query, so the database reads each lead's interactions once and returns at most two
    rows per owner."""
    sql, params = per_lead.query.sql_with_params()
    delay = SECONDS_BETWEEN[connection.vendor].format(later="t.first_contact", earlier="t.created")
    ranked = f"""
        SELECT owner, delay, ROW_NUMBER() OVER (PARTITION BY owner ORDER BY delay, lead_id) AS rank_,
               COUNT(*) OVER (PARTITION BY owner) AS n_, SUM(logged) OVER (PARTITION BY owner) AS logged_
        FROM (SELECT t.lead_id, t.owner, t.logged, {delay} AS delay FROM ({sql}) AS t) AS d
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT owner, delay, n_, logged_ FROM ({ranked}) AS r"
            " WHERE rank_ IN ((n_ + 1) / 2, (n_ + 2) / 2)",
            params,
        )
        found: dict = {}
        for owner, delay, n, logged in cursor.fetchall():
            found.setdefault(owner, ([], n, int(logged)))[0].append(round(float(delay), 3))  # julianday: ms
    return {owner: (sum(delays) / len(delays), n, logged) for owner, (delays, n, logged) in found.items()}


def _duration(later: str, earlier: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())


# --- Per agent ------------------------------------------------------------------------------------


@dataclass
class AgentRow:
    agent_id: int
    agent: str  # the username, as in the CSV
    name: str
    assigned: int = 0
    contacted: int = 0
    won: int = 0
    lost: int = 0
    interactions: int = 0
    median_hours_to_first_contact: float | None = None
    overdue: int = 0

    @property
    def contact_rate(self) -> Rate:
        return Rate(self.contacted, self.assigned)

    @property
    def conversion_rate(self) -> Rate:
        return Rate(self.won, self.assigned)

    @property
    def win_rate(self) -> Rate:
        return Rate(self.won, self.won + self.lost)

    @property
    def interactions_per_lead(self) -> float | None:
        return self.interactions / self.assigned if self.assigned else None


def agent_rows(period: Period, agent_id: int | None = None, now: datetime | None = None) -> list[AgentRow]:
    """One row per agent (every active agent, and anyone else owning leads in the period), by username.

    Four queries whatever the data: leads, interactions and overdue by owner; the users.
    Leads nobody owns have no agent and no row.
    """
    now = now or timezone.now()
    leads = period.leads().filter(owner__isnull=False)
    if agent_id is not None:
        leads = leads.filter(owner_id=agent_id)
    counts = {
        row["owner_id"]: row
        for row in leads.order_by()
        .values("owner_id")
        .annotate(assigned=Count("pk"), won=Count("pk", filter=won_q()), lost=Count("pk", filter=lost_q()))
    }
    # Per lead, its first interaction and its count (one pass over the leads' interactions, grouped by lead);
    # per owner, the median delay to it, the leads that had one (contacted) and the interactions.
    interactions = Interaction.objects.filter(period.lead_q("lead__"), lead__owner__isnull=False)
    if agent_id is not None:
        interactions = interactions.filter(lead__owner_id=agent_id)
    per_lead = (
        interactions.order_by()
        .annotate(owner=F("lead__owner_id"), created=F("lead__created_at"))
        .values("lead_id", "owner", "created")
        .annotate(first_contact=Min("occurred_at"), logged=Count("*"))
    )
    first_contacts = _first_contacts(per_lead)
    overdue_leads = Lead.objects.overdue(now).filter(owner__isnull=False)
    if agent_id is not None:
        overdue_leads = overdue_leads.filter(owner_id=agent_id)
    overdue = dict(overdue_leads.order_by().values_list("owner_id").annotate(n=Count("pk")))

    users = get_user_model().objects.filter(
        Q(pk=agent_id)
        if agent_id is not None
        else Q(pk__in=[*counts, *overdue]) | Q(groups__name=AGENTS_GROUP, is_active=True)
    )
    rows = []
    for user in users.distinct().order_by("username"):
        row = AgentRow(user.pk, user.get_username(), full_name(user))
        row.assigned = counts.get(user.pk, {}).get("assigned", 0)
        row.won = counts.get(user.pk, {}).get("won", 0)
        row.lost = counts.get(user.pk, {}).get("lost", 0)
        median, row.contacted, row.interactions = first_contacts.get(user.pk, (None, 0, 0))
        row.median_hours_to_first_contact = None if median is None else median / 3600
        row.overdue = overdue.get(user.pk, 0)
        rows.append(row)
    return rows


# --- Per source -----------------------------------------------------------------------------------


def heatmap_bands() -> tuple[float, float]:
    """(red below, green at or above) as multiples of the team's overall rate, from settings."""
    return settings.ANALYTICS_HEATMAP_RED_BELOW, settings.ANALYTICS_HEATMAP_GREEN_AT


def band(rate: Rate, overall: Rate) -> str:
    """A heatmap cell's colour: grey below the minimum count, else green / yellow / red against `overall`."""
    if rate.n < settings.ANALYTICS_HEATMAP_MIN_LEADS or overall.value is None:
        return "grey"
    red_below, green_at = heatmap_bands()
    # Compared exactly (count/n against band x overall count/n, cross-multiplied): in floats 12/100 falls
    # below 1.2 x 10/100 and an edge cell would change colour.
    cell, team = Decimal(rate.count * overall.n), Decimal(overall.count * rate.n)
    if cell >= Decimal(str(green_at)) * team:
        return "green"
    if cell < Decimal(str(red_below)) * team:
        return "red"
    return "yellow"


@dataclass
class SourceRow:
    source_id: int | None
    source: str  # "" for leads without a source
    active: bool = True
    monthly_cost: Decimal | None = None
    leads: int = 0
    won: int = 0
    lost: int = 0
    avg_open_score: float | None = None
    median_days_to_won: float | None = None
    cost: Decimal | None = None  # the source's cost over the period, where a monthly cost is set

    @property
    def conversion_rate(self) -> Rate:
        return Rate(self.won, self.leads)

    @property
    def win_rate(self) -> Rate:
        return Rate(self.won, self.won + self.lost)

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.conversion_rate.interval()

    @property
    def cost_per_won(self) -> Decimal | None:
        if self.cost is None or not self.won:
            return None
        return (self.cost / self.won).quantize(Decimal("0.01"))


@dataclass
class Cell:
    month: date
    rate: Rate
    band: str


@dataclass
class Recommendation:
    source: str
    direction: str  # "above" or "below"
    rate: Rate
    rest: Rate
    p_value: float

    @property
    def text(self) -> str:
        pct = f"{self.rate.value * 100:.0f}%"
        rest = f"{self.rest.value * 100:.0f}%"
        if self.direction == "above":
            return (
                f"{self.source} converts at {pct} (n={self.rate.n}) against {rest} for the other sources: "
                "give it more budget."
            )
        return (
            f"{self.source} converts at {pct} (n={self.rate.n}) against {rest} for the other sources, "
            "well below: review it."
        )


@dataclass
class SourceReport:
    period: Period
    rows: list[SourceRow]
    overall: Rate
    months: list[date]
    cells: dict[int | None, list[Cell]] = field(default_factory=dict)  # by source_id, one per month
    recommendations: list[Recommendation] = field(default_factory=list)


def _period_months(period: Period, first_created: datetime | None) -> float:
    """How many months (of 30.44 days) the period spans, for a monthly cost: all time starts at the first
    lead."""
    start = period.start or (timezone.localdate(first_created) if first_created else period.end)
    return ((period.end - start).days + 1) / (365.25 / 12)


def source_report(period: Period, with_months: bool = True) -> SourceReport:
    """The heatmap page's figures: a row per source, a cell per source and month, and what is significant.

    Four queries (five with the months): leads grouped by source, medians to won, the sources, months.
    """
    leads = period.leads()
    grouped = {
        row["source_id"]: row
        for row in leads.order_by()
        .values("source_id")
        .annotate(
            leads=Count("pk"),
            won=Count("pk", filter=won_q()),
            lost=Count("pk", filter=lost_q()),
            avg_open_score=Avg("lead_score", filter=open_q()),
            first=Min("created_at"),
        )
    }
    to_won = _medians(
        leads.won().filter(closed_at__isnull=False), "source_id", _duration("closed_at", "created_at")
    )
    first_created = min((row["first"] for row in grouped.values()), default=None)
    months = _period_months(period, first_created)
    rows = []
    for source in LeadSource.objects.all():
        if source.pk in grouped or source.active:
            rows.append(SourceRow(source.pk, source.name, source.active, source.monthly_cost))
    if None in grouped:
        rows.append(SourceRow(None, ""))
    for row in rows:
        found = grouped.get(row.source_id, {})
        row.leads, row.won, row.lost = found.get("leads", 0), found.get("won", 0), found.get("lost", 0)
        row.avg_open_score = found.get("avg_open_score")
        median, _ = to_won.get(row.source_id, (None, None))
        row.median_days_to_won = None if median is None else median.total_seconds() / 86400
        if row.monthly_cost is not None:
            row.cost = (row.monthly_cost * Decimal(str(round(months, 4)))).quantize(Decimal("0.01"))
    overall = Rate(sum(r.won for r in rows), sum(r.leads for r in rows))
    report = SourceReport(period, rows, overall, [])
    report.recommendations = recommendations(rows)
    if with_months:
        _fill_months(report, leads, first_created)
    return report


def _fill_months(report: SourceReport, leads: QuerySet, first_created: datetime | None) -> None:
    tz = timezone.get_current_timezone()
    report.months = report.period.months(timezone.localdate(first_created) if first_created else None)
    counts = {
        (row["source_id"], row["month"].date() if isinstance(row["month"], datetime) else row["month"]): row
        for row in leads.order_by()
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("source_id", "month")
        .annotate(leads=Count("pk"), won=Count("pk", filter=won_q()))
    }
    for row in report.rows:
        report.cells[row.source_id] = []
        for month in report.months:
            found = counts.get((row.source_id, month), {})
            rate = Rate(found.get("won", 0), found.get("leads", 0))
            report.cells[row.source_id].append(Cell(month, rate, band(rate, report.overall)))


def recommendations(rows: list[SourceRow]) -> list[Recommendation]:
    """Each active source whose conversion differs from the other sources' (pooled) by a two-proportion
    z-test at p < ANALYTICS_SIGNIFICANCE, with at least ANALYTICS_MIN_TEST_LEADS leads on both sides."""
    minimum, alpha = settings.ANALYTICS_MIN_TEST_LEADS, settings.ANALYTICS_SIGNIFICANCE
    sourced = [r for r in rows if r.source_id is not None]
    total_won, total_leads = sum(r.won for r in sourced), sum(r.leads for r in sourced)
    found = []
    for row in sourced:
        rest = Rate(total_won - row.won, total_leads - row.leads)
        if not row.active or row.leads < minimum or rest.n < minimum:
            continue
        p_value = two_proportion_p_value(row.won, row.leads, rest.count, rest.n)
        if p_value is not None and p_value < alpha:
            direction = "above" if row.conversion_rate.value > rest.value else "below"
            found.append(Recommendation(row.source, direction, row.conversion_rate, rest, p_value))
    return sorted(found, key=lambda r: r.p_value)


# --- The dashboard --------------------------------------------------------------------------------

HIGH_SCORE = 80
UNTOUCHED_DAYS = 7
INSIGHT_LIMIT = 10
ACTIVITY_LIMIT = 12
CHART_WEEKS = 12


@dataclass
class Tiles:
    open_leads: int
    new_this_week: int
    conversion_30d: Rate
    open_value: Decimal
    average_score: float | None
    scored: int  # the n of the average score


@dataclass
class Activity:
    when: datetime
    who: str
    lead_id: int
    lead: str
    what: str


@dataclass
class Dashboard:
    tiles: Tiles
    charts: dict
    untouched: list
    overdue: list
    waking: list
    activity: list[Activity]


def dashboard(now: datetime | None = None) -> Dashboard:
    """Everything the live part of the managers' dashboard shows, in ten queries whatever the data."""
    now = now or timezone.now()
    on = timezone.localdate(now)
    stages = list(Stage.objects.all())
    # Counts per stage, then the open leads per owner with their value and scores: both read from indexes
    # alone on Postgres (the second from lead_stage_owner_totals), never the table's rows.
    by_stage = dict(Lead.objects.order_by().values_list("stage_id").annotate(n=Count("*")))
    by_owner: dict[int | None, int] = {}
    open_leads, open_value, scored, score_sum = 0, Decimal(0), 0, 0
    for row in (
        Lead.objects.open()
        .order_by()
        .values("owner_id")
        .annotate(
            n=Count("*"), value=Sum("expected_value"), scored=Count("lead_score"), score=Sum("lead_score")
        )
    ):
        by_owner[row["owner_id"]] = row["n"]
        open_leads += row["n"]
        open_value += row["value"] or 0
        scored += row["scored"]
        score_sum += row["score"] or 0
    days = _daily_cohorts(on, CHART_WEEKS * 7)
    week, month = preset_period("7d", on), preset_period("30d", on)
    tiles = Tiles(
        open_leads=open_leads,
        new_this_week=sum(n for day, (n, _) in days.items() if day >= week.start),
        conversion_30d=Rate(
            sum(won for day, (_, won) in days.items() if day >= month.start),
            sum(n for day, (n, _) in days.items() if day >= month.start),
        ),
        open_value=open_value,
        average_score=score_sum / scored if scored else None,
        scored=scored,
    )
    names = {
        user.pk: full_name(user)
        for user in get_user_model().objects.filter(pk__in=[pk for pk in by_owner if pk])
    }
    weeks = []
    for i in reversed(range(CHART_WEEKS)):
        last = on - timedelta(days=7 * i)
        first = last - timedelta(days=6)
        in_week = [v for day, v in days.items() if first <= day <= last]
        weeks.append((first, Rate(sum(w for _, w in in_week), sum(n for n, _ in in_week))))
    agents = sorted(((names.get(pk, "Unassigned"), n) for pk, n in by_owner.items()), key=lambda x: -x[1])
    charts = {
        "stages": {"labels": [s.name for s in stages], "values": [by_stage.get(s.pk, 0) for s in stages]},
        "conversion": {
            "labels": [first.strftime("%b %d") for first, _ in weeks],
            "values": [None if r.value is None else round(r.value * 100, 1) for _, r in weeks],
            "n": [r.n for _, r in weeks],
        },
        "agents": {"labels": [a for a, _ in agents], "values": [n for _, n in agents]},
    }
    day_start, day_end = _local_day_bounds(on)
    card_fields = ("pk", "name", "company", "lead_score", "follow_up_at", "snoozed_until", *OWNER_NAME_FIELDS)
    return Dashboard(
        tiles=tiles,
        charts=charts,
        untouched=_named(
            Lead.objects.open()
            .filter(lead_score__gte=HIGH_SCORE)
            .untouched(now - timedelta(days=UNTOUCHED_DAYS))
            .order_by("-lead_score", "pk")
            .values(*card_fields)[:INSIGHT_LIMIT]
        ),
        overdue=_named(
            Lead.objects.overdue(now).order_by("follow_up_at", "pk").values(*card_fields)[:INSIGHT_LIMIT]
        ),
        waking=_named(
            Lead.objects.snoozed(now)
            .filter(snoozed_until__gte=day_start, snoozed_until__lt=day_end)
            .order_by("snoozed_until", "pk")
            .values(*card_fields)[:INSIGHT_LIMIT]
        ),
        activity=recent_activity({s.pk: s.name for s in stages}),
    )


def _named(rows) -> list[dict]:
    """Insight rows with their owner's name to show."""
    return [{**row, "owner_name": row_name(row)} for row in rows]


def _local_day_bounds(on: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return datetime.combine(on, time.min, tzinfo=tz), datetime.combine(
        on + timedelta(days=1), time.min, tzinfo=tz
    )


def _daily_cohorts(on: date, days: int) -> dict[date, tuple[int, int]]:
    """(leads, won) per local day of creation over the last `days` days: one query feeds three figures."""
    period = Period(on - timedelta(days=days - 1), on)
    rows = (
        period.leads()
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("pk"), won=Count("pk", filter=won_q()))
    )
    return {row["day"]: (row["n"], row["won"]) for row in rows}


def recent_activity(stage_names: dict[int, str], limit: int = ACTIVITY_LIMIT) -> list[Activity]:
    """The latest interactions and moves, newest first (by when they were recorded)."""
    interactions = Interaction.objects.select_related("lead", "agent").order_by("-pk")[:limit]
    moves = (
        Lead.history.filter(history_change_reason="moved")
        .select_related("history_user")
        .order_by("-history_id")[:limit]
    )
    items = [
        Activity(
            i.occurred_at,
            full_name(i.agent, "someone"),
            i.lead_id,
            i.lead.name,
            f"logged a {i.get_kind_display().lower()}",
        )
        for i in interactions
    ]
    items += [
        Activity(
            m.history_date,
            full_name(m.history_user, "someone"),
            m.id,
            m.name,
            f"moved it to {stage_names.get(m.stage_id, '?')}",
        )
        for m in moves
    ]
    return sorted(items, key=lambda a: a.when, reverse=True)[:limit]
