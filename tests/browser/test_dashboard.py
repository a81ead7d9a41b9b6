"""The managers' dashboard in Chromium: every chart draws, and a tile moves when an agent wins a lead."""

import pytest
from playwright.sync_api import Page, expect

from tests.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHARTS = ("chart-stages", "chart-conversion", "chart-agents")


def painted(page: Page, canvas_id: str) -> bool:
    """Whether the canvas has any non-transparent pixel: Chart.js drew on it."""
    return page.evaluate(
        """id => {
            const canvas = document.getElementById(id);
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true;
            return false;
        }""",
        canvas_id,
    )


def win_from_the_browser(page: Page, lead) -> int:
    """The agent's own browser posts the move, as the board does when a card is dropped on Won."""
    return page.evaluate(
        """async ([id, version]) => {
            const token = document.querySelector("meta[name=csrf-token]").content;
            const body = new URLSearchParams({ stage: "won", index: "0", version: String(version) });
            const headers = { "X-CSRFToken": token };
            return (await fetch(`/leads/${id}/move/`, { method: "POST", body, headers })).status;
        }""",
        [lead.pk, lead.version],
    )


@pytest.fixture
def pipeline(stages, alice, bob):
    LeadFactory(stage=stages["won"], owner=bob, lead_score=60)
    LeadFactory(stage=stages["contacted"], owner=bob, lead_score=40)
    return LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice, lead_score=80)


def test_each_chart_draws_and_a_tile_changes_when_another_user_wins_a_lead(
    open_board, manager, alice, pipeline
):
    dashboard = open_board(manager)
    dashboard.goto("/dashboard-enhanced/")
    expect(dashboard.locator("#socket-status.live")).to_be_visible()
    dashboard.evaluate("window.openedOnce = true")
    for chart in CHARTS:
        dashboard.wait_for_function(
            "id => Chart.getChart(document.getElementById(id)) !== undefined", arg=chart
        )
        assert painted(dashboard, chart), f"{chart} is blank"
    conversion = dashboard.locator("#tile-conversion")
    expect(conversion).to_contain_text("1 won of 3")

    assert win_from_the_browser(open_board(alice), pipeline) == 200

    expect(conversion).to_contain_text("2 won of 3")
    expect(dashboard.locator("#tile-open .value")).to_have_text("1")
    expect(dashboard.locator("#dash-activity")).to_contain_text("Alice Martin moved it to Won")
    assert dashboard.evaluate("window.openedOnce") is True  # no reload happened
    chart_total = "Chart.getChart(document.getElementById('chart-stages')).data.datasets[0].data[3]"
    assert dashboard.evaluate(chart_total) == 2  # the stage chart shows both won leads, in place
