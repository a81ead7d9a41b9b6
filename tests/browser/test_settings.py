"""Settings in a real browser, on a desktop and a phone: a manager reorders stages by drag and by keyboard
(and an agent's open board follows), merges one, adds an agent, deactivates one handing their leads over;
any user edits their own profile. Each page is audited with axe and pictured with `shoot`."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from crm.models import Lead, Stage
from tests.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

User = get_user_model()
DESKTOP = {"width": 1600, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def stage_names(page: Page) -> list[str]:
    return page.locator("#stage-list > .stage-row").evaluate_all(
        "rows => rows.map(r => r.querySelector('input[name$=\"-name\"]').value)"
    )


def db_order() -> list[str]:
    return list(Stage.objects.values_list("name", flat=True))


def board_columns(page: Page) -> list[str]:
    return page.locator("section.column").evaluate_all("cs => cs.map(c => c.getAttribute('aria-label'))")


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the page scrolls sideways"
    )


def open_settings(open_board, user, path: str, viewport) -> Page:
    """Log in (the fixture opens the board at desktop size: its phone layout is another piece of work), then
    open the settings page at the size under test."""
    page = open_board(user)
    page.set_viewport_size(viewport)
    page.goto(path)
    return page


@SIZES
def test_reordering_stages_by_drag_reaches_an_open_board(open_board, stages, manager, alice, viewport, shoot):
    agent = open_board(alice)
    page = open_settings(open_board, manager, "/settings/stages/", viewport)
    no_sideways_scroll(page)
    shoot(page, "settings-stages")
    # Won onto Proposal, the row above it: both in sight at either size once Won's row is at the bottom.
    page.locator(f"#stage-{stages['won'].pk}").evaluate("row => row.scrollIntoView({block: 'end'})")
    won = page.locator(f"#stage-{stages['won'].pk} .handle")
    target = page.locator(f"#stage-{stages['proposal'].pk}")
    box = won.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for nudge in range(10):  # Sortable reacts to dragover events: move until it has placed the row
        box = target.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + nudge % 3, steps=5)
        if stage_names(page)[2] == "Won":
            break
    page.mouse.up()
    expected = ["New", "Contacted", "Won", "Proposal", "Lost"]
    expect(page.locator("#notices")).to_contain_text("Stages reordered.")
    assert stage_names(page) == expected
    assert db_order() == expected
    expect(agent.locator("section.column").nth(2)).to_have_attribute("aria-label", "Won")
    assert board_columns(agent) == expected


@SIZES
def test_reordering_stages_by_keyboard_keeps_the_focus(open_board, stages, manager, viewport):
    page = open_settings(open_board, manager, "/settings/stages/", viewport)
    up = page.locator(f"#stage-{stages['proposal'].pk}-up")
    up.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#notices")).to_contain_text("“Proposal” is now stage 2 of 5.")
    # The notice comes with the response, before the swap: wait for the new list, or Enter hits the old one.
    expect(page.locator("#stage-list > .stage-row").nth(1)).to_have_id(f"stage-{stages['proposal'].pk}")
    expect(page.locator(f"#stage-{stages['proposal'].pk}-up")).to_be_focused()
    # As a person would, press again once the page is still (no htmx request, swap or settle under way).
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    page.keyboard.press("Enter")  # to the top: "up" is disabled there, "down" takes the focus
    expect(page.locator("#notices")).to_contain_text("“Proposal” is now stage 1 of 5.")
    expect(page.locator("#stage-list > .stage-row").first).to_have_id(f"stage-{stages['proposal'].pk}")
    expect(page.locator(f"#stage-{stages['proposal'].pk}-down")).to_be_focused()
    assert stage_names(page) == ["Proposal", "New", "Contacted", "Won", "Lost"]
    assert db_order() == ["Proposal", "New", "Contacted", "Won", "Lost"]


@SIZES
def test_merging_a_stage_moves_its_leads(open_board, stages, manager, viewport, shoot):
    leads = LeadFactory.create_batch(2, stage=stages["contacted"])
    page = open_settings(open_board, manager, "/settings/stages/", viewport)
    row = page.locator(f"#stage-{stages['contacted'].pk}")
    row.get_by_label("Merge into").select_option(label="New")
    row.get_by_role("button", name="Merge").click()
    expect(page.locator(".notice.ok")).to_have_text("“Contacted” merged into “New”.")
    shoot(page, "settings-stages-merged")
    assert stage_names(page) == ["New", "Proposal", "Won", "Lost"]
    assert set(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("stage__slug", flat=True)
    ) == {"new"}


@SIZES
def test_adding_an_agent(open_board, manager, viewport, shoot):
    page = open_settings(open_board, manager, "/settings/team/", viewport)
    form = page.locator("form.member-add")
    form.get_by_label("Full name").fill("Dana Berg")
    form.get_by_label("Email").fill("not-an-email")
    form.get_by_label("Username").fill("dana")
    form.get_by_label("Initial password").fill("a-long-pass-phrase")
    form.get_by_role("button", name="Add to the team").click()
    expect(page.locator("form.member-add .field-error")).to_contain_text("Enter a valid email address")
    no_sideways_scroll(page)
    shoot(page, "settings-team-error")
    form = page.locator("form.member-add")
    expect(form.get_by_label("Full name")).to_have_value("Dana Berg")  # what was typed stays
    form.get_by_label("Email").fill("dana@example.com")
    form.get_by_label("Initial password").fill("a-long-pass-phrase")
    form.get_by_role("button", name="Add to the team").click()
    expect(page.locator(".notice.ok")).to_have_text("Dana Berg can log in as dana.")
    dana = User.objects.get(username="dana")
    expect(page.locator(f"#member-{dana.pk}")).to_contain_text("Agent")
    shoot(page, "settings-team")


@SIZES
def test_deactivating_with_hand_over(open_board, stages, manager, alice, bob, viewport):
    leads = LeadFactory.create_batch(3, stage=stages["new"], owner=alice)
    alices_board = open_board(alice)
    page = open_settings(open_board, manager, "/settings/team/", viewport)
    row = page.locator(f"#member-{alice.pk}")
    row.get_by_label("Their open leads").select_option(label="Hand to Bob Nguyen")
    row.get_by_role("button", name="Deactivate Alice Martin").click()
    expect(page.locator(".notice.ok")).to_have_text(
        "Alice Martin was deactivated. 3 open leads handed to Bob Nguyen."
    )
    expect(page.locator(f"#member-{alice.pk}")).to_contain_text("deactivated")
    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("owner", flat=True)) == {
        bob.pk
    }
    expect(alices_board.locator("#socket-status")).not_to_have_class(re.compile(r"\blive\b"))
    alices_board.goto("/leads/kanban/")
    assert "/accounts/login/" in alices_board.url


@SIZES
def test_editing_ones_profile(open_board, alice, viewport, shoot):
    page = open_settings(open_board, alice, "/settings/", viewport)
    expect(page).to_have_title("Your profile · Pipeline")
    no_sideways_scroll(page)
    form = page.locator("form.profile-form")
    form.get_by_label("Full name").fill("Alice Martin-Roy")
    form.get_by_label("Email").fill("amr@example.com")
    form.get_by_label("Time zone").select_option("Asia/Tokyo")
    form.get_by_role("button", name="Save profile").click()
    expect(page.locator(".notice.ok")).to_have_text("Your profile is saved.")
    expect(page.locator("form.profile-form").get_by_label("Full name")).to_have_value("Alice Martin-Roy")
    shoot(page, "settings-profile")
    password = page.locator("form.password-form")
    password.get_by_label("Old password").fill("demo")
    password.get_by_label("New password", exact=True).fill("brand-new-secret")
    password.get_by_label("New password confirmation").fill("brand-new-secret")
    password.get_by_role("button", name="Change password").click()
    expect(page.locator(".notice.ok")).to_have_text("Your password is changed.")
    user = User.objects.get(pk=alice.pk)
    assert (user.get_full_name(), user.email, user.profile.time_zone) == (
        "Alice Martin-Roy",
        "amr@example.com",
        "Asia/Tokyo",
    )
    assert user.check_password("brand-new-secret")
    page.goto("/leads/kanban/")  # still logged in on this browser
    expect(page.locator("#socket-status")).to_have_class("socket-status live")
