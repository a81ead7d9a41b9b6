"""An API write is a board write: the move reaches every open board socket, as a drag does."""

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
