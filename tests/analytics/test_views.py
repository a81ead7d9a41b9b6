"""The analytics pages and CSVs over HTTP: the contract's columns, figures, permissions and query counts."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import LeadFactory, SourceFactory


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def header(response) -> str:
    return response.content.decode("utf-8").splitlines()[0]


@pytest.fixture
def sources_to_judge(stages):
    """This month: Referral 20 of 40 won, Web 3 of 60, Fair 5 of 10 (too few to judge); team 28 of 110."""
    referral, web, fair = (SourceFactory(name=name) for name in ("Referral", "Web", "Fair"))
    for source, won, leads in [(referral, 20, 40), (web, 3, 60), (fair, 5, 10)]:
        LeadFactory.create_batch(won, stage=stages["won"], source=source)
        LeadFactory.create_batch(leads - won, stage=stages["lost"], source=source)


# --- /leads/performance/ --------------------------------------------------------------------------


def test_performance_csv_has_the_contracts_columns_and_the_hand_computed_rows(as_manager, team):
    response = as_manager.get("/leads/performance/?period=30d&format=csv")

    assert header(response) == (
        "agent,assigned,contacted,contact_rate,won,lost,conversion_rate,win_rate,"
        "median_hours_to_first_contact,interactions_per_lead,overdue"
    )
    rows = {row["agent"]: row for row in read_csv(response)}
    assert set(rows) == {"alice", "bob"}
    assert rows["alice"] == {
        "agent": "alice", "assigned": "4", "contacted": "3", "contact_rate": "0.75", "won": "2", "lost": "1",
        "conversion_rate": "0.5", "win_rate": "0.666667", "median_hours_to_first_contact": "4.0",
        "interactions_per_lead": "1.0", "overdue": "1",
    }  # fmt: skip
    assert rows["bob"] == {
        "agent": "bob", "assigned": "2", "contacted": "2", "contact_rate": "1.0", "won": "0", "lost": "0",
        "conversion_rate": "0.0", "win_rate": "", "median_hours_to_first_contact": "2.0",
        "interactions_per_lead": "1.5", "overdue": "0",
    }  # fmt: skip


def test_performance_defaults_to_ninety_days(as_manager, team):
    rows = {row["agent"]: row for row in read_csv(as_manager.get("/leads/performance/?format=csv"))}

    assert (rows["bob"]["assigned"], rows["bob"]["lost"]) == ("3", "1")  # B3, 40 days old, is in


def test_performance_takes_a_from_to_range(as_manager, team):
    day = team.leads["A1"].created_at.date()
    query = f"from={day.isoformat()}&to={day.isoformat()}&format=csv"

    rows = {row["agent"]: row for row in read_csv(as_manager.get(f"/leads/performance/?{query}"))}

    assert (rows["alice"]["assigned"], rows["alice"]["won"], rows["bob"]["assigned"]) == ("1", "1", "0")


def test_an_agent_sees_only_their_own_row(as_alice, team):
    rows = read_csv(as_alice.get("/leads/performance/?period=30d&format=csv"))
    page = as_alice.get("/leads/performance/?period=30d").content.decode()

    assert [row["agent"] for row in rows] == ["alice"]
    assert 'data-agent="alice"' in page
    assert 'data-agent="bob"' not in page


def test_performance_page_shows_rates_as_percentages_with_their_n(as_manager, team):
    response = as_manager.get("/leads/performance/?period=30d")

    assert response.status_code == 200
    page = response.content.decode()
    alice = page[page.index('data-agent="alice"') : page.index('data-agent="bob"')]
    assert "75.0% <small" in alice and "n=4" in alice  # contact rate, 3 of 4
    assert "66.7% <small" in alice and "n=3" in alice  # win rate, 2 of 3 closed


def test_performance_sorts_by_a_column(as_manager, team):
    rows = read_csv(as_manager.get("/leads/performance/?period=30d&sort=-contact_rate&format=csv"))

    assert [row["agent"] for row in rows] == ["bob", "alice"]  # 100% before 75%


def test_a_period_that_makes_no_sense_is_a_400(as_manager, team):
    response = as_manager.get("/leads/performance/?from=2026-02-30")

    assert response.status_code == 400
    assert "not a date" in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, team):
    assert client.get("/leads/performance/").status_code == 302


# --- /leads/source-heatmap/ -----------------------------------------------------------------------


def test_agents_may_not_see_the_heatmap_or_the_dashboard(as_alice, team):
    assert as_alice.get("/leads/source-heatmap/").status_code == 403
    assert as_alice.get("/leads/source-heatmap/?format=csv").status_code == 403
    assert as_alice.get("/dashboard-enhanced/").status_code == 403


def test_source_csv_has_the_contracts_columns_and_the_hand_computed_rows(as_manager, team):
    response = as_manager.get("/leads/source-heatmap/?period=30d&format=csv")

    assert header(response) == (
        "source,leads,won,lost,conversion_rate,ci_low,ci_high,avg_open_score,median_days_to_won"
    )
    rows = {row["source"]: row for row in read_csv(response)}
    # Wilson 95% for 2 of 3: (0.20766, 0.93851); for 0 of 2: (0, 0.65762).
    assert rows["Referral"] == {
        "source": "Referral", "leads": "3", "won": "2", "lost": "0", "conversion_rate": "0.666667",
        "ci_low": "0.20766", "ci_high": "0.938508", "avg_open_score": "50.0", "median_days_to_won": "5.0",
    }  # fmt: skip
    assert rows["Cold call"] == {
        "source": "Cold call", "leads": "2", "won": "0", "lost": "1", "conversion_rate": "0.0",
        "ci_low": "0.0", "ci_high": "0.65762", "avg_open_score": "90.0", "median_days_to_won": "",
    }  # fmt: skip
    assert (rows[""]["leads"], rows[""]["avg_open_score"]) == ("3", "77.5")  # no source


def test_source_months_csv_has_a_row_per_source_and_month(as_manager, team):
    response = as_manager.get("/leads/source-heatmap/?format=csv&view=months")

    assert header(response) == "source,month,leads,won,conversion_rate"
    rows = read_csv(response)
    assert len(rows) == 3 * 12  # Cold call, Referral, no source; the default 12 months
    assert all(re.fullmatch(r"\d{4}-\d{2}", row["month"]) for row in rows)
    assert sum(int(row["leads"]) for row in rows) == 9
    assert {row["conversion_rate"] for row in rows if row["leads"] == "0"} == {""}


def test_recommendations_csv_names_the_significant_sources(as_manager, sources_to_judge):
    response = as_manager.get("/leads/source-heatmap/?format=csv&view=recommendations")

    assert header(response) == "source,direction,conversion_rate,rest_rate,n,p_value"
    rows = read_csv(response)
    # Strongest evidence first; Fair (10 leads) is too small to judge.
    assert [(r["source"], r["direction"], r["conversion_rate"], r["rest_rate"], r["n"]) for r in rows] == [
        ("Web", "below", "0.05", "0.5", "60"),  # 3/60 against 25/50: z = -5.39
        ("Referral", "above", "0.5", "0.114286", "40"),  # 20/40 against 8/70: z = 4.47
    ]
    assert float(rows[0]["p_value"]) == pytest.approx(6.856e-8, rel=1e-3)
    assert float(rows[1]["p_value"]) == pytest.approx(7.917e-6, rel=1e-3)


def test_recommendations_csv_is_empty_when_nothing_is_significant(as_manager, team):
    rows = read_csv(as_manager.get("/leads/source-heatmap/?format=csv&view=recommendations"))

    assert rows == []


def test_heatmap_page_colours_cells_and_gives_advice(as_manager, sources_to_judge):
    page = as_manager.get("/leads/source-heatmap/").content.decode()

    def this_month(source):
        row = re.search(rf'<th scope="row">{source}</th>(.*?)</tr>', page, re.S).group(1)
        return re.findall(r'<td class="cell (\w+)"', row)[-1]

    # Against the team's 28/110 = 25.5%: 50% is green, 5% red, and Fair's 10 leads are too few to colour.
    assert (this_month("Referral"), this_month("Web"), this_month("Fair")) == ("green", "red", "grey")
    assert "Referral converts at 50% (n=40) against 11% for the other sources: give it more budget." in page


def test_heatmap_page_says_when_there_is_no_advice(as_manager, team):
    page = as_manager.get("/leads/source-heatmap/").content.decode()

    assert "no advice to give" in page


def test_heatmap_shows_cost_per_won_lead_where_a_cost_is_set(as_manager, team):
    team.referral.monthly_cost = 300
    team.referral.save()

    page = as_manager.get("/leads/source-heatmap/?period=30d").content.decode()

    # 30 days are 0.9856 months: $295.69 spent on 2 won leads.
    assert "$147.84" in page


# --- /dashboard-enhanced/ -------------------------------------------------------------------------


def test_dashboard_shows_the_tiles(as_manager, team):
    page = as_manager.get("/dashboard-enhanced/").content.decode()

    tiles = re.search(r'<section id="dash-tiles".*?</section>', page, re.S).group(0)
    values = re.findall(r'<strong class="value">([^<]*)</strong>', tiles)
    assert values == ["5", "5", "25.0%", "$1,750", "73.8"]
    assert "2 won of 8" in tiles and "n=4" in tiles


def test_dashboard_has_a_canvas_and_its_data_for_each_chart_and_no_inline_script(as_manager, team):
    page = as_manager.get("/dashboard-enhanced/").content.decode()

    for chart in ("stages", "conversion", "agents"):
        assert f'data-source="chart-{chart}-data"' in page
        assert f'<script id="chart-{chart}-data" type="application/json">' in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert all("src=" in tag or 'type="application/json"' in tag for tag in scripts), scripts
    assert "/static/vendor/chartjs/chart.umd.js" in page


def test_dashboard_lists_insights_and_recent_activity(as_manager, team):
    page = as_manager.get("/dashboard-enhanced/").content.decode()

    insights = re.search(r'<section id="dash-insights".*?</section>', page, re.S).group(0)
    assert [f">{name}</a>" in insights for name in ("H", "A4", "B2", "U1")] == [True, True, True, False]
    activity = re.search(r'<section id="dash-activity".*?</section>', page, re.S).group(0)
    assert activity.count("<li>") == 8  # the team's eight interactions (no moves), newest first


# --- Query counts -----------------------------------------------------------------------------------

PAGES = [
    "/leads/performance/",
    "/leads/performance/?format=csv",
    "/leads/source-heatmap/",
    "/leads/source-heatmap/?format=csv",
    "/leads/source-heatmap/?format=csv&view=months",
    "/leads/source-heatmap/?format=csv&view=recommendations",
    "/dashboard-enhanced/",
]


@pytest.mark.parametrize("url", PAGES)
def test_queries_do_not_grow_with_the_data(as_manager, team, stages, alice, bob, url):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert as_manager.get(url).status_code == 200
        return len(queries)

    before = count()
    for owner in (alice, bob, None):
        LeadFactory.create_batch(10, stage=stages["won"], owner=owner, source=SourceFactory(), lead_score=85)

    assert count() == before
    assert before <= 16
