"""Every page passes axe-core's WCAG 2 A/AA audit on a laptop and on a phone, with each kind of card on it."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.axe import violations
from tests.browser.conftest import PHONE
from tests.factories import InteractionFactory, LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
CSV = {
    "name": "leads.csv",
    "mimeType": "text/csv",
    "buffer": b"name,company,email,budget\nIrene Adler,Baker Ltd,irene@example.com,1200\n",
}
MANAGERS_PAGES = ("/leads/new/", "/leads/import/", "/dashboard-enhanced/")


@pytest.fixture
def bobs_lead(stages, bob, source):
    """A board with every look a card can have; returns bob's lead, which alice may read but not edit."""
    now = timezone.now()
    hot = LeadFactory(
        name="Ana Silva", stage=stages["new"], owner=bob, source=source, lead_score=91, score_source="model",
        priority=4, follow_up_at=now - timedelta(days=1), last_interaction_kind="call",
        last_interaction_at=now - timedelta(hours=3),
    )  # fmt: skip
    LeadFactory(name="Ben Okafor", stage=stages["new"], lead_score=55, score_source="heuristic", priority=3)
    LeadFactory(name="Chloé Dubois", stage=stages["contacted"], lead_score=12, score_source="model")
    LeadFactory(name="Dmitri Ivanova", stage=stages["contacted"], snoozed_until=now + timedelta(days=2))
    LeadFactory(name="Eva Haddad", stage=stages["won"], lead_score=80, closed_at=now, expected_value=1200)
    LeadFactory(name="Farid Tanaka", stage=stages["lost"], lead_score=20, closed_at=now)
    InteractionFactory(lead=hot, agent=bob, outcome="Asked for a quote", notes="Call back on Monday")
    hot.priority = 3  # a change in the history list, shown with what it was
    hot.save()
    return hot


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_page_passes_axe_on_laptop_and_phone(open_board, audit, bobs_lead, alice, manager, viewport):
    lead_page = f"/leads/{bobs_lead.pk}/"
    agent = open_board(alice, viewport=viewport)  # the login page, then a board where bob's card is locked
    agent.locator(".card", has_text="Ben Okafor").get_by_role("button", name="Log interaction").click()
    expect(agent.locator("#dialog form")).to_be_visible()  # the board's dialog, which htmx fills
    audit.check(agent)
    agent.goto(lead_page)  # read-only for alice
    audit.check(agent)
    boss = open_board(manager, viewport=viewport)
    for path in (lead_page, *MANAGERS_PAGES):
        boss.goto(path)
        audit.check(boss)
    boss.goto("/leads/import/")  # the preview of an uploaded file, where each column gets a target
    boss.set_input_files("input[type=file]", files=[CSV])
    boss.get_by_role("button", name="Upload and preview").click()
    expect(boss.get_by_role("button", name="Start the import")).to_be_visible()
    audit.check(boss)
    boss.goto("/leads/new/")  # and with the messages of a refused form on it
    boss.locator("main form").evaluate("form => { form.noValidate = true; }")
    boss.get_by_role("button", name="Create").click()
    expect(boss.locator(".field-error").first).to_be_visible()
    audit.check(boss)

    audited = {urlsplit(url).path for url in audit.audited}
    assert audited >= {"/accounts/login/", "/leads/kanban/", lead_page, *MANAGERS_PAGES}
    audit.assert_clean()


def test_axe_reports_what_fails_with_its_rule_impact_and_element(browser):
    page = browser.new_page()
    page.set_content(
        '<html lang="en"><title>Faint</title><main><p id="faint" style="color:#bbb">Barely there</p>'
        '<img src="/chart.png"></main></html>'
    )
    found = {(violation.rule, violation.impact, violation.target) for violation in violations(page)}
    page.close()

    assert found == {("color-contrast", "serious", "#faint"), ("image-alt", "critical", "img")}
