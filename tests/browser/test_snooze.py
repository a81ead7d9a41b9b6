"""Snooze in real browsers: alice snoozes a card from the board, it leaves bob's board live and comes back
when the wake job wakes it."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm import follow_ups
from tests.browser.test_board import card, elsewhere, not_reloaded
from tests.factories import LeadFactory
from tests.live import requires_services

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lead(stages, alice):
    LeadFactory(name="Ben Okafor", stage=stages["new"])
    return LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice)


def snooze_from_the_card(page, lead) -> None:
    card(page, lead).get_by_role("button", name="Snooze").click()
    page.locator("#dialog").get_by_role("button", name="1 hour").click()
    expect(page.locator("#notices")).to_contain_text("Snoozed Ana Silva until")


def test_a_card_snoozed_from_the_board_leaves_every_board_live(open_board, lead, alice, bob):
    alice_page, bob_page = open_board(alice), open_board(bob)
    expect(card(bob_page, lead)).to_be_visible()

    snooze_from_the_card(alice_page, lead)

    expect(card(alice_page, lead)).to_have_count(0)
    expect(card(bob_page, lead)).to_have_count(0)
    assert not_reloaded(bob_page)
    bob_page.goto("/leads/kanban/?snoozed=1")  # the Snoozed filter shows it, dimmed, with its wake time
    expect(card(bob_page, lead)).to_have_class(re.compile(r"\bsnoozed\b"))
    expect(card(bob_page, lead)).to_contain_text("Snoozed until")


# The wake job runs here, as the scheduler's worker would; its frame reaches the server's sockets through the
# shared Redis layer (embedded mode has no layer shared between processes).
@requires_services
def test_a_snoozed_card_comes_back_on_every_board_when_the_job_wakes_it(open_board, lead, alice, bob):
    alice_page, bob_page = open_board(alice), open_board(bob)
    snooze_from_the_card(alice_page, lead)
    expect(card(bob_page, lead)).to_have_count(0)

    assert elsewhere(follow_ups.wake_snoozed, timezone.now() + timedelta(hours=2)) == [lead.pk]

    expect(card(bob_page, lead)).to_be_visible()
    expect(card(bob_page, lead)).not_to_have_class(re.compile(r"\bsnoozed\b"))
    expect(card(alice_page, lead)).to_be_visible()
    assert not_reloaded(bob_page) and not_reloaded(alice_page)
