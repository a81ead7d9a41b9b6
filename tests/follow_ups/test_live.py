"""Snooze, wake and reminders reach the sockets live, on the real ASGI app (in-memory layer, or Redis)."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from crm import follow_ups, reminders
from crm.models import FollowUp
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead(stages, alice):
    return LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice)


async def next_user_frame(socket, starts: str) -> str:
    while True:
        text = await socket.receive_from()
        if starts in text:
            return text


async def test_a_snoozed_card_leaves_every_board_and_comes_back_awake(
    open_socket, alice, bob, lead, opening_tag, stated
):
    bobs = await open_socket(bob)
    until = timezone.now() + timedelta(hours=1)
    await database_sync_to_async(follow_ups.snooze_lead)(lead.pk, actor=alice, until=until)
    frame = await bobs.next_board_frame()
    assert lead.pk in stated(frame, "hidden")  # the default board hides snoozed cards: board.js drops it
    assert "snoozed" in opening_tag(frame, f"lead-{lead.pk}")["class"].split()

    woken = await database_sync_to_async(follow_ups.wake_snoozed)(until)
    assert woken == [lead.pk]
    frame = await bobs.next_board_frame()
    card = opening_tag(frame, f"lead-{lead.pk}")
    assert lead.pk not in stated(frame, "hidden") and "snoozed" not in card["class"].split()
    assert int(card["data-version"]) == lead.version + 2


async def test_a_follow_up_updates_the_card_and_the_owners_count(
    open_socket, connect, alice, lead, opening_tag
):
    boards = await open_socket(alice)
    mine, accepted, _ = await connect(alice, path="/ws/me/")
    assert accepted
    due = timezone.now() + timedelta(minutes=30)
    await database_sync_to_async(follow_ups.schedule_follow_up)(lead.pk, actor=alice, due_at=due)
    frame = await boards.next_board_frame()
    assert opening_tag(frame, f"lead-{lead.pk}")["data-version"] == str(lead.version + 1)
    count = await next_user_frame(mine, 'id="due-count"')
    assert '<span class="n">1</span>' in count and 'hx-swap-oob="true"' in count  # swapped into the top bar


async def test_a_due_reminder_shows_on_the_owners_pages_and_nobody_elses(connect, alice, bob, lead, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alices, _, _ = await connect(alice, path="/ws/me/")
    bobs, _, _ = await connect(bob, path="/ws/me/")
    due = timezone.now() + timedelta(hours=1)
    follow_up = await database_sync_to_async(follow_ups.schedule_follow_up)(
        lead.pk, actor=alice, due_at=due, note="Ask about the budget"
    )
    await next_user_frame(alices, 'id="due-count"')  # the count after scheduling
    await database_sync_to_async(reminders.send_due)(due)
    notice = await next_user_frame(alices, 'id="notices"')
    assert f'href="/leads/{lead.pk}/"' in notice and "Ask about the budget" in notice
    assert 'hx-swap-oob="beforeend"' in notice
    assert await bobs.receive_nothing()
    assert (await database_sync_to_async(FollowUp.objects.get)(pk=follow_up.pk)).state == "open"


async def test_the_user_socket_refuses_anonymous_visitors(connect, stages):
    _, accepted, _ = await connect(None, path="/ws/me/")
    assert not accepted
