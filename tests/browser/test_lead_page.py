"""The live lead page in real browsers: a manager moves alice's lead from its page while alice has it open
with her edit form half filled in; her page shows the move and its history at once, warns that saving would
be refused, and her save is then refused with the reason. On a laptop and on a phone."""

import pytest
from playwright.sync_api import expect

from tests.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1600, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def lead(stages, alice):
    return LeadFactory(name="Ana Silva", company="Acme", stage=stages["new"], owner=alice)


def open_lead(page, lead) -> None:
    page.goto(f"/leads/{lead.pk}/")
    expect(page.locator("#socket-status")).to_have_class("socket-status live")


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_another_users_move_updates_an_open_lead_page_and_warns_before_a_save(
    open_board, shoot, lead, alice, manager, size
):
    alices = open_board(alice, viewport=SIZES[size])
    open_lead(alices, lead)
    alices.get_by_label("Company").fill("Acme Europe")  # her edit, not saved yet
    expect(alices.locator("#lead-stale")).to_be_hidden()

    bosses = open_board(manager, viewport=SIZES[size])
    open_lead(bosses, lead)
    bosses.locator("#lead-move").get_by_label("Stage").select_option("contacted")
    bosses.locator("#lead-move").get_by_role("button", name="Move").click()
    expect(bosses.locator("#lead-head .lead-stage")).to_have_text("Contacted")

    # Alice's page follows without a reload: head, history, and the warning about her open form.
    expect(alices.locator("#lead-head .lead-stage")).to_have_text("Contacted")
    expect(alices.locator("#history")).to_contain_text("Stage: New → Contacted")
    expect(alices.locator("#history")).to_contain_text("Manager")
    expect(alices.locator("#lead-stale")).to_be_visible()
    expect(alices.locator("#lead-stale")).to_contain_text("Saving your edit now would be refused")
    expect(alices.get_by_label("Company")).to_have_value("Acme Europe")  # what she typed is still there
    shoot(alices, "lead")

    alices.locator("#lead-form").get_by_role("button", name="Save").click()
    expect(alices.locator("#lead-form .errors")).to_contain_text("your edit was not saved")
    lead.refresh_from_db()
    assert (lead.company, lead.stage.slug) == ("Acme", "contacted")


def test_a_move_from_the_lead_page_keeps_the_edit_form_current(open_board, lead, alice):
    page = open_board(alice)
    open_lead(page, lead)
    page.locator("#lead-move").get_by_label("Stage").select_option("proposal")
    page.locator("#lead-move").get_by_role("button", name="Move").click()
    expect(page.locator("#lead-head .lead-stage")).to_have_text("Proposal")
    expect(page.locator("#lead-stale")).to_be_hidden()  # her own move refuses none of her edits

    page.get_by_label("Company").fill("Acme Europe")
    page.locator("#lead-form").get_by_role("button", name="Save").click()
    expect(page.locator("#lead-form")).to_contain_text("Saved.")
    lead.refresh_from_db()
    assert (lead.company, lead.stage.slug) == ("Acme Europe", "proposal")
