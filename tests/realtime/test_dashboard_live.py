"""The managers' dashboard socket: a change reaches the tiles by itself, coalesced to one refresh a second."""

import re

import pytest
from channels.db import database_sync_to_async

from crm import services
from crm.models import Lead
from realtime import broadcast
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


def tile(frame: str, name: str) -> str:
    match = re.search(rf'<div class="tile" id="tile-{name}">(.*?)</div>', frame, re.S)
    assert match, f"no {name} tile in the frame"
    return match.group(1)


@database_sync_to_async
def win(lead: Lead, actor) -> None:
    version = Lead.objects.get(pk=lead.pk).version
    services.move_lead(
        lead.pk, actor=actor, stage_slug="won", placement=services.Placement(index=0), version=version
    )


@pytest.fixture
def open_lead(stages, alice):
    return LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice, expected_value=900)


async def test_winning_a_lead_pushes_the_changed_tiles_to_the_dashboard(
    open_socket, manager, alice, open_lead
):
    socket = await open_socket(manager, "/ws/dashboard/")

    await win(open_lead, alice)

    frame = await socket.receive_from()
    assert '<section id="dash-tiles" class="tiles" hx-swap-oob="true">' in frame
    assert "100.0%" in tile(frame, "conversion") and "1 won of 1" in tile(frame, "conversion")
    assert ">0</strong>" in tile(frame, "open")
    assert "moved it to Won" in frame  # recent activity
    assert '<div id="dash-chart-data" hidden hx-swap-oob="true">' in frame
    assert 'id="dash-insights"' not in frame  # the page keeps the insights it was drawn with


async def test_a_burst_of_changes_is_at_most_one_refresh_per_window(
    open_socket, manager, alice, stages, settings
):
    """Four wins in one window: a refresh at once and at most one more when the window ends, showing all."""
    settings.DASHBOARD_REFRESH_SECONDS = 2.5  # longer than four moves take, however busy the machine
    leads = await database_sync_to_async(
        lambda: LeadFactory.create_batch(4, stage=stages["new"], owner=alice)
    )()
    socket = await open_socket(manager, "/ws/dashboard/")

    for lead in leads:
        await win(lead, alice)

    frames = [await socket.receive_from()]
    while "4 won of 4" not in tile(frames[-1], "conversion"):
        frames.append(await socket.receive_from())
    assert len(frames) <= 2
    assert await socket.receive_nothing(timeout=1.0)


async def test_every_dashboard_of_a_process_gets_one_shared_render(
    open_socket, manager, alice, open_lead, monkeypatch
):
    """Five managers watching cost one render per refresh, not five: the figures are the same for each."""
    renders = []
    render = broadcast.render_dashboard
    monkeypatch.setattr(broadcast, "render_dashboard", lambda: renders.append(1) or render())
    sockets = [await open_socket(manager, "/ws/dashboard/") for _ in range(5)]

    await win(open_lead, alice)

    frames = [await socket.receive_from() for socket in sockets]
    assert all("1 won of 1" in tile(frame, "conversion") for frame in frames)
    assert len(set(frames)) == 1
    assert len(renders) == 1
    for socket in sockets:
        assert await socket.receive_nothing(timeout=0.2)


async def test_a_reconnected_page_asks_for_a_refresh(open_socket, manager, open_lead):
    socket = await open_socket(manager, "/ws/dashboard/")

    await socket.send_json_to({"type": "refresh"})

    assert "tile-open" in await socket.receive_from()


@pytest.mark.django_db
def test_a_dashboard_frame_takes_the_same_queries_however_many_leads(
    stages, alice, bob, django_assert_num_queries
):
    """Tiles, charts and activity: seven queries, read from indexes, whatever the number of leads."""
    lead = LeadFactory(stage=stages["new"], owner=alice)
    services.log_interaction(lead.pk, actor=alice, kind="call")
    with django_assert_num_queries(7):
        broadcast.render_dashboard()
    for stage in ("new", "won", "lost"):
        for owner in (alice, bob, None):
            LeadFactory.create_batch(5, stage=stages[stage], owner=owner)

    with django_assert_num_queries(7):
        frame = broadcast.render_dashboard()
    assert ">46</strong>" in tile(frame, "new") and ">16</strong>" in tile(frame, "open")
