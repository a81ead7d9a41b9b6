"""The analytics tables through the API carry the pages' figures: compared with the pages' own CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Lead
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

ANALYTICS = "/api/v1/analytics/"


@pytest.fixture
def history(stages, alice, bob, source):
    """Referral converts well, Cold call badly; one old lead falls outside 90 days but inside 12 months."""
    cold = SourceFactory(name="Cold call")
    now = timezone.now()

    def lead(stage, owner, lead_source, days_ago):
        made = LeadFactory(stage=stages[stage], owner=owner, source=lead_source, expected_value=100)
        Lead.objects.filter(pk=made.pk).update(created_at=now - timedelta(days=days_ago))

    for i in range(12):
        lead("won" if i < 9 else "lost", alice, source, 5 + i)
    for i in range(12):
        lead("won" if i < 1 else "new", bob, cold, 3 + i)
    lead("won", bob, source, 200)
    return {"referral": source, "cold": cold}


def page_csv(client, user, path: str) -> list[dict]:
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def csv_number(text: str):
    """A CSV cell as the API's number: fractions are written to 6 places."""
    return None if text == "" else pytest.approx(float(text), abs=1e-6)


def test_the_performance_table_is_the_pages_for_a_manager(api, client, manager, alice, bob, history):
    answer = api(manager).get(f"{ANALYTICS}performance/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["period"]["preset"] == "90d"  # the page's default
    page = page_csv(client, manager, "/leads/performance/?format=csv")
    assert [row["agent"] for row in body["rows"]] == [row["agent"] for row in page] == ["alice", "bob"]
    for row, line in zip(body["rows"], page, strict=True):
        assert (row["assigned"], row["won"], row["lost"]) == (
            int(line["assigned"]),
            int(line["won"]),
            int(line["lost"]),
        )
        assert row["conversion_rate"]["value"] == csv_number(line["conversion_rate"])
        assert row["conversion_rate"]["n"] == row["assigned"]


def test_an_agent_gets_only_their_own_performance_row(api, alice, history):
    rows = api(alice).get(f"{ANALYTICS}performance/", {"period": "all"}).json()["rows"]
    assert [(row["agent"], row["assigned"], row["won"]) for row in rows] == [("alice", 12, 9)]


def test_a_from_to_range_is_the_period(api, manager, history):
    today = timezone.localdate()
    start = today - timedelta(days=6)
    body = api(manager).get(f"{ANALYTICS}performance/", {"from": start.isoformat()}).json()
    assert (body["period"]["start"], body["period"]["end"], body["period"]["preset"]) == (
        start.isoformat(),
        today.isoformat(),
        "",
    )
    assert {row["agent"]: row["assigned"] for row in body["rows"]} == {"alice": 2, "bob": 4}


@pytest.mark.parametrize(
    "params",
    [{"period": "5y"}, {"from": "yesterday"}, {"from": "2026-02-01", "to": "2026-01-01"}],
    ids=["unknown preset", "unreadable day", "ends before it starts"],
)
@pytest.mark.parametrize("table", ["performance/", "sources/", "sources/months/", "sources/recommendations/"])
def test_a_period_that_makes_no_sense_is_a_400_with_the_pages_message(api, manager, stages, table, params):
    response = api(manager).get(f"{ANALYTICS}{table}", params)
    assert response.status_code == 400
    assert response.json()["fields"]["period"] and response.json()["detail"]


def test_the_sources_table_is_the_pages(api, client, manager, history):
    body = api(manager).get(f"{ANALYTICS}sources/").json()
    assert body["period"]["preset"] == "12m"  # the heatmap page's default
    page = page_csv(client, manager, "/leads/source-heatmap/?format=csv")
    assert [row["source"] for row in body["rows"]] == [line["source"] for line in page]
    for row, line in zip(body["rows"], page, strict=True):
        assert (row["leads"], row["won"], row["lost"]) == (
            int(line["leads"]),
            int(line["won"]),
            int(line["lost"]),
        )
        assert row["ci_low"] == csv_number(line["ci_low"])
        assert row["ci_high"] == csv_number(line["ci_high"])
    assert body["overall"] == {"count": 11, "n": 25, "value": pytest.approx(11 / 25)}


def test_the_months_heatmap_is_the_pages(api, client, manager, history):
    body = api(manager).get(f"{ANALYTICS}sources/months/", {"period": "12m"}).json()
    page = page_csv(client, manager, "/leads/source-heatmap/?format=csv&view=months&period=12m")
    cells = [
        (row["source"], cell["month"], cell["leads"], cell["won"])
        for row in body["rows"]
        for cell in row["cells"]
    ]
    assert cells == [(line["source"], line["month"], int(line["leads"]), int(line["won"])) for line in page]
    assert len(body["months"]) == 12 and all(len(row["cells"]) == 12 for row in body["rows"])
    assert {cell["band"] for row in body["rows"] for cell in row["cells"]} <= {
        "green",
        "yellow",
        "red",
        "grey",
    }


def test_the_recommendations_are_the_pages(api, client, manager, history, settings):
    settings.ANALYTICS_MIN_TEST_LEADS = 10
    body = api(manager).get(f"{ANALYTICS}sources/recommendations/").json()
    page = page_csv(client, manager, "/leads/source-heatmap/?format=csv&view=recommendations")
    assert [(r["source"], r["direction"]) for r in body["recommendations"]] == [
        (line["source"], line["direction"]) for line in page
    ]
    assert {r["source"] for r in body["recommendations"]} == {"Referral", "Cold call"}
    above = next(r for r in body["recommendations"] if r["direction"] == "above")
    assert "give it more budget" in above["text"] and above["p_value"] < 0.05


def test_the_dashboard_tiles_count_what_the_dashboard_counts(api, manager, history):
    tiles = api(manager).get(f"{ANALYTICS}dashboard/").json()
    assert tiles["open_leads"] == Lead.objects.open().count() == 11
    assert tiles["open_value"] == "1100.00"
    assert tiles["conversion_30d"]["n"] == 24


def test_agents_are_refused_the_managers_tables_with_the_pages_reason(api, alice, stages):
    for table, words in [
        ("sources/", "heatmap"),
        ("sources/months/", "heatmap"),
        ("dashboard/", "dashboard"),
    ]:
        response = api(alice).get(f"{ANALYTICS}{table}")
        assert response.status_code == 403 and words in response.json()["detail"]
