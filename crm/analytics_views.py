"""The analytics pages and their CSV: parse the period, ask crm.analytics, render a page or a table."""

import csv
import io
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm import analytics, snapshots
from crm.exporting import guard_cell
from crm.permissions import is_manager
from crm.views import manager_required, message_response

PERFORMANCE_COLUMNS = [
    "agent",
    "assigned",
    "contacted",
    "contact_rate",
    "won",
    "lost",
    "conversion_rate",
    "win_rate",
    "median_hours_to_first_contact",
    "interactions_per_lead",
    "overdue",
]
SOURCE_COLUMNS = [
    "source",
    "leads",
    "won",
    "lost",
    "conversion_rate",
    "ci_low",
    "ci_high",
    "avg_open_score",
    "median_days_to_won",
]
MONTH_COLUMNS = ["source", "month", "leads", "won", "conversion_rate"]
RECOMMENDATION_COLUMNS = ["source", "direction", "conversion_rate", "rest_rate", "n", "p_value"]

# The performance table's sortable columns: ?sort=<name> ascending, ?sort=-<name> descending.
PERFORMANCE_HEADINGS = [
    ("agent", "Agent"),
    ("assigned", "Assigned"),
    ("contact_rate", "Contact rate"),
    ("won", "Won"),
    ("conversion_rate", "Conversion"),
    ("win_rate", "Win rate"),
    ("median_hours_to_first_contact", "First contact (median)"),
    ("interactions_per_lead", "Interactions / lead"),
    ("overdue", "Overdue"),
]
PERFORMANCE_SORTS = {
    "agent": lambda r: r.agent,
    "assigned": lambda r: r.assigned,
    "contact_rate": lambda r: r.contact_rate.value,
    "won": lambda r: r.won,
    "conversion_rate": lambda r: r.conversion_rate.value,
    "win_rate": lambda r: r.win_rate.value,
    "median_hours_to_first_contact": lambda r: r.median_hours_to_first_contact,
    "interactions_per_lead": lambda r: r.interactions_per_lead,
    "overdue": lambda r: r.overdue,
}
HEATMAP_REFUSAL = "The source heatmap is for managers."
# The period each table shows when none is asked for (the pages' and the API's).
PERFORMANCE_PERIOD = "90d"
SOURCES_PERIOD = "12m"


def cell(value) -> str:
    """A CSV cell: empty for no value, fractions to 6 places, text guarded against spreadsheet formulas."""
    if value is None:
        return ""
    if isinstance(value, analytics.Rate):
        value = value.value
        return "" if value is None else cell(value)
    if isinstance(value, float):
        return repr(round(value, 6))
    return guard_cell(str(value))


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(value) for value in row] for row in rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _sorted(rows: list, key: str) -> tuple[list, str]:
    name = key.removeprefix("-")
    if name not in PERFORMANCE_SORTS:
        return rows, "agent"
    value = PERFORMANCE_SORTS[name]
    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]  # no figure: last, whichever the direction
    return sorted(present, key=value, reverse=key.startswith("-")) + missing, key


def rows_for(user) -> int | None:
    """Whose performance row a user sees: None (every agent's) for managers, an agent their own."""
    return None if is_manager(user) else user.pk


def _period_or_400(request: HttpRequest, default: str):
    try:
        return analytics.parse_period(request.GET, default), None
    except analytics.PeriodError as error:
        return None, message_response(request, 400, str(error))


def _chart(labels: list[str], **series: list) -> dict:
    return {"labels": labels, "datasets": [{"label": name, "data": data} for name, data in series.items()]}


def _percent(rate: analytics.Rate) -> float | None:
    return None if rate.value is None else round(rate.value * 100, 1)


@login_required
@require_GET
def performance(request: HttpRequest) -> HttpResponse:
    """Managers see every agent; an agent sees their own row only."""
    period, refusal = _period_or_400(request, PERFORMANCE_PERIOD)
    if refusal:
        return refusal
    agent_id = rows_for(request.user)
    rows, sort = _sorted(analytics.agent_rows(period, agent_id=agent_id), request.GET.get("sort", "agent"))
    if request.GET.get("format") == "csv":
        return csv_response(
            "performance.csv",
            PERFORMANCE_COLUMNS,
            (
                (
                    r.agent, r.assigned, r.contacted, r.contact_rate, r.won, r.lost, r.conversion_rate,
                    r.win_rate, r.median_hours_to_first_contact, r.interactions_per_lead, r.overdue,
                )
                for r in rows
            ),
        )  # fmt: skip
    labels = [r.agent for r in rows]
    context = {
        "period": period,
        "presets": analytics.PRESET_LABELS,
        "rows": rows,
        "sort": sort,
        "columns": PERFORMANCE_HEADINGS,
        "rates_chart": _chart(
            labels,
            **{
                "Conversion rate (%)": [_percent(r.conversion_rate) for r in rows],
                "Contact rate (%)": [_percent(r.contact_rate) for r in rows],
            },
        ),
        "trend_chart": snapshots.conversion_trend(period, agent_id),
    }
    return render(request, "crm/analytics/performance.html", context)


@require_GET
@manager_required(HEATMAP_REFUSAL)
def source_heatmap(request: HttpRequest) -> HttpResponse:
    period, refusal = _period_or_400(request, SOURCES_PERIOD)
    if refusal:
        return refusal
    view, csv_wanted = request.GET.get("view", ""), request.GET.get("format") == "csv"
    report = analytics.source_report(period, with_months=not csv_wanted or view == "months")
    if csv_wanted and view == "months":
        return csv_response(
            "source-months.csv",
            MONTH_COLUMNS,
            (
                (row.source, c.month.strftime("%Y-%m"), c.rate.n, c.rate.count, c.rate)
                for row in report.rows
                for c in report.cells[row.source_id]
            ),
        )
    if csv_wanted and view == "recommendations":
        return csv_response(
            "source-recommendations.csv",
            RECOMMENDATION_COLUMNS,
            (
                (r.source, r.direction, r.rate, r.rest, r.rate.n, f"{r.p_value:.6g}")
                for r in report.recommendations
            ),
        )
    if csv_wanted:
        return csv_response(
            "sources.csv",
            SOURCE_COLUMNS,
            (
                (
                    r.source, r.leads, r.won, r.lost, r.conversion_rate, *(r.ci or (None, None)),
                    r.avg_open_score, r.median_days_to_won,
                )
                for r in report.rows
            ),
        )  # fmt: skip
    red_below, green_at = analytics.heatmap_bands()
    context = {
        "period": period,
        "presets": analytics.PRESET_LABELS,
        "report": report,
        "grid": [(row, report.cells[row.source_id]) for row in report.rows],
        "green_at": green_at,
        "red_below": red_below,
        "min_cell": settings.ANALYTICS_HEATMAP_MIN_LEADS,
        "min_test": settings.ANALYTICS_MIN_TEST_LEADS,
    }
    return render(request, "crm/analytics/source_heatmap.html", context)
