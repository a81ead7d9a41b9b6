"""A score computed in the background shows on an open board without a reload."""

import pytest
from playwright.sync_api import expect

from crm import services
from tests.factories import LeadFactory
from tests.live import elsewhere, requires_services

# The score is written here, as a worker process would write it; it reaches the server's sockets through
# the shared Redis layer (embedded mode has no layer shared between processes).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    requires_services,
]


def test_a_new_score_changes_the_badge_on_an_open_board(open_board, stages, bob):
    lead = LeadFactory(name="Ines Costa", stage=stages["new"], lead_score=18, score_source="heuristic")
    page = open_board(bob)
    badge = page.locator(f"#lead-{lead.pk} .score")
    expect(badge).to_have_text("18")
    expect(badge).to_have_class("score cold heuristic")
    # bob's own arrival came back through the group: his socket is subscribed on Redis.
    expect(page.locator("#presence li", has_text="bob")).to_be_visible()

    elsewhere(services.record_scores, {lead.pk: (91, "model")})

    expect(badge).to_have_text("91")
    expect(badge).to_have_class("score hot")
    assert page.evaluate("window.openedOnce") is True  # no reload happened
