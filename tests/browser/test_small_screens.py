"""Every logged-in page fits a phone (390 px), a tablet (768 px) and a desktop without scrolling sideways, and
each is kept as a picture in the gallery (see the `shoot` fixture) for a reviewer to look at."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from crm import follow_ups
from tests.browser.screens import PHONE, TABLET, VIEWPORT
from tests.factories import InteractionFactory, LeadFactory
from webhooks.models import Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIZES = [PHONE, TABLET, VIEWPORT]
SIZE_IDS = ["phone", "tablet", "desktop"]
LONG = "Maximilian Alexander Fitzgerald-Worthington"  # a name that used to push the top bar off a phone


@pytest.fixture
def team_data(stages, source, manager, bob):
    """A board with long names and every kind of card, a follow-up due and a webhook endpoint."""
    manager.first_name, manager.last_name = "Morgan", "Fitzgerald-Worthington"
    manager.save()
    now = timezone.now()
    lead = LeadFactory(
        name=LONG, company="International Business Machines Corporation", stage=stages["new"], owner=bob,
        source=source, lead_score=91, score_source="model", priority=4, expected_value=1_250_000,
        last_interaction_kind="call", last_interaction_at=now - timedelta(hours=3),
    )  # fmt: skip
    for i, slug in enumerate(("new", "contacted", "proposal", "won", "lost")):
        LeadFactory(name=f"Lead number {i}", stage=stages[slug], lead_score=20 * i, expected_value=1000 * i)
    InteractionFactory(lead=lead, agent=bob, outcome="Asked for a quote", notes="Call back on Monday " * 8)
    an_hour_ago, earlier = now - timedelta(hours=1), now - timedelta(hours=2)  # scheduled, then come due
    follow_ups.schedule_follow_up(lead.pk, actor=manager, due_at=an_hour_ago, note="Pricing", now=earlier)
    Endpoint.objects.create(
        url="https://hooks.example.com/a/very/long/path/that/does/not/break/lines", events=["lead.moved"],
        secret="whsec_test", created_by=manager,
    )  # fmt: skip
    return lead


def manager_pages(lead) -> dict[str, str]:
    endpoint = Endpoint.objects.get()
    return {
        "board": "/leads/kanban/",
        "lead": f"/leads/{lead.pk}/",
        "lead-create": "/leads/new/",
        "dashboard": "/dashboard-enhanced/",
        "performance": "/leads/performance/",
        "sources": "/leads/source-heatmap/",
        "import": "/leads/import/",
        "follow-ups-due": "/follow-ups/",
        "profile": "/profile/",
        "webhooks": "/settings/webhooks/",
        "webhook": f"/settings/webhooks/{endpoint.pk}/",
        "time-zone": "/account/time-zone/",
    }


def assert_fits(page: Page) -> None:
    """Nothing wider than the window: wide tables scroll inside their own wrapper, never the page."""
    page.wait_for_load_state("networkidle")
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
    assert width <= inner, f"{page.url} is {width} px wide in a {inner} px window"


@pytest.mark.parametrize("viewport", SIZES, ids=SIZE_IDS)
def test_every_page_fits_the_screen_without_sideways_scroll(
    open_board, audit, shoot, team_data, manager, viewport
):
    page = open_board(manager, viewport=viewport)
    for name, path in manager_pages(team_data).items():
        page.goto(path)
        assert_fits(page)
        audit.check(page)
        shoot(page, name)
    page.goto("/leads/import/")  # the preview of an uploaded file is the widest table of all
    csv = b"name,company,email,budget,a_rather_long_column_name,another\nIrene,Baker,i@example.com,1,2,3\n"
    page.set_input_files("input[type=file]", files=[{"name": "l.csv", "mimeType": "text/csv", "buffer": csv}])
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("button", name="Start the import")).to_be_visible()
    assert_fits(page)
    shoot(page, "import-preview")


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
def test_on_a_small_screen_the_top_bar_folds_its_links_behind_a_menu(
    open_board, team_data, manager, viewport
):
    page = open_board(manager, viewport=viewport)
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")

    menu.click()

    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".whoami")).to_contain_text("Morgan Fitzgerald-Worthington")
    box = log_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]  # whole, not cut off
    assert_fits(page)
    page.get_by_role("link", name="Performance").click()
    expect(page).to_have_url(re.compile(r"/leads/performance/$"))


def test_on_a_desktop_the_top_bar_shows_every_link_without_a_menu(open_board, team_data, manager):
    page = open_board(manager)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
