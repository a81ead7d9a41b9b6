"""Two agents on the live board in real browsers: what one does, the other sees without reloading."""

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from crm import services
from crm.models import Lead
from tests.factories import LeadFactory
from tests.live import elsewhere, post, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(stages, alice, bob):
    """New: three unassigned leads and one of bob's; Contacted: three unassigned leads."""
    return SimpleNamespace(
        new=[
            LeadFactory(name=name, stage=stages["new"])
            for name in ("Ana Silva", "Ben Okafor", "Chloé Dubois")
        ],
        bobs=LeadFactory(name="Dmitri Ivanova", stage=stages["new"], owner=bob),
        contacted=[
            LeadFactory(name=name, stage=stages["contacted"])
            for name in ("Eva Haddad", "Farid Tanaka", "Grace Novak")
        ],
    )


def card(page: Page, lead: Lead):
    return page.locator(f"#lead-{lead.pk}")


def in_column(page: Page, stage: str, lead: Lead):
    return page.locator(f"#col-{stage}-cards > #lead-{lead.pk}")


def index_in_column(page: Page, lead: Lead) -> int:
    return card(page, lead).evaluate("c => [...c.parentNode.querySelectorAll(':scope > .card')].indexOf(c)")


def db_index(lead: Lead) -> int:
    lead.refresh_from_db()
    column = Lead.objects.filter(stage=lead.stage).order_by("position", "id")
    return list(column.values_list("pk", flat=True)).index(lead.pk)


def count(page: Page, stage: str):
    return page.locator(f"#col-{stage}-header")


def pick_up_and_hold_over(page: Page, lead: Lead, onto: Lead) -> None:
    """Press on the card and carry it over `onto` until Sortable has moved it into that column, or give up."""
    moving, target = card(page, lead), card(page, onto)
    box = moving.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for nudge in range(10):  # Sortable reacts to dragover events: keep moving until it has placed the card
        box = target.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + nudge % 3, steps=5)
        if moving.evaluate("(c, t) => c.parentNode === t.parentNode", target.element_handle()):
            return


def drag(page: Page, lead: Lead, onto: Lead) -> None:
    pick_up_and_hold_over(page, lead, onto)
    page.mouse.up()


def keyboard_move_right(page: Page, lead: Lead) -> None:
    card(page, lead).focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")


def not_reloaded(page: Page) -> bool:
    return page.evaluate("window.openedOnce === true")


def test_a_card_alice_drags_shows_on_bobs_board_in_the_same_place(open_board, board, alice, bob):
    alice_page, bob_page = open_board(alice), open_board(bob)
    lead = board.new[0]
    expect(count(bob_page, "new")).to_have_attribute("data-count", "4")

    drag(alice_page, lead, onto=board.contacted[1])

    version = str(lead.version + 1)
    expect(in_column(alice_page, "contacted", lead)).to_have_attribute("data-version", version)
    expect(in_column(bob_page, "contacted", lead)).to_have_attribute("data-version", version)
    assert index_in_column(bob_page, lead) == index_in_column(alice_page, lead) == db_index(lead)
    for page in (alice_page, bob_page):
        expect(count(page, "new")).to_have_attribute("data-count", "3")
        expect(count(page, "contacted")).to_have_attribute("data-count", "4")
    assert not_reloaded(bob_page)


def test_a_conflicting_drag_shows_the_card_as_it_is_now_and_who_moved_it(open_board, board, alice, bob):
    bob_page = open_board(bob)
    lead = board.new[0]
    pick_up_and_hold_over(bob_page, lead, onto=board.contacted[0])
    # While bob still holds the card, alice moves it: bob drops a stale version.
    top = services.Placement(index=0)
    elsewhere(
        services.move_lead, lead.pk, actor=alice, stage_slug="proposal", placement=top, version=lead.version
    )
    bob_page.mouse.up()

    expect(bob_page.locator("#notices .notice.error")).to_contain_text("Alice Martin moved it to Proposal")
    expect(in_column(bob_page, "proposal", lead)).to_have_attribute("data-version", str(lead.version + 1))
    lead.refresh_from_db()
    assert lead.stage.slug == "proposal"
    assert lead.history.filter(history_change_reason="moved").count() == 1


def test_a_card_of_another_agent_is_locked_for_alice(open_board, board, alice):
    alice_page = open_board(alice)
    bobs = board.bobs
    expect(card(alice_page, bobs)).to_have_class(re.compile(r"\blocked\b"))
    moves = []
    alice_page.on("request", lambda request: moves.append(request.url) if "/move/" in request.url else None)

    drag(alice_page, bobs, onto=board.contacted[0])
    # A move of her own afterwards: any request the drag made would have been sent before this one.
    own = board.new[0]
    keyboard_move_right(alice_page, own)
    expect(in_column(alice_page, "contacted", own)).to_have_attribute("data-version", str(own.version + 1))

    assert [url.split("/leads/")[1] for url in moves] == [f"{own.pk}/move/"]
    expect(in_column(alice_page, "new", bobs)).to_have_attribute("data-version", str(bobs.version))
    bobs_version = bobs.version
    bobs.refresh_from_db()
    assert (bobs.stage.slug, bobs.version) == ("new", bobs_version)


def test_a_keyboard_move_puts_the_card_on_top_of_the_next_column_for_both(open_board, board, alice, bob):
    alice_page, bob_page = open_board(alice), open_board(bob)
    lead = board.new[1]

    keyboard_move_right(alice_page, lead)

    for page in (alice_page, bob_page):
        expect(page.locator("#col-contacted-cards > .card").first).to_have_attribute("id", f"lead-{lead.pk}")
        expect(in_column(page, "contacted", lead)).to_have_attribute("data-version", str(lead.version + 1))
    assert db_index(lead) == 0
    assert lead.stage.slug == "contacted"


def test_bob_catches_up_on_a_move_made_while_his_connection_was_down(open_board, board, alice, bob, proxy):
    alice_page, bob_page = open_board(alice), open_board(bob, base_url=proxy.url)
    lead = board.new[0]

    proxy.cut()
    expect(bob_page.locator("#socket-status")).not_to_have_class(re.compile(r"\blive\b"))
    drag(alice_page, lead, onto=board.contacted[1])
    version = str(lead.version + 1)
    expect(in_column(alice_page, "contacted", lead)).to_have_attribute("data-version", version)
    expect(in_column(bob_page, "new", lead)).to_have_attribute("data-version", str(lead.version))  # stale
    proxy.restore()

    expect(bob_page.locator("#socket-status")).to_have_class(re.compile(r"\blive\b"))
    expect(in_column(bob_page, "contacted", lead)).to_have_attribute("data-version", version)
    assert index_in_column(bob_page, lead) == index_in_column(alice_page, lead)
    expect(count(bob_page, "contacted")).to_have_attribute("data-count", "4")
    assert not_reloaded(bob_page)


def move_on_the_server(server, user, lead: Lead, stage: str) -> None:
    """A move another browser makes: through the server, so the board sockets hear it on any channel layer."""
    data = {"stage": stage, "index": 0, "version": lead.version}
    assert post(server, f"/leads/{lead.pk}/move/", data, session_cookie(user)).status == 200


def test_a_card_arriving_live_is_locked_only_for_those_the_server_says_may_not_move_it(
    open_board, server, board, alice, bob, manager
):
    alice_page, bob_page = open_board(alice), open_board(bob)
    bobs = board.bobs

    move_on_the_server(server, manager, bobs, "contacted")

    for page in (alice_page, bob_page):
        expect(in_column(page, "contacted", bobs)).to_have_attribute("data-version", str(bobs.version + 1))
    expect(card(alice_page, bobs)).to_have_class(re.compile(r"\blocked\b"))
    expect(card(bob_page, bobs)).not_to_have_class(re.compile(r"\blocked\b"))


def test_with_mine_only_bob_sees_live_only_his_cards(open_board, server, board, alice, bob, manager):
    alice_page, bob_page = open_board(alice), open_board(bob)
    bob_page.check("input[name=mine]")
    expect(card(bob_page, board.new[0])).to_have_count(0)  # the filtered board is in
    lead, bobs = board.new[1], board.bobs

    drag(alice_page, lead, onto=board.contacted[0])
    expect(in_column(alice_page, "contacted", lead)).to_have_attribute("data-version", str(lead.version + 1))
    move_on_the_server(server, manager, bobs, "contacted")

    # Frames arrive in order: once his own card has moved, the earlier move of a card not his was not shown.
    expect(in_column(bob_page, "contacted", bobs)).to_have_attribute("data-version", str(bobs.version + 1))
    expect(card(bob_page, lead)).to_have_count(0)
    assert not_reloaded(bob_page)
