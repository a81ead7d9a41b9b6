"""The board's controls in real browsers: filters that the column headers follow, live too; Clear filters;
sorting; Won and Lost folded into slim drop targets; one stage at a time and "Move to…" on a phone; locked
cards that say so and offer nothing their viewer may not do; a finger's press-and-hold drag on a phone."""

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from crm import services
from crm.models import Lead, Stage
from tests.browser.screens import PHONE, TABLET, WIDE
from tests.factories import LeadFactory, StageFactory
from tests.live import elsewhere, post, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(stages, alice, bob):
    """New: two of alice's leads, one of bob's, one unassigned; Contacted: one of alice's; Won: one."""
    new = stages["new"]
    return SimpleNamespace(
        alices=[
            LeadFactory(name="Ana Silva", stage=new, owner=alice, lead_score=30, expected_value=100),
            LeadFactory(name="Ben Okafor", stage=new, owner=alice, lead_score=90, expected_value=300),
        ],
        bobs=LeadFactory(name="Dmitri Ivanova", stage=new, owner=bob, lead_score=60, expected_value=50),
        nobodys=LeadFactory(name="Chloé Dubois", stage=stages["new"], lead_score=None, expected_value=7),
        contacted=LeadFactory(name="Eva Haddad", stage=stages["contacted"], owner=alice, expected_value=1000),
        won=LeadFactory(name="Farid Tanaka", stage=stages["won"], expected_value=5),
    )


def card(page: Page, lead: Lead):
    return page.locator(f"#lead-{lead.pk}")


def header(page: Page, stage: str):
    return page.locator(f"#col-{stage}-header")


def names_in(page: Page, stage: str) -> list[str]:
    return page.locator(f"#col-{stage}-cards > .card .card-name").all_text_contents()


def stage_of(lead: Lead) -> str:
    return Lead.objects.select_related("stage").get(pk=lead.pk).stage.slug


def drag_into(page: Page, lead: Lead, list_selector: str) -> None:
    """Press on the card, carry it over the list until Sortable has put it there, and drop it."""
    moving, target = card(page, lead), page.locator(list_selector)
    box = moving.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for nudge in range(10):  # Sortable reacts to dragover events: keep moving until it has placed the card
        box = target.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40 + nudge % 3, steps=5)
        if moving.evaluate("(c, sel) => c.parentNode === document.querySelector(sel)", list_selector):
            break
    page.mouse.up()


def test_the_headers_follow_the_filters_and_clear_filters_brings_every_card_back(
    open_board, shoot, board, alice
):
    page = open_board(alice)
    expect(header(page, "new")).to_have_attribute("data-count", "4")
    expect(header(page, "new").locator(".value")).to_have_text("$457")

    page.fill("#q", "Ana")

    expect(header(page, "new")).to_have_attribute("data-count", "1")
    expect(header(page, "new").locator(".value")).to_have_text("$100")
    expect(header(page, "contacted")).to_have_attribute("data-count", "0")
    expect(page.locator("#col-contacted-cards .empty")).to_have_text("No matches")
    expect(page.locator("#col-contacted-cards .empty")).to_be_visible()
    shoot(page, "board-filtered")

    page.get_by_role("button", name="Clear filters").click()

    expect(header(page, "new")).to_have_attribute("data-count", "4")
    expect(page.locator("#q")).to_have_value("")
    expect(page.locator("#col-contacted-cards .empty")).to_be_hidden()


def test_a_filtered_boards_headers_stay_right_as_cards_move_in_and_out_live(
    open_board, server, board, alice, bob, manager
):
    bob_page = open_board(bob)
    bob_page.check("input[name=mine]")
    expect(header(bob_page, "new")).to_have_attribute("data-count", "1")
    expect(header(bob_page, "contacted")).to_have_attribute("data-count", "0")

    # The manager moves bob's card (in his filter) and one of alice's (out of it) to Contacted.
    for lead in (board.bobs, board.alices[0]):
        data = {"stage": "contacted", "index": 0, "version": lead.version}
        assert post(server, f"/leads/{lead.pk}/move/", data, session_cookie(manager)).status == 200

    expect(card(bob_page, board.bobs)).to_have_attribute("data-version", str(board.bobs.version + 1))
    expect(header(bob_page, "new")).to_have_attribute("data-count", "0")
    expect(header(bob_page, "contacted")).to_have_attribute("data-count", "1")
    expect(header(bob_page, "contacted").locator(".value")).to_have_text("$50")
    expect(card(bob_page, board.alices[0])).to_have_count(0)


def test_sorting_a_column_by_score_orders_it_and_leaves_dragging_to_the_order_by_position(
    open_board, shoot, board, alice
):
    page = open_board(alice)
    expect(page.locator(".sort-note")).to_have_count(0)
    page.select_option("select[name=sort]", "score")
    expect(page.locator("#board")).to_have_attribute("data-sort", "score")

    expect(page.locator(".sort-note")).to_contain_text("Sorted by score")
    assert names_in(page, "new") == ["Ben Okafor", "Dmitri Ivanova", "Ana Silva", "Chloé Dubois"]
    page.select_option("select[name=sort]", "value")
    expect(page.locator("#board")).to_have_attribute("data-sort", "value")
    assert names_in(page, "new") == ["Ben Okafor", "Ana Silva", "Dmitri Ivanova", "Chloé Dubois"]
    shoot(page, "board-sorted")

    # Picked up by keyboard, a card in a sorted column moves across columns, never within one.
    moves = []
    page.on("request", lambda request: moves.append(request.url) if "/move/" in request.url else None)
    card(page, board.alices[0]).focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.select_option("select[name=sort]", "position")
    expect(page.locator("#board")).to_have_attribute("data-sort", "position")
    expect(page.locator(".sort-note")).to_have_count(0)
    assert names_in(page, "new") == ["Ana Silva", "Ben Okafor", "Dmitri Ivanova", "Chloé Dubois"]
    assert moves == []


@pytest.fixture
def seven_stages(stages):
    """The demo's pipeline: five open stages, then Won and Lost."""
    StageFactory(slug="qualified", name="Qualified", order=2)
    StageFactory(slug="negotiation", name="Negotiation", order=2)
    return list(Stage.objects.all())


def test_at_1400_px_the_open_stages_fit_and_won_and_lost_are_slim_drop_targets(
    open_board, shoot, seven_stages, board, alice
):
    page = open_board(alice, viewport=WIDE)
    for stage in seven_stages:
        box = page.locator(f"#col-{stage.slug}").bounding_box()
        assert box["x"] + box["width"] <= WIDE["width"], f"{stage.name} is off the screen"
        if stage.is_closed:
            assert box["width"] < 100
    expect(card(page, board.won)).to_be_hidden()
    shoot(page, "board-seven-stages")

    drag_into(page, board.alices[1], "#col-won-cards")

    expect(header(page, "won")).to_have_attribute("data-count", "2")
    assert stage_of(board.alices[1]) == "won"
    page.get_by_role("button", name="Show Won").click()
    expect(card(page, board.alices[1])).to_be_visible()
    expect(page.get_by_role("button", name="Hide Won")).to_have_attribute("aria-expanded", "true")


def test_on_a_phone_the_board_shows_one_stage_at_a_time_and_moves_a_card_with_move_to(
    open_board, shoot, board, alice
):
    page = open_board(alice, viewport=PHONE)
    tabs = page.get_by_role("navigation", name="Stages")
    expect(tabs.get_by_role("button", name="New 4")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#col-contacted")).to_be_hidden()
    width = card(page, board.alices[0]).bounding_box()["width"]
    assert width > PHONE["width"] - 60  # full width, less the page's padding
    shoot(page, "board-phone")

    card(page, board.alices[0]).get_by_role("button", name="Move to…").click()
    dialog = page.get_by_role("dialog", name="Move Ana Silva to…")
    expect(dialog.get_by_role("button", name="New", exact=True)).to_be_disabled()
    shoot(page, "board-phone-move-to")
    dialog.get_by_role("button", name="Contacted").click()

    expect(page.locator("#notices")).to_contain_text("Moved Ana Silva to Contacted.")
    expect(tabs.get_by_role("button", name="New 3")).to_be_visible()
    expect(tabs.get_by_role("button", name="Contacted 2")).to_be_visible()
    tabs.get_by_role("button", name="Contacted 2").click()
    expect(page.locator("#col-new")).to_be_hidden()
    expect(page.locator("#col-contacted-cards > .card").first).to_have_id(f"lead-{board.alices[0].pk}")
    assert stage_of(board.alices[0]) == "contacted"


def touch_drag(page: Page, moving, onto) -> None:
    """A finger's press-and-hold on `moving`, carried to the top of `onto` and lifted (Chromium's touch input,
    as a phone sends it: Sortable starts a touch drag only after its press delay)."""
    touch = page.context.new_cdp_session(page)

    def send(kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    start, end = moving.bounding_box(), onto.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    send("touchStart", x, y)
    page.wait_for_timeout(400)  # past the 150 ms press delay: a swipe would scroll instead
    target_y = end["y"] + 5
    for step in range(1, 21):
        send("touchMove", x, y + (target_y - y) * step / 20)
        page.wait_for_timeout(20)
    send("touchEnd", x, target_y)


def test_on_a_phone_a_press_and_hold_drags_a_card_within_its_column(open_board, board, alice):
    page = open_board(alice, viewport=PHONE, has_touch=True)
    first, second = board.alices
    expect(page.locator("#col-new-cards > .card").first).to_have_id(f"lead-{first.pk}")

    touch_drag(page, card(page, second), card(page, first))

    expect(page.locator("#col-new-cards > .card").first).to_have_id(f"lead-{second.pk}")
    expect(card(page, second)).to_have_attribute("data-version", str(second.version + 1))  # the server's card
    expect(card(page, second)).not_to_have_class(re.compile(r"\bsaving\b"))
    column = Lead.objects.filter(stage__slug="new").order_by("position", "pk")
    assert list(column.values_list("name", flat=True))[:2] == ["Ben Okafor", "Ana Silva"]


def test_move_to_with_a_stale_card_shows_it_as_it_is_now(open_board, board, alice, manager):
    """The same conflict as a drag: someone moved the card first, the board shows where it is now."""
    page = open_board(alice, viewport=TABLET)
    lead = board.alices[0]

    def manager_moves_it_first(route):  # the race a conflict is, made certain: his move, then her request
        move = {"stage_slug": "proposal", "placement": services.Placement(0), "version": lead.version}
        elsewhere(services.move_lead, lead.pk, actor=manager, **move)
        route.continue_()

    page.route("**/move/", manager_moves_it_first)
    card(page, lead).get_by_role("button", name="Move to…").click()
    page.get_by_role("dialog").get_by_role("button", name="Contacted").click()

    expect(page.locator("#notices .notice.error")).to_contain_text("Manager moved it to Proposal")
    expect(page.locator("#col-proposal-cards > .card").first).to_have_id(f"lead-{lead.pk}")
    expect(card(page, lead)).not_to_have_class(re.compile(r"\bsaving\b"))
    assert stage_of(lead) == "proposal"


def test_a_locked_card_offers_nothing_its_viewer_may_not_do_and_says_why_it_does_not_move(
    open_board, server, board, alice, manager
):
    page = open_board(alice)
    bobs = card(page, board.bobs)
    expect(bobs.get_by_role("button")).to_have_count(0)  # no Log interaction, Follow up, Snooze, Move to…
    expect(bobs.get_by_role("link", name="Open")).to_be_visible()
    expect(card(page, board.alices[0]).get_by_role("button", name="Log interaction")).to_be_visible()
    assert bobs.evaluate("c => getComputedStyle(c).cursor") == "not-allowed"

    drag_into(page, board.bobs, "#col-contacted-cards")

    expect(page.locator("#notices")).to_contain_text("only Bob Nguyen or a manager can move it")
    assert stage_of(board.bobs) == "new"
    # A card arriving live (rendered once for every board) loses the actions too.
    data = {"stage": "contacted", "index": 0, "version": board.bobs.version}
    assert post(server, f"/leads/{board.bobs.pk}/move/", data, session_cookie(manager)).status == 200
    arrived = page.locator(f"#col-contacted-cards > #lead-{board.bobs.pk}")
    expect(arrived).to_have_class(re.compile(r"\blocked\b"))
    expect(card(page, board.bobs).get_by_role("button")).to_have_count(0)
