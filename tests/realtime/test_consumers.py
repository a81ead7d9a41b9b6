"""The board and dashboard sockets, driven as browsers drive them, on the real ASGI application.

Runs on the in-memory layer by default and on the Redis pub/sub layer with Postgres when REDIS_URL and
DATABASE_URL are set: the same frames must arrive either way.
"""

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client

from crm import services
from crm.models import Lead
from realtime import broadcast
from realtime.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, RateLimit
from realtime.models import BoardEvent
from tests.factories import LeadFactory

# Consumers reach the database from their own threads: the test's rows must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def move(lead: Lead, actor, stage_slug: str) -> Lead:
    """Move a card to the top of a column with its current version, as a fresh board would."""
    version = Lead.objects.get(pk=lead.pk).version
    placement = services.Placement(index=0)
    return services.move_lead(
        lead.pk, actor=actor, stage_slug=stage_slug, placement=placement, version=version
    )


@database_sync_to_async
def post_move(user, lead: Lead, stage_slug: str, version: int) -> int:
    client = Client()
    client.force_login(user)
    response = client.post(f"/leads/{lead.pk}/move/", {"stage": stage_slug, "index": 0, "version": version})
    return response.status_code


@pytest.fixture
def lead(stages, alice):
    return LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice)


@pytest.fixture
def unassigned(stages):
    """A lead nobody owns: any agent may move it, so any agent may say they are moving it."""
    return LeadFactory(name="Open Lead", stage=stages["new"], owner=None)


# --- Who may connect ------------------------------------------------------------------------------


async def test_logged_in_agent_from_the_site_is_accepted(connect, alice):
    """The baseline the refusals below differ from by one thing each."""
    _, accepted, _ = await connect(alice)

    assert accepted


async def test_anonymous_socket_is_refused(connect, stages):
    _, accepted, code = await connect(None)

    assert (accepted, code) == (False, CLOSE_UNAUTHENTICATED)


async def test_socket_from_a_foreign_origin_is_refused(connect, alice):
    """A page on another site must not ride alice's session cookie into the board (socket hijacking)."""
    _, accepted, _ = await connect(alice, origin="http://evil.example")

    assert not accepted


async def test_socket_without_an_origin_is_refused(connect, alice):
    _, accepted, _ = await connect(alice, origin=None)

    assert not accepted


async def test_socket_from_the_loopback_origin_is_accepted(connect, alice):
    """127.0.0.1 is an allowed host, so `make run` on a laptop works without configuring origins."""
    _, accepted, _ = await connect(alice, origin="http://127.0.0.1:8000")

    assert accepted


async def test_socket_from_another_port_of_the_same_host_is_refused(connect, alice):
    """Another app on the same machine is another origin: its page must not ride on the user's cookie."""
    _, accepted, _ = await connect(alice, origin="http://127.0.0.1:9999", host="127.0.0.1:8000")
    assert not accepted


async def test_socket_from_https_is_refused_on_a_plain_http_server(connect, alice):
    _, accepted, _ = await connect(alice, origin="https://testserver", host="testserver")
    assert not accepted


async def test_socket_from_a_trusted_origin_is_accepted(connect, alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]
    _, accepted, _ = await connect(alice, origin="https://app.example.com", host="testserver")
    assert accepted


async def test_socket_to_a_host_that_is_not_allowed_is_refused(connect, alice):
    _, accepted, _ = await connect(alice, origin="http://evil.example", host="evil.example")
    assert not accepted


async def test_dashboard_refuses_an_agent(connect, alice):
    _, accepted, code = await connect(alice, path="/ws/dashboard/")

    assert (accepted, code) == (False, CLOSE_FORBIDDEN)


async def test_dashboard_accepts_a_manager(connect, manager):
    _, accepted, _ = await connect(manager, path="/ws/dashboard/")

    assert accepted


# --- A move reaches the others --------------------------------------------------------------------


async def test_move_reaches_another_agents_socket_as_the_new_card(open_socket, alice, bob, lead, opening_tag):
    await open_socket(alice)
    bobs = await open_socket(bob)

    await move(lead, alice, "contacted")

    card = opening_tag(await bobs.next_board_frame(), f"lead-{lead.pk}")
    assert (card["data-version"], card["data-stage"], card["hx-swap-oob"]) == ("2", "contacted", "true")


async def test_move_frame_carries_both_columns_headers_with_new_counts(
    open_socket, alice, bob, lead, opening_tag
):
    """One frame updates the card and both counts together, so no board shows a count that disagrees."""
    bobs = await open_socket(bob)

    await move(lead, alice, "contacted")

    frame = await bobs.next_board_frame()
    assert opening_tag(frame, "col-new-header")["data-count"] == "0"
    assert opening_tag(frame, "col-contacted-header")["data-count"] == "1"


async def test_move_is_sent_as_exactly_one_frame(open_socket, alice, bob, lead):
    bobs = await open_socket(bob)

    await move(lead, alice, "contacted")
    await bobs.next_board_frame()

    assert await bobs.receive_nothing()


async def test_move_through_the_http_view_reaches_another_socket(open_socket, alice, bob, lead, opening_tag):
    bobs = await open_socket(bob)

    status = await post_move(alice, lead, "proposal", version=1)

    assert status == 200
    card = opening_tag(await bobs.next_board_frame(), f"lead-{lead.pk}")
    assert (card["data-version"], card["data-stage"]) == ("2", "proposal")


async def test_board_frames_are_numbered_in_increasing_order(open_socket, alice, bob, lead, seq_of):
    bobs = await open_socket(bob)

    await move(lead, alice, "contacted")
    first = seq_of(await bobs.next_board_frame())
    await move(lead, alice, "new")
    second = seq_of(await bobs.next_board_frame())

    assert 0 < first < second


async def test_lead_name_with_a_script_tag_arrives_escaped(open_socket, alice, bob, stages):
    lead = await database_sync_to_async(LeadFactory)(
        name="<script>alert(1)</script>", stage=stages["new"], owner=alice
    )
    bobs = await open_socket(bob)

    await move(lead, alice, "contacted")

    frame = await bobs.next_board_frame()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in frame
    assert "<script" not in frame


# --- What each viewer may do with the cards in a frame -----------------------------------------


async def test_a_frame_says_the_owner_and_managers_may_move_a_card_and_other_agents_may_not(
    open_socket, alice, bob, manager, lead, stated
):
    sockets = {user.username: await open_socket(user) for user in (alice, bob, manager)}

    await move(lead, alice, "contacted")

    frames = {name: await socket.next_board_frame() for name, socket in sockets.items()}
    assert {name: stated(frame, "can-move") for name, frame in frames.items()} == {
        "alice": {lead.pk},
        "bob": set(),
        "manager": {lead.pk},
    }
    assert {name: stated(frame, "hidden") for name, frame in frames.items()} == {
        "alice": set(),
        "bob": set(),
        "manager": set(),
    }


async def test_a_frame_says_which_cards_the_boards_filters_hide(open_socket, alice, bob, lead, stated):
    bobs = await open_socket(bob)
    await bobs.send_json_to({"type": "filters", "filters": "mine=1"})
    alices = await open_socket(alice)
    await alices.send_json_to({"type": "filters", "filters": "mine=1&q=ANA"})

    await move(lead, alice, "contacted")

    bobs_frame, alices_frame = await bobs.next_board_frame(), await alices.next_board_frame()
    assert (stated(bobs_frame, "hidden"), stated(alices_frame, "hidden")) == ({lead.pk}, set())
    assert f'id="lead-{lead.pk}"' in bobs_frame  # one render for all: only the head differs


async def test_new_filters_apply_to_the_next_frame(open_socket, alice, bob, lead, stated):
    bobs = await open_socket(bob)
    await bobs.send_json_to({"type": "filters", "filters": "q=nobody"})
    await move(lead, alice, "contacted")
    assert stated(await bobs.next_board_frame(), "hidden") == {lead.pk}

    await bobs.send_json_to({"type": "filters", "filters": ""})
    await move(lead, alice, "proposal")

    assert stated(await bobs.next_board_frame(), "hidden") == set()


# --- Catch-up after a reconnect -------------------------------------------------------------------


@pytest.fixture
def missed_three_moves(open_socket, alice, lead, seq_of):
    """`await missed_three_moves()`: alice sees one move, drops off, and three moves happen meanwhile;
    returns the last number she saw."""

    async def miss() -> int:
        socket = await open_socket(alice)
        await move(lead, alice, "contacted")
        last_seen = seq_of(await socket.next_board_frame())
        await socket.disconnect()
        for stage in ("new", "contacted", "proposal"):
            await move(lead, alice, stage)
        return last_seen

    return miss


async def test_reconnect_replays_exactly_the_missed_frames_in_order(
    open_socket, alice, lead, opening_tag, seq_of, stated, missed_three_moves
):
    last_seen = await missed_three_moves()
    socket = await open_socket(alice)

    await socket.send_json_to({"type": "hello", "last_seq": last_seen, "filters": "mine=1"})

    replayed = [await socket.receive_from() for _ in range(3)]
    cards = [opening_tag(frame, f"lead-{lead.pk}") for frame in replayed]
    assert [(card["data-version"], card["data-stage"]) for card in cards] == [
        ("3", "new"),
        ("4", "contacted"),
        ("5", "proposal"),
    ]
    assert last_seen < seq_of(replayed[0]) < seq_of(replayed[1]) < seq_of(replayed[2])
    assert [stated(frame, "can-move") for frame in replayed] == [{lead.pk}] * 3  # stated for her, now
    assert await socket.receive_nothing()


async def test_a_replay_is_stated_for_the_filters_the_page_says_hello_with(
    open_socket, alice, bob, lead, stated, missed_three_moves
):
    last_seen = await missed_three_moves()
    bobs = await open_socket(bob)

    await bobs.send_json_to({"type": "hello", "last_seq": last_seen, "filters": "mine=1"})

    replayed = [await bobs.next_board_frame() for _ in range(3)]
    assert [(stated(frame, "hidden"), stated(frame, "can-move")) for frame in replayed] == [
        ({lead.pk}, set())
    ] * 3


async def test_reconnect_after_too_many_missed_frames_gets_a_refresh(
    open_socket, alice, lead, settings, seq_of, missed_three_moves
):
    settings.BOARD_CATCHUP_LIMIT = 2
    last_seen = await missed_three_moves()
    latest = await database_sync_to_async(lambda: BoardEvent.objects.latest("pk").pk)()
    socket = await open_socket(alice)

    await socket.send_json_to({"type": "hello", "last_seq": last_seen})

    frame = await socket.receive_from()
    assert 'id="board-refresh"' in frame
    assert seq_of(frame) == latest
    assert await socket.receive_nothing()


@database_sync_to_async
def move_unheard(lead: Lead, actor, stage_slug: str) -> None:
    """A move whose frame is numbered and stored but reaches no socket, as while Redis restarts."""
    from realtime import broadcast

    original = broadcast._group_send
    broadcast._group_send = lambda group, message: None
    try:
        version = Lead.objects.get(pk=lead.pk).version
        placement = services.Placement(index=0)
        services.move_lead(lead.pk, actor=actor, stage_slug=stage_slug, placement=placement, version=version)
    finally:
        broadcast._group_send = original


async def test_a_frame_after_lost_ones_brings_them_first(open_socket, alice, bob, lead, seq_of, opening_tag):
    bobs = await open_socket(bob)
    await move(lead, alice, "contacted")
    first = seq_of(await bobs.next_board_frame())
    await move_unheard(lead, alice, "proposal")

    await move(lead, alice, "new")

    frames = [await bobs.next_board_frame() for _ in range(2)]
    assert [seq_of(frame) for frame in frames] == [first + 1, first + 2]
    assert [opening_tag(frame, f"lead-{lead.pk}")["data-stage"] for frame in frames] == ["proposal", "new"]
    assert await bobs.receive_nothing()


async def test_frames_of_concurrent_moves_arriving_out_of_order_are_sent_in_order_without_the_database(
    open_socket, alice, bob, lead, seq_of, monkeypatch
):
    """Two requests number their frames, then publish them, each in its own thread: the second number can
    come first. The socket holds it until the first comes, instead of every socket asking the database."""
    bobs = await open_socket(bob)
    await move(lead, alice, "contacted")
    first = seq_of(await bobs.next_board_frame())
    asked = []
    monkeypatch.setattr(broadcast, "missed_since", lambda seq: asked.append(seq) or [])
    layer = get_channel_layer()

    for seq in (first + 2, first + 1):
        event = {"type": "board.event", "seq": seq, "html": f'<p id="n{seq}"></p>', "cards": []}
        await layer.group_send(broadcast.BOARD_GROUP, event)

    frames = [await bobs.next_board_frame() for _ in range(2)]
    assert [seq_of(frame) for frame in frames] == [first + 1, first + 2]
    assert await bobs.receive_nothing(timeout=0.5)
    assert asked == []


async def test_a_ping_brings_lost_frames_when_no_later_frame_comes(open_socket, alice, bob, lead, seq_of):
    bobs = await open_socket(bob)
    await move(lead, alice, "contacted")
    first = seq_of(await bobs.next_board_frame())
    await move_unheard(lead, alice, "proposal")
    assert await bobs.receive_nothing()

    await bobs.send_json_to({"type": "ping"})

    assert seq_of(await bobs.next_board_frame()) == first + 1


async def test_reconnect_across_a_missing_number_gets_a_refresh(open_socket, alice, lead, missed_three_moves):
    """A frame lost in a crash (or not yet committed) leaves a gap: replaying past it would skip a change."""
    last_seen = await missed_three_moves()
    await database_sync_to_async(lambda: BoardEvent.objects.get(pk=last_seen + 2).delete())()
    socket = await open_socket(alice)

    await socket.send_json_to({"type": "hello", "last_seq": last_seen})

    frame = await socket.receive_from()
    assert 'id="board-refresh"' in frame
    assert await socket.receive_nothing()


# --- Presence and dragging ------------------------------------------------------------------------


async def test_second_agent_arriving_shows_both_on_the_board(open_socket, alice, bob):
    alices = await open_socket(alice)

    await open_socket(bob)

    assert await alices.next_presence() == ["alice", "bob"]


async def test_agent_leaving_is_removed_from_the_board(open_socket, alice, bob):
    alices = await open_socket(alice)
    bobs = await open_socket(bob)
    assert await alices.next_presence() == ["alice", "bob"]

    await bobs.disconnect()

    assert await alices.next_presence() == ["alice"]


async def test_drag_shows_the_others_who_is_moving_the_card(open_socket, alice, bob, unassigned):
    alices = await open_socket(alice)
    bobs = await open_socket(bob)
    await alices.next_presence()  # bob's arrival

    await bobs.send_json_to({"type": "drag", "lead": unassigned.pk})

    note = await alices.receive_from()
    assert note.startswith(f'<span id="lead-{unassigned.pk}-dragging"')
    assert "Bob Nguyen is moving this…" in note


async def test_drag_note_is_not_sent_back_to_the_dragger(open_socket, alice, bob, unassigned):
    alices = await open_socket(alice)
    bobs = await open_socket(bob)
    await alices.next_presence()  # bob's arrival

    await bobs.send_json_to({"type": "drag", "lead": unassigned.pk})
    await alices.receive_from()  # once alice has it, bob would have it too

    assert await bobs.receive_nothing()


async def test_drop_clears_the_drag_note_for_the_others(open_socket, alice, bob, unassigned):
    alices = await open_socket(alice)
    bobs = await open_socket(bob)
    await alices.next_presence()  # bob's arrival
    await bobs.send_json_to({"type": "drag", "lead": unassigned.pk})
    await alices.receive_from()

    await bobs.send_json_to({"type": "drop", "lead": unassigned.pk})

    note = await alices.receive_from()
    assert note.startswith(f'<span id="lead-{unassigned.pk}-dragging"')
    assert "is moving this" not in note


# --- What a browser may send wrong ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"lead": 1}),  # no type
        json.dumps(["drag"]),
        json.dumps({"type": "drag"}),  # no lead
        json.dumps({"type": "hello", "last_seq": "latest"}),
    ],
    ids=["not-json", "no-type", "not-an-object", "drag-without-lead", "hello-without-number"],
)
async def test_malformed_message_changes_nothing_and_keeps_the_socket_open(
    open_socket, alice, bob, unassigned, text
):
    """Alice's next frame is bob's drag sent after the bad message: nothing went out, and his socket lives."""
    alices = await open_socket(alice)
    bobs = await open_socket(bob)
    await alices.next_presence()  # bob's arrival

    await bobs.send_to(text_data=text)
    await bobs.send_json_to({"type": "drag", "lead": unassigned.pk})

    assert (await alices.receive_from()).startswith(f'<span id="lead-{unassigned.pk}-dragging"')
    assert await bobs.receive_nothing()


# --- What a socket may say ------------------------------------------------------------------------


async def test_a_drag_note_on_a_lead_the_user_may_not_move_is_not_sent(open_socket, alice, bob, stages):
    alices_own = await database_sync_to_async(LeadFactory)(stage=stages["new"], owner=alice)
    alices = await open_socket(alice)
    bobs = await open_socket(bob)
    await alices.next_presence()  # bob's arrival

    await bobs.send_json_to({"type": "drag", "lead": alices_own.pk})

    assert await alices.receive_nothing()


async def test_a_flooding_socket_is_dropped_then_closed_with_a_policy_violation(open_socket, alice, lead):
    socket = await open_socket(alice)
    for _ in range(200):
        await socket.send_json_to({"type": "ping"})
    closed = await socket.receive_output(timeout=5)
    while closed["type"] != "websocket.close":
        closed = await socket.receive_output(timeout=5)
    assert closed["code"] == 1008


def test_the_rate_limit_refills_with_time_and_forgives_a_client_that_slows_down():
    now = [0.0]
    limit = RateLimit(rate=5, burst=2, strikes=3, clock=lambda: now[0])
    assert [limit.allow() for _ in range(3)] == [True, True, False]
    now[0] += 0.2  # one token back
    assert limit.allow() and not limit.exhausted
    assert [limit.allow() for _ in range(3)] == [False, False, False]
    assert limit.exhausted
