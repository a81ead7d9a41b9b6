"""crm.analytics against the hand-computed team in conftest, and its statistics against worked values."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.http import QueryDict

from crm import analytics
from crm.analytics import Period, PeriodError, Rate, SourceRow
from crm.models import LeadSource
from tests.factories import LeadFactory

# --- Periods --------------------------------------------------------------------------------------

ON = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("period=7d", date(2026, 3, 9), ON),
        ("period=30d", date(2026, 2, 14), ON),
        ("period=90d", date(2025, 12, 16), ON),
        ("period=12m", date(2025, 4, 1), ON),
        ("period=all", None, ON),
        ("from=2026-01-01&to=2026-01-31", date(2026, 1, 1), date(2026, 1, 31)),
        ("from=2026-01-01", date(2026, 1, 1), ON),
        ("", date(2025, 12, 16), ON),  # the default given
    ],
)
def test_period_is_read_from_the_query_string(query, start, end):
    period = analytics.parse_period(QueryDict(query), default="90d", on=ON)

    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("query", ["period=5d", "from=2026-13-01", "from=2026-02-01&to=2026-01-01", "to=x"])
def test_period_that_makes_no_sense_is_refused(query):
    with pytest.raises(PeriodError):
        analytics.parse_period(QueryDict(query), default="90d", on=ON)


def test_twelve_months_are_twelve_calendar_months_ending_with_this_one():
    months = analytics.preset_period("12m", ON).months()

    assert (len(months), months[0], months[-1]) == (12, date(2025, 4, 1), date(2026, 3, 1))


# --- Statistics -----------------------------------------------------------------------------------


def test_wilson_interval_matches_worked_values():
    low, high = analytics.wilson_interval(2, 3)
    assert (round(low, 4), round(high, 4)) == (0.2077, 0.9385)
    low, high = analytics.wilson_interval(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    assert analytics.wilson_interval(0, 0) is None


def test_two_proportion_test_matches_the_pooled_z_test():
    # 60/200 against 35/209: pooled 95/409, z = 3.1729, two-sided p = 0.001509.
    assert analytics.two_proportion_p_value(60, 200, 35, 209) == pytest.approx(0.0015092, rel=1e-4)
    assert analytics.two_proportion_p_value(5, 30, 5, 30) == 1.0


def test_rate_is_empty_without_leads_and_a_percentage_on_screen():
    assert (Rate(0, 0).value, Rate(0, 0).percent) == (None, "—")
    assert (Rate(1, 8).value, Rate(1, 8).percent) == (0.125, "12.5%")


@pytest.mark.parametrize(
    ("cell", "colour"),
    [
        (Rate(3, 20), "green"),  # 15% against 10%
        (Rate(12, 100), "green"),  # exactly 1.2x is green
        (Rate(2, 20), "yellow"),
        (Rate(8, 100), "yellow"),  # exactly 0.8x is not red
        (Rate(7, 100), "red"),
        (Rate(19, 19), "grey"),  # under 20 leads, whatever its rate
    ],
)
def test_heatmap_band_compares_a_cell_with_the_teams_rate(cell, colour):
    assert analytics.band(cell, Rate(10, 100)) == colour


def test_heatmap_bands_come_from_settings(settings):
    settings.ANALYTICS_HEATMAP_GREEN_AT = 2.0

    assert analytics.band(Rate(3, 20), Rate(10, 100)) == "yellow"


def _source(name, won, leads, active=True):
    return SourceRow(source_id=hash(name), source=name, active=active, leads=leads, won=won)


def test_recommendations_name_only_significant_sources_with_enough_leads():
    rows = [
        _source("Referral", 60, 200),  # 30% against 35/209: p = 0.0015, above
        _source("Cold call", 3, 150),  # 2% against 92/259: p = 1e-14, below
        _source("Web", 5, 30),  # 17% against 90/379: p = 0.38, nothing to say
        _source("Fair", 27, 29),  # 93%, but 29 leads: too few to judge
        SourceRow(None, "", leads=500, won=0),  # no source: neither judged nor part of "the other sources"
    ]

    found = analytics.recommendations(rows)

    assert [(r.source, r.direction) for r in found] == [("Cold call", "below"), ("Referral", "above")]
    referral = found[1]
    assert (referral.rate, referral.rest) == (Rate(60, 200), Rate(35, 209))
    assert referral.p_value == pytest.approx(0.0015092, rel=1e-4)
    assert referral.text == (
        "Referral converts at 30% (n=200) against 17% for the other sources: give it more budget."
    )
    assert found[0].text.startswith("Cold call converts at 2% (n=150) against 36% for the other sources")


def test_recommendations_skip_inactive_sources_but_count_their_leads_in_the_rest():
    rows = [_source("Referral", 60, 200, active=False), _source("Web", 35, 209)]

    assert [(r.source, r.direction) for r in analytics.recommendations(rows)] == [("Web", "below")]


# --- Per agent ------------------------------------------------------------------------------------


def _by_agent(rows):
    return {row.agent: row for row in rows}


def test_agent_figures_over_thirty_days(team):
    rows = _by_agent(analytics.agent_rows(analytics.preset_period("30d"), now=team.now))

    alice, bob = rows["alice"], rows["bob"]
    assert (alice.assigned, alice.contacted, alice.won, alice.lost, alice.overdue) == (4, 3, 2, 1, 1)
    assert (alice.contact_rate.value, alice.conversion_rate.value, alice.win_rate.value) == (0.75, 0.5, 2 / 3)
    assert (alice.median_hours_to_first_contact, alice.interactions_per_lead) == (4.0, 1.0)
    assert (bob.assigned, bob.contacted, bob.won, bob.lost, bob.overdue) == (2, 2, 0, 0, 0)
    assert (bob.contact_rate.value, bob.conversion_rate.value, bob.win_rate.value) == (1.0, 0.0, None)
    assert (bob.median_hours_to_first_contact, bob.interactions_per_lead) == (2.0, 1.5)
    assert "manager" not in rows  # owns nothing and is no agent


def test_agent_figures_follow_the_period(team):
    bob = _by_agent(analytics.agent_rows(analytics.preset_period("90d"), now=team.now))["bob"]

    assert (bob.assigned, bob.contacted, bob.lost, bob.win_rate.value, bob.interactions_per_lead) == (
        3, 2, 1, 0.0, 1.0
    )  # fmt: skip


def test_agent_without_leads_in_the_period_has_a_row_of_zeros(team):
    rows = _by_agent(analytics.agent_rows(Period(date(2000, 1, 1), date(2000, 1, 2)), now=team.now))

    bob = rows["bob"]
    assert (bob.assigned, bob.contact_rate.value, bob.median_hours_to_first_contact) == (0, None, None)


def test_agent_rows_for_one_agent(team, bob):
    rows = analytics.agent_rows(analytics.preset_period("30d"), agent_id=bob.pk, now=team.now)

    assert [row.agent for row in rows] == ["bob"]


def test_agent_rows_take_the_same_queries_however_many_leads(team, stages, alice, django_assert_num_queries):
    period = analytics.preset_period("30d")
    with django_assert_num_queries(4):
        analytics.agent_rows(period, now=team.now)
    LeadFactory.create_batch(20, stage=stages["new"], owner=alice)

    with django_assert_num_queries(4):
        analytics.agent_rows(period, now=team.now)


# --- Per source -----------------------------------------------------------------------------------


def test_source_figures_over_thirty_days(team):
    report = analytics.source_report(analytics.preset_period("30d"))

    rows = {row.source: row for row in report.rows}
    referral, cold, none = rows["Referral"], rows["Cold call"], rows[""]
    assert (referral.leads, referral.won, referral.lost, referral.avg_open_score) == (3, 2, 0, 50)
    assert referral.median_days_to_won == pytest.approx(5.0)  # won after 6 and 4 days
    assert [round(x, 4) for x in referral.ci] == [0.2077, 0.9385]
    assert (cold.leads, cold.won, cold.lost, cold.avg_open_score, cold.median_days_to_won) == (
        2,
        0,
        1,
        90,
        None,
    )
    assert (none.leads, none.won, none.avg_open_score) == (3, 0, 77.5)
    assert report.overall == Rate(2, 8)


def test_source_cost_per_won_lead_over_the_period(team):
    LeadSource.objects.filter(pk=team.referral.pk).update(monthly_cost=Decimal("1000"))
    period = Period(date.today() - timedelta(days=364), date.today())

    referral = next(r for r in analytics.source_report(period).rows if r.source == "Referral")

    # 365 days are 11.99 months of 30.44 days: 11,992 spent, on 2 won leads.
    assert (referral.cost, referral.cost_per_won) == (Decimal("11991.80"), Decimal("5995.90"))


def test_inactive_source_without_leads_is_left_out(team):
    LeadSource.objects.create(name="Old fair", active=False)
    LeadSource.objects.create(name="New fair")

    names = [row.source for row in analytics.source_report(analytics.preset_period("30d")).rows]

    assert names == ["Cold call", "New fair", "Referral", ""]


def test_heatmap_cells_count_each_source_by_month(team):
    report = analytics.source_report(analytics.preset_period("12m"))

    assert len(report.months) == 12
    counted = {
        (row.source, cell.month): (cell.rate.count, cell.rate.n)
        for row in report.rows
        for cell in report.cells[row.source_id]
        if cell.rate.n
    }
    expected: dict = {}
    sources = {"A1": "Referral", "A2": "Referral", "B1": "Referral", "A3": "Cold call", "A4": "Cold call"}
    sources |= {"B3": "Cold call", "B2": "", "U1": "", "H": ""}
    for name, source in sources.items():
        lead = team.leads[name]
        key = (source, analytics.timezone.localdate(lead.created_at).replace(day=1))
        won, n = expected.get(key, (0, 0))
        expected[key] = (won + (lead.stage.slug == "won"), n + 1)
    assert counted == expected
    assert {cell.band for cells in report.cells.values() for cell in cells} == {"grey"}  # all under 20


def test_source_report_takes_the_same_queries_however_many_leads(team, stages, django_assert_num_queries):
    period = analytics.preset_period("12m")
    with django_assert_num_queries(3):
        analytics.source_report(period)
    with django_assert_num_queries(3):
        analytics.source_report(period, with_months=False)
    LeadFactory.create_batch(20, stage=stages["won"], source=team.cold_call)

    with django_assert_num_queries(3):
        analytics.source_report(period)


# --- The dashboard --------------------------------------------------------------------------------


def test_dashboard_tiles(team):
    tiles = analytics.dashboard(team.now).tiles

    assert (tiles.open_leads, tiles.new_this_week, tiles.conversion_30d) == (5, 5, Rate(2, 8))
    assert (tiles.open_value, tiles.average_score, tiles.scored) == (Decimal(1750), 73.75, 4)


def test_dashboard_insights(team):
    board = analytics.dashboard(team.now)

    assert [lead["name"] for lead in board.untouched] == ["H"]  # 85, nothing for 8 days; A4 is 2 days old
    assert [lead["name"] for lead in board.overdue] == ["A4"]
    assert [lead["name"] for lead in board.waking] == ["B2"]  # U1 wakes tomorrow


def test_dashboard_charts(team):
    charts = analytics.dashboard(team.now).charts

    assert charts["stages"] == {
        "labels": ["New", "Contacted", "Proposal", "Won", "Lost"],
        "values": [3, 2, 0, 2, 2],
    }
    assert dict(zip(charts["agents"]["labels"], charts["agents"]["values"], strict=True)) == {
        "Alice Martin": 1, "Bob Nguyen": 2, "Unassigned": 2
    }  # fmt: skip
    conversion = charts["conversion"]
    assert (len(conversion["values"]), sum(conversion["n"])) == (12, 9)  # all nine within 12 weeks
    assert (conversion["n"][-1], conversion["values"][-1]) == (5, 20.0)  # A2 won of A2, A3, A4, B1, U1


def test_dashboard_takes_the_same_queries_however_many_leads(team, stages, django_assert_num_queries):
    with django_assert_num_queries(10):
        analytics.dashboard(team.now)
    with django_assert_num_queries(7):
        analytics.dashboard(team.now, insights=False)  # a socket's refresh
    LeadFactory.create_batch(20, stage=stages["new"], lead_score=95)

    with django_assert_num_queries(10):
        analytics.dashboard(team.now)
    with django_assert_num_queries(7):
        analytics.dashboard(team.now, insights=False)


def test_a_refresh_without_insights_reads_the_same_tiles_charts_and_activity(team):
    page, refresh = analytics.dashboard(team.now), analytics.dashboard(team.now, insights=False)

    assert (refresh.tiles, refresh.charts, refresh.activity) == (page.tiles, page.charts, page.activity)
    assert (refresh.untouched, refresh.overdue, refresh.waking) == ([], [], [])
