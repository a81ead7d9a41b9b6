"""The board's HTTP side: pages and fragments, the status codes of a move, readable refusals, escaping."""

import html
import json
import re

import pytest
from django.http import HttpResponse
from django.utils import timezone
from django_htmx.http import trigger_client_event

from crm import services
from crm.models import Interaction, Lead
from crm.views import notify
from realtime import broadcast
from realtime.models import BoardEvent
from tests.factories import LeadFactory, SourceFactory

BOARD = "/leads/kanban/"
HTMX = {"HX-Request": "true"}
FETCH = {"X-Requested-With": "fetch"}  # how board.js posts a move
XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"


def text(response) -> str:
    return response.content.decode()


def card_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article id="lead-(\d+)"', text(response))]


def card_attrs(response, lead) -> dict[str, str]:
    """The attributes of one card's root element in a page or fragment."""
    match = re.search(rf'<article id="lead-{lead.pk}"([^>]*)>', text(response))
    assert match, f"no card for lead {lead.pk}"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))


def templates(response) -> set[str]:
    return {t.name for t in response.templates}


def notice(response) -> dict:
    return json.loads(response["HX-Trigger"])["pipeline:notice"]


def move(client, lead, stage="contacted", index=0, version=None, **extra):
    data = {"stage": stage, "index": index, "version": lead.version if version is None else version, **extra}
    return client.post(f"/leads/{lead.pk}/move/", data, headers=FETCH)


def edit_data(lead, **changes) -> dict:
    """What the lead page's form posts: every field as it is now, with `changes` on top."""
    data = {
        "name": lead.name,
        "company": lead.company,
        "email": lead.email,
        "phone": lead.phone,
        "source": lead.source_id or "",
        "owner": lead.owner_id or "",
        "priority": lead.priority,
        "expected_value": lead.expected_value,
        "engagement_level": lead.engagement_level,
        "follow_up_at": "",
        "version": lead.version,
    }
    return {**data, **changes}


# --- The board page ------------------------------------------------------------------------------------


def test_board_asks_an_anonymous_visitor_to_log_in(client, stages):
    response = client.get(BOARD)
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/leads/kanban/")


def test_board_shows_the_columns_in_stage_order(as_alice, stages):
    response = as_alice.get(BOARD)
    assert response.status_code == 200
    assert "crm/board.html" in templates(response)
    assert re.findall(r'<section class="column[^"]*" data-stage="([\w-]+)"', text(response)) == list(stages)


def test_board_cards_carry_their_id_stage_and_version(as_alice, stages):
    lead = LeadFactory(stage=stages["contacted"], version=7)
    attrs = card_attrs(as_alice.get(BOARD), lead)
    assert (attrs["data-version"], attrs["data-stage"]) == ("7", "contacted")


def test_board_places_each_card_in_its_column(as_alice, stages):
    new, won = LeadFactory(stage=stages["new"]), LeadFactory(stage=stages["won"])
    page = text(as_alice.get(BOARD))
    won_column = page[page.index('id="col-won-cards"') : page.index('id="col-lost-cards"')]
    assert f'id="lead-{won.pk}"' in won_column
    assert f'id="lead-{new.pk}"' not in won_column


def test_board_shows_column_counts_with_the_wip_limit(as_alice, stages):
    LeadFactory.create_batch(2, stage=stages["proposal"])
    assert re.search(r'id="col-proposal-header"[^>]*data-count="2" data-wip="3"', text(as_alice.get(BOARD)))


def test_board_filter_mine_shows_only_the_users_leads(as_alice, stages, alice, bob):
    hers = LeadFactory(stage=stages["new"], owner=alice)
    LeadFactory(stage=stages["new"], owner=bob)
    assert card_ids(as_alice.get(BOARD, {"mine": "1"})) == [hers.pk]


def test_board_filter_source_shows_only_that_source(as_alice, stages, source):
    referred = LeadFactory(stage=stages["new"], source=source)
    LeadFactory(stage=stages["new"], source=SourceFactory(name="Website"))
    assert card_ids(as_alice.get(BOARD, {"source": source.pk})) == [referred.pk]


def test_board_filter_text_searches_names_and_companies(as_alice, stages):
    found = LeadFactory(stage=stages["new"], company="Globex")
    LeadFactory(stage=stages["new"], company="Hooli")
    response = as_alice.get(BOARD, {"q": "globex"})
    assert card_ids(response) == [found.pk]
    assert 'value="globex"' in text(response)


def test_board_cards_say_whether_alice_may_move_them(
    as_alice, stages, alices_lead, bobs_lead, unassigned_lead
):
    response = as_alice.get(BOARD)
    can_move = {
        lead.name: card_attrs(response, lead)["data-can-move"]
        for lead in (alices_lead, bobs_lead, unassigned_lead)
    }
    assert can_move == {"Ana Okafor": "1", "Ben Dubois": "0", "Dana Silva": "1"}


def test_board_cards_say_a_manager_may_move_any(as_manager, stages, alices_lead, bobs_lead):
    response = as_manager.get(BOARD)
    assert [card_attrs(response, lead)["data-can-move"] for lead in (alices_lead, bobs_lead)] == ["1", "1"]


def test_load_more_cards_say_whether_alice_may_move_them(as_alice, stages, alices_lead, bobs_lead):
    response = as_alice.get("/leads/kanban/column/new/", {"after": "-1:0"}, headers=HTMX)
    assert [card_attrs(response, lead)["data-can-move"] for lead in (alices_lead, bobs_lead)] == ["1", "0"]


def test_load_more_brings_the_next_cards_of_the_column(as_alice, stages, settings):
    settings.BOARD_PAGE_SIZE = 2
    leads = LeadFactory.create_batch(5, stage=stages["new"])
    board = as_alice.get(BOARD)
    more_url = html.unescape(re.search(r'hx-get="(/leads/kanban/column/new/[^"]+)"', text(board)).group(1))
    more = as_alice.get(more_url, headers=HTMX)
    assert more.status_code == 200
    assert card_ids(board) + card_ids(more) == [lead.pk for lead in leads[:4]]
    assert "/leads/kanban/column/new/?after=" in text(more)


def test_load_more_keeps_the_filters(as_alice, stages, alice, bob, settings):
    settings.BOARD_PAGE_SIZE = 1
    first, second = (LeadFactory(stage=stages["new"], owner=alice) for _ in range(2))
    LeadFactory(stage=stages["new"], owner=bob)
    response = as_alice.get(
        "/leads/kanban/column/new/", {"after": f"{first.position}:{first.pk}", "mine": "1"}, headers=HTMX
    )
    assert card_ids(response) == [second.pk]


@pytest.mark.parametrize("after", ["", "garbage", "1:2:3", "x:1", "1:"])
def test_load_more_refuses_a_garbled_place(as_alice, stages, after):
    response = as_alice.get("/leads/kanban/column/new/", {"after": after}, headers=HTMX)
    assert response.status_code == 400
    assert "“after” must be a card's position and id" in text(response)


def test_load_more_of_an_unknown_column_is_not_found(as_alice, stages):
    assert as_alice.get("/leads/kanban/column/nowhere/", {"after": "0:1"}).status_code == 404


@pytest.mark.parametrize("source", ["²", "99999999999999999999999", "-1", "abc"])
def test_a_strange_source_filter_is_ignored_not_a_500(client, alice, stages, source):
    client.force_login(alice)
    assert client.get("/leads/kanban/", {"source": source}).status_code == 200


# --- Moving a card -------------------------------------------------------------------------------------


def test_a_move_answers_with_the_moved_card(as_alice, stages, alices_lead):
    response = move(as_alice, alices_lead, "contacted")
    assert response.status_code == 200
    assert "crm/partials/_card.html" in templates(response)
    attrs = card_attrs(response, alices_lead)
    assert (attrs["data-stage"], attrs["data-version"], attrs["data-can-move"]) == (
        "contacted",
        str(alices_lead.version + 1),
        "1",
    )
    assert Lead.objects.get(pk=alices_lead.pk).stage == stages["contacted"]


def test_a_move_honours_the_neighbour_the_mover_saw(as_alice, stages, alices_lead):
    top, below = LeadFactory.create_batch(2, stage=stages["contacted"])
    move(as_alice, alices_lead, "contacted", index=0, next=below.pk)
    column = Lead.objects.filter(stage=stages["contacted"]).order_by("position", "id")
    assert list(column.values_list("pk", flat=True)) == [top.pk, alices_lead.pk, below.pk]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "stage: This field is required."),
        ({"stage": "contacted", "version": 1}, "index: This field is required."),
        ({"stage": "contacted", "index": 0}, "version: This field is required."),
        ({"stage": "contacted", "index": -1, "version": 1}, "index: Ensure this value is greater than"),
        ({"stage": "contacted", "index": "top", "version": 1}, "index: Enter a whole number."),
        ({"stage": "not a slug!", "index": 0, "version": 1}, "stage: Enter a valid “slug”"),
    ],
)
def test_a_move_with_missing_or_invalid_fields_is_a_readable_400(
    as_alice, stages, alices_lead, data, message
):
    response = as_alice.post(f"/leads/{alices_lead.pk}/move/", data, headers=FETCH)
    assert response.status_code == 400
    assert text(response).startswith("Cannot move the card: ")
    assert message in text(response)


def test_a_move_to_an_unknown_stage_is_a_readable_400(as_alice, stages, alices_lead):
    response = move(as_alice, alices_lead, "nowhere")
    assert (response.status_code, text(response)) == (400, "There is no stage “nowhere”.")


def test_moving_another_agents_lead_is_a_403_saying_whose_it_is(as_alice, stages, bobs_lead):
    response = move(as_alice, bobs_lead)
    assert response.status_code == 403
    assert "“Ben Dubois” belongs to bob; only they or a manager can change it." in text(response)
    assert Lead.objects.get(pk=bobs_lead.pk).stage == stages["new"]


def test_a_manager_moves_an_agents_lead(as_manager, stages, bobs_lead):
    assert move(as_manager, bobs_lead).status_code == 200


def test_moving_a_missing_lead_is_a_404(as_alice, stages):
    response = as_alice.post("/leads/999999/move/", {"stage": "new", "index": 0, "version": 1}, headers=FETCH)
    assert (response.status_code, text(response)) == (404, "That lead does not exist any more.")


def test_a_stale_move_is_a_409_with_the_current_card_and_who_moved_it(client, stages, alice, bob):
    lead = LeadFactory(stage=stages["new"], owner=None)
    seen = lead.version
    services.move_lead(lead.pk, actor=bob, stage_slug="won", placement=services.Placement(0), version=seen)
    client.force_login(alice)
    response = move(client, lead, "contacted", version=seen)
    assert response.status_code == 409
    attrs = card_attrs(response, lead)
    assert (attrs["data-stage"], attrs["data-version"]) == ("won", str(seen + 1))
    assert notice(response)["level"] == "error"
    assert "Bob Nguyen moved it to Won" in notice(response)["message"]


def test_moving_into_a_full_column_is_a_409_with_the_card_where_it_was(as_alice, stages, alices_lead):
    LeadFactory.create_batch(3, stage=stages["proposal"])
    response = move(as_alice, alices_lead, "proposal")
    assert response.status_code == 409
    assert card_attrs(response, alices_lead)["data-stage"] == "new"
    assert notice(response)["message"] == "“Proposal” is full: its limit is 3 leads."


def test_a_refused_move_from_a_plain_browser_is_a_page_with_the_reason(as_alice, stages, bobs_lead):
    response = as_alice.post(f"/leads/{bobs_lead.pk}/move/", {"stage": "won", "index": 0, "version": 1})
    assert response.status_code == 403
    assert "error.html" in templates(response)
    assert "belongs to bob" in text(response)


def test_move_takes_only_post(as_alice, stages, alices_lead):
    assert as_alice.get(f"/leads/{alices_lead.pk}/move/").status_code == 405


def test_move_asks_an_anonymous_visitor_to_log_in(client, stages, alices_lead):
    response = move(client, alices_lead)
    assert response.status_code == 302
    assert Lead.objects.get(pk=alices_lead.pk).stage == stages["new"]


def test_a_huge_move_index_is_a_readable_400(client, alice, alices_lead):
    client.force_login(alice)
    response = move(client, alices_lead, index=10**20)
    assert response.status_code == 400
    assert "index" in response.content.decode()


# --- The lead page -------------------------------------------------------------------------------------


def test_lead_page_shows_the_details_and_the_history(as_alice, stages, alice, alices_lead):
    services.move_lead(
        alices_lead.pk, actor=alice, stage_slug="contacted", placement=services.Placement(0), version=1
    )
    response = as_alice.get(f"/leads/{alices_lead.pk}/")
    assert response.status_code == 200
    assert "crm/lead_detail.html" in templates(response)
    assert re.search(
        r"<strong>Alice Martin</strong> moved\s*<ul><li>Stage: <del>New</del> → <ins>Contacted</ins>",
        text(response),
    )


def test_lead_page_of_a_missing_lead_is_a_404(as_alice, stages):
    assert as_alice.get("/leads/999999/").status_code == 404


def test_an_edit_saves_and_answers_with_the_form(as_alice, stages, alices_lead):
    response = as_alice.post(
        f"/leads/{alices_lead.pk}/", edit_data(alices_lead, company="Globex"), headers=HTMX
    )
    assert response.status_code == 200
    assert "crm/partials/lead_form.html" in templates(response)
    assert "Saved." in text(response)
    assert Lead.objects.get(pk=alices_lead.pk).company == "Globex"


def test_an_edit_with_an_invalid_email_is_a_400_with_the_error_in_place(as_alice, stages, alices_lead):
    data = edit_data(alices_lead, email="not-an-email", company="Globex")
    response = as_alice.post(f"/leads/{alices_lead.pk}/", data, headers=HTMX)
    assert response.status_code == 400
    assert re.search(
        r'<span class="field-error" role="alert">Enter a valid email address.</span>', text(response)
    )
    assert 'id="lead-form"' in text(response)
    assert Lead.objects.get(pk=alices_lead.pk).company == "Acme"


def test_an_edit_with_a_stale_version_is_a_409_and_saves_nothing(as_alice, stages, manager, alices_lead):
    seen = alices_lead.version
    services.update_lead(alices_lead.pk, actor=manager, version=seen, changes={"phone": "+1 555"})
    response = as_alice.post(
        f"/leads/{alices_lead.pk}/", edit_data(alices_lead, company="Globex"), headers=HTMX
    )
    assert response.status_code == 409
    assert "Manager edited it" in text(response)
    assert "your edit was not saved" in text(response)
    lead = Lead.objects.get(pk=alices_lead.pk)
    assert (lead.company, lead.phone, lead.version) == ("Acme", "+1 555", seen + 1)


def test_editing_another_agents_lead_is_a_403(as_alice, stages, bobs_lead):
    response = as_alice.post(f"/leads/{bobs_lead.pk}/", edit_data(bobs_lead, company="Globex"), headers=HTMX)
    assert response.status_code == 403
    assert Lead.objects.get(pk=bobs_lead.pk).company == "Acme"


def test_the_new_lead_form_is_shown(as_alice, stages):
    response = as_alice.get("/leads/new/")
    assert response.status_code == 200
    assert "crm/lead_create.html" in templates(response)


def test_creating_a_lead_opens_its_page(as_alice, stages, alice):
    data = {
        "name": "Eva Haddad",
        "owner": alice.pk,
        "priority": 3,
        "expected_value": "1200",
        "engagement_level": 0,
    }
    response = as_alice.post("/leads/new/", data)
    lead = Lead.objects.get(name="Eva Haddad")
    assert (response.status_code, response["Location"]) == (302, f"/leads/{lead.pk}/")
    assert (lead.stage.slug, lead.owner, lead.priority) == ("new", alice, 3)


def test_creating_a_lead_without_a_name_is_a_400_with_the_error(as_alice, stages):
    response = as_alice.post("/leads/new/", {"priority": 2, "expected_value": "0", "engagement_level": 0})
    assert response.status_code == 400
    assert "This field is required." in text(response)
    assert not Lead.objects.exists()


def test_an_edit_without_a_version_is_refused_not_applied(client, alice, alices_lead):
    client.force_login(alice)
    data = edit_data(alices_lead, company="Globex")
    data.pop("version")
    response = client.post(f"/leads/{alices_lead.pk}/", data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    alices_lead.refresh_from_db()
    assert alices_lead.company != "Globex"


# --- Logging an interaction ----------------------------------------------------------------------------


def test_the_board_dialog_shows_the_log_form(as_alice, stages, alices_lead):
    response = as_alice.get(f"/leads/{alices_lead.pk}/interactions/", {"in": "dialog"}, headers=HTMX)
    assert response.status_code == 200
    assert "crm/partials/interaction_dialog.html" in templates(response)
    assert '<input type="hidden" name="in" value="dialog">' in text(response)


def test_logging_from_the_board_dialog_answers_with_the_card(as_alice, stages, alices_lead):
    data = {"in": "dialog", "kind": "call", "notes": "Intro call"}
    response = as_alice.post(f"/leads/{alices_lead.pk}/interactions/", data, headers=HTMX)
    assert response.status_code == 200
    assert (response["HX-Retarget"], response["HX-Reswap"]) == (f"#lead-{alices_lead.pk}", "outerHTML")
    assert card_attrs(response, alices_lead)["data-version"] == str(alices_lead.version + 1)
    assert notice(response)["message"] == "Logged a call with Ana Okafor."
    assert "Last: call" in text(response)


def test_logging_from_the_lead_page_answers_with_the_timeline(as_alice, stages, alices_lead):
    data = {"kind": "meeting", "notes": "Demo booked", "outcome": "Interested"}
    response = as_alice.post(f"/leads/{alices_lead.pk}/interactions/", data, headers=HTMX)
    assert response.status_code == 200
    assert "crm/partials/interactions.html" in templates(response)
    assert "Interactions (1)" in text(response)
    assert "Demo booked" in text(response)
    assert Interaction.objects.get().agent.username == "alice"


def test_logging_an_unknown_kind_is_a_400_with_the_form(as_alice, stages, alices_lead):
    response = as_alice.post(
        f"/leads/{alices_lead.pk}/interactions/", {"in": "dialog", "kind": "fax"}, headers=HTMX
    )
    assert response.status_code == 400
    assert "crm/partials/interaction_dialog.html" in templates(response)
    assert "Select a valid choice." in text(response)
    assert not Interaction.objects.exists()


def test_logging_on_another_agents_lead_is_a_403(as_alice, stages, bobs_lead):
    response = as_alice.post(f"/leads/{bobs_lead.pk}/interactions/", {"kind": "call"}, headers=HTMX)
    assert response.status_code == 403
    assert not Interaction.objects.exists()


def test_logging_an_interaction_refreshes_the_edit_forms_version(client, alice, alices_lead):
    client.force_login(alice)
    response = client.post(
        f"/leads/{alices_lead.pk}/interactions/", {"kind": "call"}, headers={"HX-Request": "true"}
    )
    alices_lead.refresh_from_db()
    assert f'id="id_version" value="{alices_lead.version}" hx-swap-oob="true"' in response.content.decode()


# --- Escaping --------------------------------------------------------------------------------------------


@pytest.fixture
def xss_lead(stages, alice):
    return LeadFactory(name=XSS, company=XSS, stage=stages["new"], owner=alice)


def test_a_script_in_a_name_is_escaped_on_the_board(as_alice, xss_lead):
    page = text(as_alice.get(BOARD))
    assert XSS not in page
    assert ESCAPED_XSS in page


def test_a_script_in_a_name_is_escaped_in_the_moved_card(as_alice, xss_lead):
    fragment = text(move(as_alice, xss_lead, "contacted"))
    assert XSS not in fragment
    assert ESCAPED_XSS in fragment


def test_a_script_in_a_name_is_escaped_in_the_socket_frame(xss_lead, on_commit):
    with on_commit():
        broadcast.send_cards("moved", [xss_lead.pk], None)
    frame = BoardEvent.objects.latest("pk").html
    assert f'id="lead-{xss_lead.pk}"' in frame
    assert XSS not in frame
    assert ESCAPED_XSS in frame


def test_a_script_in_a_name_is_escaped_on_the_lead_page(as_alice, xss_lead):
    page = text(as_alice.get(f"/leads/{xss_lead.pk}/"))
    assert XSS not in page
    assert ESCAPED_XSS in page


# --- Query counts ------------------------------------------------------------------------------------


# Measured: session, user, manager check, sources, latest event number, stages, column stats (the filtered
# count and value, and every card for the WIP limit), the ranked cards (one query for every column) and the
# scoring notice. None of them grows with the board.
BOARD_QUERIES = 10


def test_the_board_takes_as_many_queries_for_300_leads_as_for_3(
    as_alice, stages, alice, bob, source, django_assert_max_num_queries
):
    owners, sources = [alice, bob, None], [source, SourceFactory(name="Website"), None]

    def add(count):
        for i in range(count):
            LeadFactory(
                stage=list(stages.values())[i % 5],
                owner=owners[i % 3],
                source=sources[i % 3],
                follow_up_at=timezone.now(),
                last_interaction_at=timezone.now(),
                last_interaction_kind="call",
            )

    add(3)
    with django_assert_max_num_queries(BOARD_QUERIES) as small:
        assert as_alice.get(BOARD).status_code == 200
    add(297)
    with django_assert_max_num_queries(BOARD_QUERIES) as large:
        assert as_alice.get(BOARD).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_notice_joins_the_client_events_a_response_already_triggers():
    response = trigger_client_event(HttpResponse(), "pipeline:refresh", {"what": "board"})

    notify(response, "Saved.")

    assert json.loads(response["HX-Trigger"]) == {
        "pipeline:refresh": {"what": "board"},
        "pipeline:notice": {"message": "Saved.", "level": "info"},
    }


# --- The board's controls: filtered headers, sorted columns, only the actions the viewer may take ---------


def header_attrs(response, slug: str) -> dict[str, str]:
    match = re.search(rf'<header class="column-header" id="col-{slug}-header"([^>]*)>', text(response))
    assert match, f"no header for {slug}"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))


def test_the_boards_headers_follow_its_filters(as_alice, stages, alice, bob):
    LeadFactory(stage=stages["proposal"], owner=alice, expected_value=100)
    LeadFactory.create_batch(2, stage=stages["proposal"], owner=bob, expected_value=1000)
    response = as_alice.get(BOARD, {"mine": "1"})
    assert header_attrs(response, "proposal") == {"data-count": "1", "data-wip": "3", "data-all": "3"}
    assert re.search(r'id="col-proposal-header".*?class="value"[^>]*>\$100<', text(response), re.S)


def test_an_empty_filtered_column_says_no_matches(as_alice, stages, alice):
    LeadFactory(stage=stages["new"], owner=alice)
    page = text(as_alice.get(BOARD, {"mine": "1"}))
    assert re.search(r'id="col-contacted-cards"[^>]*>\s*<p class="empty">No matches</p>', page)
    assert '<p class="empty">No leads</p>' in text(as_alice.get(BOARD))


def test_the_headers_fragment_counts_what_the_filters_keep_in_constant_queries(
    as_alice, stages, alice, bob, django_assert_max_num_queries
):
    LeadFactory(stage=stages["new"], owner=alice, expected_value=7)
    LeadFactory.create_batch(20, stage=stages["new"], owner=bob)
    # Measured: session, user, the two column stats, the stages and the context processor's manager check.
    with django_assert_max_num_queries(6):
        response = as_alice.get("/leads/kanban/headers/", {"mine": "1"}, headers=HTMX)
    assert response.status_code == 200
    assert header_attrs(response, "new") == {
        "hx-swap-oob": "true",
        "data-count": "1",
        "data-wip": "",
        "data-all": "21",
    }
    assert header_attrs(response, "won")["data-count"] == "0"


def test_a_sorted_board_takes_no_more_queries_and_pages_in_its_order(
    as_alice, stages, settings, django_assert_max_num_queries
):
    settings.BOARD_PAGE_SIZE = 2
    leads = [LeadFactory(stage=stages["new"], lead_score=score) for score in (10, 70, 40, 90)]
    with django_assert_max_num_queries(BOARD_QUERIES):
        response = as_alice.get(BOARD, {"sort": "score"})
    assert card_ids(response) == [leads[3].pk, leads[1].pk]
    more_url = html.unescape(re.search(r'hx-get="([^"]*column/new/[^"]*)"', text(response)).group(1))
    assert "sort=score" in more_url
    assert card_ids(as_alice.get(more_url, headers=HTMX)) == [leads[2].pk, leads[0].pk]


def test_a_garbled_page_key_of_a_sorted_column_is_refused_with_its_sort(as_alice, stages):
    response = as_alice.get(
        "/leads/kanban/column/new/", {"after": "2026-13-45:1", "sort": "activity"}, headers=HTMX
    )
    assert response.status_code == 400
    assert "“after” must be a card's last activity and id" in text(response)


def test_a_card_offers_its_actions_only_to_those_who_may_take_them(as_alice, stages, alice, bob):
    hers, his = LeadFactory(stage=stages["new"], owner=alice), LeadFactory(stage=stages["new"], owner=bob)
    page = text(as_alice.get(BOARD))
    card_html = {
        lead: re.search(rf'<article id="lead-{lead.pk}".*?</article>', page, re.S).group()
        for lead in (hers, his)
    }
    for action in ("Move to…", "Log interaction", "Follow up", "Snooze"):
        assert action in card_html[hers]
        assert action not in card_html[his]
    assert "Bob Nguyen's" in card_html[his]


def test_a_move_with_its_frame_takes_a_fixed_number_of_queries(
    as_alice, stages, alice, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """The move's cost is round trips. Measured: session, user; in its transaction (a savepoint here) the
    lead, the stage, the neighbours, the UPDATE and the history row; the answer's manager check; on commit the
    card, the headers (three), the numbered frame and the webhooks' endpoints. No second read of the card for
    the answer, no score request (a move changes no score)."""
    lead = LeadFactory(stage=stages["new"], owner=alice)
    LeadFactory.create_batch(5, stage=stages["contacted"], owner=alice)
    with django_assert_max_num_queries(16), django_capture_on_commit_callbacks(execute=True):
        response = as_alice.post(
            f"/leads/{lead.pk}/move/", {"stage": "contacted", "index": 0, "version": lead.version}
        )
    assert response.status_code == 200
    assert f'id="lead-{lead.pk}"' in response.content.decode()
