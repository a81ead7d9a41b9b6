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
    Aggregate,
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
from crm.people import OWNER_NAME_FIELDS, full_name, name_from, row_name

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


class _Middle(Aggregate):
    """Postgres' `percentile_disc(0.5)`: a group's lower middle value in ascending order, its upper middle
    one in descending order (the same value when the group's size is odd)."""

    function = "percentile_disc"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s%(direction)s)"

    def __init__(self, expression, descending: bool = False, **extra):
        super().__init__(expression, direction=" DESC" if descending else "", **extra)


def _medians(rows: QuerySet, key: str, value) -> dict:
    """{group: (median of `value`, rows in the group)} per `key`, in SQL, at most two values per group
    leaving the database whatever the data's size: the mean of the one or two middle values.

    Postgres picks them with an ordered-set aggregate per group (about half the work of ranking every
    row); elsewhere each group's rows are ranked in a window and the middle ones kept. Rows that tie hold
    the same value, so no tiebreak is needed, and a covering index (lead_period_figures) can answer.
    """
    rows = rows.order_by()
    if connection.vendor == "postgresql":
        middles = rows.values(key).annotate(
            _lo=_Middle(value), _hi=_Middle(value, descending=True), _n=Count("*")
        )
        return {row[key]: ((row["_lo"] + row["_hi"]) / 2, row["_n"]) for row in middles}
    ranked = rows.annotate(
        _v=value,
        _rank=Window(RowNumber(), partition_by=[F(key)], order_by=[F("_v").asc()]),
        _n=Window(Count("*"), partition_by=[F(key)]),
    )
    middle = ranked.filter(Q(_rank=(F("_n") + 1) / 2) | Q(_rank=(F("_n") + 2) / 2))
    found: dict = {}
    for group, v, n in middle.values_list(key, "_v", "_n"):
        found.setdefault(group, ([], n))[0].append(v)
    return {group: (sum(vs, type(vs[0])(0)) / len(vs), n) for group, (vs, n) in found.items()}


def _count(condition: Q | None = None) -> Count:
    """Leads (matching `condition`) in a grouped row. Counts `created_at`, never null, rather than the key:
    it is in lead_period_figures with every column the figures read, so Postgres counts from the index
    alone (COUNT(*) cannot carry a filter in Django)."""
    return Count("created_at", filter=condition)


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

    Four queries whatever the data: the period's leads by owner, their medians to first contact, overdue
    leads by owner; the users.
    Leads nobody owns have no agent and no row.
    """
    now = now or timezone.now()
    leads = period.leads().filter(owner__isnull=False)
    if agent_id is not None:
        leads = leads.filter(owner_id=agent_id)
    # The interaction figures come from the leads themselves (`first_contact_at`, `interaction_count`, kept
    # by services.log_interaction): a period reads its leads, never their interactions.
    counts = {
        row["owner_id"]: row
        for row in leads.order_by()
        .values("owner_id")
        .annotate(
            assigned=_count(),
            won=_count(won_q()),
            lost=_count(lost_q()),
            contacted=_count(Q(first_contact_at__isnull=False)),
            interactions=Sum("interaction_count"),
        )
    }
    to_first_contact = _medians(
        leads.filter(first_contact_at__isnull=False), "owner_id", _duration("first_contact_at", "created_at")
    )
    overdue_leads = Lead.objects.overdue(now).filter(owner__isnull=False)
    if agent_id is not None:
        overdue_leads = overdue_leads.filter(owner_id=agent_id)
    overdue = dict(overdue_leads.order_by().values_list("owner_id").annotate(n=Count("*")))

    users = get_user_model().objects.filter(
        Q(pk=agent_id)
        if agent_id is not None
        else Q(pk__in=[*counts, *overdue]) | Q(groups__name=AGENTS_GROUP, is_active=True)
    )
    rows = []
    for user in users.distinct().order_by("username"):
        row = AgentRow(user.pk, user.get_username(), full_name(user))
        found = counts.get(user.pk, {})
        row.assigned, row.won, row.lost = found.get("assigned", 0), found.get("won", 0), found.get("lost", 0)
        row.contacted, row.interactions = found.get("contacted", 0), found.get("interactions") or 0
        median, _ = to_first_contact.get(user.pk, (None, None))
        row.median_hours_to_first_contact = None if median is None else median.total_seconds() / 3600
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

    Three queries whatever the data: the period's leads grouped by source (and month, for the cells: the
    sources' totals are the sums of their months), the medians to won, the sources.
    """
    leads = period.leads()
    tz = timezone.get_current_timezone()
    groups = leads.order_by()
    if with_months:
        groups = groups.annotate(month=TruncMonth("created_at", tzinfo=tz)).values("source_id", "month")
    else:
        groups = groups.values("source_id")
    groups = groups.annotate(
        leads=_count(),
        won=_count(won_q()),
        lost=_count(lost_q()),
        open_scored=Count("lead_score", filter=open_q()),
        open_score=Sum("lead_score", filter=open_q()),
        first=Min("created_at"),
    )
    grouped: dict[int | None, dict] = {}
    by_month: dict[tuple[int | None, date], dict] = {}
    for group in groups:
        totals = grouped.setdefault(
            group["source_id"], {"leads": 0, "won": 0, "lost": 0, "open_scored": 0, "open_score": 0}
        )
        for name in ("leads", "won", "lost", "open_scored"):
            totals[name] += group[name]
        totals["open_score"] += group["open_score"] or 0
        totals["first"] = min(totals.get("first", group["first"]), group["first"])
        if with_months:
            month = group["month"]
            by_month[group["source_id"], month.date() if isinstance(month, datetime) else month] = group
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
        if found.get("open_scored"):
            row.avg_open_score = found["open_score"] / found["open_scored"]
        median, _ = to_won.get(row.source_id, (None, None))
        row.median_days_to_won = None if median is None else median.total_seconds() / 86400
        if row.monthly_cost is not None:
            row.cost = (row.monthly_cost * Decimal(str(round(months, 4)))).quantize(Decimal("0.01"))
    overall = Rate(sum(r.won for r in rows), sum(r.leads for r in rows))
    report = SourceReport(period, rows, overall, [])
    report.recommendations = recommendations(rows)
    if with_months:
        _fill_months(report, by_month, first_created)
    return report


def _fill_months(report: SourceReport, counts: dict, first_created: datetime | None) -> None:
    """A cell per source and month from the (source, month) groups, empty months included."""
    report.months = report.period.months(timezone.localdate(first_created) if first_created else None)
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


def dashboard(now: datetime | None = None, insights: bool = True) -> Dashboard:
    """Everything the managers' dashboard shows: seven queries whatever the data, ten with the insights.

    A socket's refresh (`insights=False`) reads the tiles, charts and activity, what a change moves; the
    insights are lists of what time makes due or stale, read with the page.
    """
    now = now or timezone.now()
    on = timezone.localdate(now)
    stages = list(Stage.objects.all())
    # Open leads per stage and owner with their value and scores (in lead_stage_owner_totals' order: no
    # sort, no table rows on Postgres), then the closed stages' counts: every lead is read once, by index.
    open_ids = [s.pk for s in stages if s.kind == Stage.Kind.OPEN]
    closed_ids = [s.pk for s in stages if s.kind != Stage.Kind.OPEN]  # named, so the index finds them
    by_stage = dict(
        Lead.objects.filter(stage__in=closed_ids).order_by().values_list("stage_id").annotate(n=Count("*"))
    )
    by_owner: dict[int | None, int] = {}
    open_leads, open_value, scored, score_sum = 0, Decimal(0), 0, 0
    for row in (
        Lead.objects.filter(stage__in=open_ids)
        .order_by()
        .values("stage_id", "owner_id")
        .annotate(
            n=Count("*"), value=Sum("expected_value"), scored=Count("lead_score"), score=Sum("lead_score")
        )
    ):
        by_stage[row["stage_id"]] = by_stage.get(row["stage_id"], 0) + row["n"]
        by_owner[row["owner_id"]] = by_owner.get(row["owner_id"], 0) + row["n"]
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
    board = Dashboard(tiles, charts, [], [], [], recent_activity({s.pk: s.name for s in stages}))
    if insights:
        board.untouched, board.overdue, board.waking = _insights(now)
    return board


def _insights(now: datetime) -> tuple[list, list, list]:
    """High-score leads nobody touched for a week, overdue follow-ups, snoozed leads waking today."""
    day_start, day_end = _local_day_bounds(timezone.localdate(now))
    card_fields = ("pk", "name", "company", "lead_score", "follow_up_at", "snoozed_until", *OWNER_NAME_FIELDS)
    return (
        _named(
            Lead.objects.open()
            .filter(lead_score__gte=HIGH_SCORE)
            .untouched(now - timedelta(days=UNTOUCHED_DAYS))
            .order_by("-lead_score", "pk")
            .values(*card_fields)[:INSIGHT_LIMIT]
        ),
        _named(Lead.objects.overdue(now).order_by("follow_up_at", "pk").values(*card_fields)[:INSIGHT_LIMIT]),
        _named(
            Lead.objects.snoozed(now)
            .filter(snoozed_until__gte=day_start, snoozed_until__lt=day_end)
            .order_by("snoozed_until", "pk")
            .values(*card_fields)[:INSIGHT_LIMIT]
        ),
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
        .annotate(n=_count(), won=_count(won_q()))
    )
    return {row["day"]: (row["n"], row["won"]) for row in rows}


PEOPLE = ("agent__first_name", "agent__last_name", "agent__username")
MOVERS = ("history_user__first_name", "history_user__last_name", "history_user__username")


def recent_activity(stage_names: dict[int, str], limit: int = ACTIVITY_LIMIT) -> list[Activity]:
    """The latest interactions and moves, newest first (by when they were recorded): the few columns shown,
    not the rows (a history row carries every field of the lead)."""
    interactions = Interaction.objects.order_by("-pk").values_list(
        *PEOPLE, "occurred_at", "lead_id", "lead__name", "kind"
    )[:limit]
    moves = (
        Lead.history.filter(history_change_reason="moved")
        .order_by("-history_id")
        .values_list(*MOVERS, "history_date", "id", "name", "stage_id")[:limit]
    )
    kinds = dict(Interaction.Kind.choices)
    items = [
        Activity(
            when, (name_from(*who) or "someone"), lead_id, name, f"logged a {kinds.get(kind, kind).lower()}"
        )
        for *who, when, lead_id, name, kind in interactions
    ]
    items += [
        Activity(
            when,
            (name_from(*who) or "someone"),
            lead_id,
            name,
            f"moved it to {stage_names.get(stage_id, '?')}",
        )
        for *who, when, lead_id, name, stage_id in moves
    ]
    return sorted(items, key=lambda a: a.when, reverse=True)[:limit]
