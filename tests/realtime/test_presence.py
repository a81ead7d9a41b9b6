"""Presence is coalesced: joins are noted, and each tick tells the boards once, only what changed.

The ticker is slowed to an hour here and the tests tick by hand, so which frames a tick sends is exact.
"""

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from realtime import broadcast
from realtime.models import Presence
from realtime.presence import hub
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def by_hand(settings):
    settings.PRESENCE_INTERVAL_SECONDS = 3600


@pytest.fixture
def carol(db):
    return UserFactory(username="carol")


async def board(connect, user):
    socket, accepted, code = await connect(user)
    assert accepted, code
    return socket


async def test_arrivals_send_nothing_until_the_tick_which_sends_each_socket_one_list_of_all(
    connect, alice, bob, carol
):
    sockets = [await board(connect, user) for user in (alice, bob, carol)]
    assert await sockets[0].receive_nothing()

    await hub.tick()

    for socket in sockets:
        assert await socket.next_presence() == ["alice", "bob", "carol"]
        assert await socket.receive_nothing()


async def test_joins_write_nothing_until_the_tick(connect, alice, bob):
    await board(connect, alice)
    await board(connect, bob)
    count = database_sync_to_async(Presence.objects.count)
    assert await count() == 0

    await hub.tick()

    assert await count() == 2


async def test_a_tick_without_a_change_sends_nothing(connect, alice, bob):
    alices = await board(connect, alice)
    await board(connect, bob)
    await hub.tick()
    await alices.next_presence()

    await hub.tick()

    assert await alices.receive_nothing()


async def test_a_second_tab_of_someone_present_gets_the_list_and_nobody_else_is_told(connect, alice, bob):
    alices, bobs = await board(connect, alice), await board(connect, bob)
    await hub.tick()
    await alices.next_presence()
    await bobs.next_presence()

    second_tab = await board(connect, alice)
    await hub.tick()

    assert await second_tab.next_presence() == ["alice", "bob"]
    assert await alices.receive_nothing()
    assert await bobs.receive_nothing()


async def test_a_departure_is_told_on_the_next_tick(connect, alice, bob):
    alices, bobs = await board(connect, alice), await board(connect, bob)
    await hub.tick()
    await alices.next_presence()

    await bobs.disconnect()
    await hub.tick()

    assert await alices.next_presence() == ["alice"]


async def test_a_socket_that_comes_and_goes_within_a_tick_is_never_written_or_shown(connect, alice, bob):
    alices = await board(connect, alice)
    await hub.tick()
    await alices.next_presence()

    bobs = await board(connect, bob)
    await bobs.disconnect()
    await hub.tick()

    assert await alices.receive_nothing()
    assert await database_sync_to_async(Presence.objects.count)() == 1


def test_a_tick_writes_any_number_of_arrivals_in_the_same_queries(alice, bob):
    many = {f"channel-{i}": (alice, bob)[i % 2].pk for i in range(100)}
    with CaptureQueriesContext(connection) as one:
        assert [u.username for u in broadcast.record_presence({"one": alice.pk}, set(), set())] == ["alice"]
    with CaptureQueriesContext(connection) as hundred:
        people = broadcast.record_presence(many, set(), set())

    assert len(hundred) == len(one) <= 4  # an upsert (in its transaction) and a read of who is there
    assert [u.username for u in people] == ["alice", "bob"]
    assert Presence.objects.count() == 101


class ClosingSocket:
    """A consumer whose client has gone: sending to it fails until its disconnect removes it."""

    channel_name = "closing-socket"

    async def send(self, text_data=None):
        raise RuntimeError("Attempt to send on a closed protocol")


async def test_a_socket_closing_during_a_tick_does_not_keep_the_list_from_the_others(connect, alice, bob):
    hub.arrive(ClosingSocket(), bob.pk)  # first in line
    alices = await board(connect, alice)

    await hub.tick()

    assert await alices.next_presence() == ["alice", "bob"]
