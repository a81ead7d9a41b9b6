"""An API write is a board write: a move, a snooze, a follow-up reach every open board socket."""

import pytest
from channels.db import database_sync_to_async

from tests.api.conftest import client_for
from tests.factories import LeadFactory

# The consumers read the database from their own threads: the test's rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def api_move(user, lead, stage: str) -> int:
    body = {"stage": stage, "index": 0, "version": lead.version}
    return client_for(user).post(f"/api/v1/leads/{lead.pk}/move/", body, format="json").status_code


async def test_a_move_through_the_api_reaches_an_open_board(open_socket, opening_tag, stages, alice, manager):
    lead = await database_sync_to_async(LeadFactory)(name="Ana Silva", stage=stages["new"], owner=alice)
    board = await open_socket(alice)
    assert await api_move(manager, lead, "contacted") == 200
    frame = await board.next_board_frame()
    card = opening_tag(frame, f"lead-{lead.pk}")
    assert (card["data-version"], card["data-stage"]) == ("2", "contacted")
    assert opening_tag(frame, "col-contacted-header")["data-count"] == "1"


@database_sync_to_async
def api_post(user, path: str, body: dict) -> int:
    return client_for(user).post(path, body, format="json").status_code


async def test_a_snooze_through_the_api_takes_the_card_off_every_board(
    open_socket, opening_tag, stated, stages, alice, bob
):
    lead = await database_sync_to_async(LeadFactory)(name="Ana Silva", stage=stages["new"], owner=alice)
    board = await open_socket(bob)
    assert await api_post(alice, f"/api/v1/leads/{lead.pk}/snooze/", {"preset": "tomorrow"}) == 200
    frame = await board.next_board_frame()
    assert lead.pk in stated(frame, "hidden")
    assert "snoozed" in opening_tag(frame, f"lead-{lead.pk}")["class"].split()


async def test_a_follow_up_scheduled_through_the_api_updates_the_card_on_an_open_board(
    open_socket, opening_tag, stages, alice, manager
):
    lead = await database_sync_to_async(LeadFactory)(name="Ana Silva", stage=stages["new"], owner=alice)
    board = await open_socket(alice)
    body = {"due_at": "2099-01-05T10:00:00Z", "note": "Prices"}
    assert await api_post(manager, f"/api/v1/leads/{lead.pk}/follow-ups/", body) == 201
    frame = await board.next_board_frame()
    assert opening_tag(frame, f"lead-{lead.pk}")["data-version"] == str(lead.version + 1)
