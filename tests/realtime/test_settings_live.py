"""Settings reach open boards: a stage change makes every board re-read its columns, and a deactivated
member's sockets close, through the same services the settings pages call."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from crm import services, team
from realtime.consumers import CLOSE_UNAUTHENTICATED
from realtime.models import BoardEvent
from tests.factories import LeadFactory
from tests.sockets import closed_with

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("change", ["reorder", "merge", "rename"])
async def test_a_stage_change_reaches_every_board(open_socket, stages, alice, manager, change):
    board = await open_socket(alice)
    await database_sync_to_async(LeadFactory.create_batch)(2, stage=stages["contacted"])

    def act():
        if change == "reorder":
            services.shift_stage(stages["won"].pk, actor=manager, by=-1)
        elif change == "merge":
            services.merge_stage(stages["contacted"].pk, into_id=stages["new"].pk, actor=manager)
        else:
            stage = stages["proposal"]
            stage.name = "Offer"
            services.save_stage(stage, actor=manager)

    await database_sync_to_async(act)()

    frame = await board.next_board_frame()
    while 'id="board-refresh"' not in frame:  # a merge sends each moved card first, then the refresh
        frame = await board.next_board_frame()
    kinds = await database_sync_to_async(lambda: list(BoardEvent.objects.values_list("kind", flat=True)))()
    assert kinds[-1] == "stages"


async def test_a_settings_page_post_reaches_a_board(open_socket, stages, alice, manager):
    board = await open_socket(alice)

    def post():
        browser = Client()
        browser.force_login(manager)
        return browser.post(f"/settings/stages/{stages['lost'].pk}/shift/", {"direction": "up"}).status_code

    assert await database_sync_to_async(post)() == 302
    assert 'id="board-refresh"' in await board.next_board_frame()


async def test_deactivating_through_the_team_closes_their_sockets(
    open_socket, connect, stages, alice, bob, manager
):
    board = await open_socket(alice)
    mine, accepted, _ = await connect(alice, path="/ws/me/")
    assert accepted
    watcher = await open_socket(bob)
    lead = await database_sync_to_async(LeadFactory)(stage=stages["new"], owner=alice)

    await database_sync_to_async(team.deactivate)(alice.pk, actor=manager, hand_over=True, hand_to=bob)

    assert await closed_with(board) == CLOSE_UNAUTHENTICATED
    assert await closed_with(mine) == CLOSE_UNAUTHENTICATED
    handed = await watcher.next_board_frame()  # bob's board gets the lead, now his
    assert f'id="lead-{lead.pk}"' in handed
