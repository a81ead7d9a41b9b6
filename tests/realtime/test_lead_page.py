"""The live lead page's socket, driven as a browser drives it, on the real ASGI application: after anyone's
change the page's read-only parts arrive, rendered for its viewer; a viewer who may not see the lead gets
nothing. Runs on the in-memory layer, and on Redis with Postgres when REDIS_URL and DATABASE_URL are set."""

import json
import re
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from crm import follow_ups, services
from crm.models import Lead
from realtime.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead(stages, alice):
    return LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice)


async def open_page(open_socket, user, lead):
    return await open_socket(user, f"/ws/lead/{lead.pk}/")


@database_sync_to_async
def move(lead: Lead, actor, stage_slug: str) -> None:
    version = Lead.objects.get(pk=lead.pk).version
    services.move_lead(
        lead.pk, actor=actor, stage_slug=stage_slug, placement=services.Placement(0), version=version
    )


def stale_version(frame: str) -> int:
    return int(re.search(r'id="lead-stale"[^>]*data-version="(\d+)"', frame).group(1))


async def test_hello_answers_with_the_page_as_it_is_now(open_socket, alice, lead):
    socket = await open_page(open_socket, alice, lead)
    await socket.send_to(text_data=json.dumps({"type": "hello"}))
    frame = await socket.receive_from()
    assert '<header id="lead-head" class="lead-head" hx-swap-oob="true"' in frame
    assert 'id="interaction-list"' in frame and 'id="history"' in frame


async def test_someone_elses_move_reaches_the_open_page_with_its_history(open_socket, alice, manager, lead):
    socket = await open_page(open_socket, alice, lead)
    await move(lead, manager, "contacted")
    frame = await socket.receive_from()
    assert '<span class="lead-stage">Contacted</span>' in frame
    assert "Stage: <del>New</del> → <ins>Contacted</ins>" in frame
    # The edit form the page holds is at version 1: the frame says the move (version 2) would refuse it.
    assert stale_version(frame) == 2


async def test_an_interaction_reaches_the_open_page(open_socket, alice, bob, lead):
    socket = await open_page(open_socket, bob, lead)
    await database_sync_to_async(services.log_interaction)(lead.pk, actor=alice, kind="call", notes="Intro")
    frame = await socket.receive_from()
    assert '<h2 id="interactions-title" hx-swap-oob="true">Interactions (1)</h2>' in frame
    assert "<strong>Call</strong> by Alice Martin" in frame


async def test_a_snooze_reaches_the_open_page(open_socket, alice, bob, lead):
    socket = await open_page(open_socket, bob, lead)
    until = timezone.now() + timedelta(days=2)
    await database_sync_to_async(follow_ups.snooze_lead)(lead.pk, actor=alice, until=until, reason="")
    frame = await socket.receive_from()
    assert "snoozed until" in frame


async def test_a_rescore_updates_the_score_but_refuses_no_edit(open_socket, alice, lead):
    socket = await open_page(open_socket, alice, lead)
    await database_sync_to_async(services.record_scores)({lead.pk: (77, "heuristic")})
    frame = await socket.receive_from()
    assert '<span class="lead-score">77</span>' in frame
    assert stale_version(frame) == 1  # the form at version 1 still saves: a rescore is no conflict
    assert 'id="score-reasons"' in frame


async def test_a_viewer_who_may_not_edit_gets_the_fields_as_text(open_socket, alice, bob, lead):
    alices, bobs = await open_page(open_socket, alice, lead), await open_page(open_socket, bob, lead)
    await database_sync_to_async(services.update_lead)(
        lead.pk, actor=alice, version=1, changes={"company": "Globex"}
    )
    alice_frame, bob_frame = await alices.receive_from(), await bobs.receive_from()
    assert 'id="lead-details"' not in alice_frame  # her form stays as she left it
    assert '<dl id="lead-details" class="lead-details" hx-swap-oob="true">' in bob_frame
    assert "<dd>Globex</dd>" in bob_frame and "<input" not in bob_frame
    assert 'id="lead-move-version"' in alice_frame  # her move control follows the lead's version...
    assert 'id="lead-move-version"' not in bob_frame  # ...and bob has none: he may not move it


async def test_a_change_to_another_lead_sends_nothing(open_socket, alice, stages, lead):
    other = await database_sync_to_async(LeadFactory)(stage=stages["new"], owner=alice)
    socket = await open_page(open_socket, alice, lead)
    await move(other, alice, "contacted")
    assert await socket.receive_nothing()


async def test_a_page_is_refused_to_a_visitor_who_is_not_logged_in(connect, lead):
    _, accepted, code = await connect(None, f"/ws/lead/{lead.pk}/")
    assert (accepted, code) == (False, CLOSE_UNAUTHENTICATED)


async def test_a_lead_that_does_not_exist_gets_no_socket(connect, alice, stages):
    _, accepted, code = await connect(alice, "/ws/lead/999999/")
    assert (accepted, code) == (False, CLOSE_FORBIDDEN)


async def test_a_viewer_who_may_no_longer_see_the_lead_gets_no_frame_and_is_closed(
    open_socket, alice, manager, lead
):
    socket = await open_page(open_socket, alice, lead)
    await database_sync_to_async(lambda: type(alice).objects.filter(pk=alice.pk).update(is_active=False))()
    await move(lead, manager, "contacted")
    assert (await socket.receive_output(5))["type"] == "websocket.close"
