"""The HTTP contract of snooze and follow-ups: status codes, fragments, refusals, the board filters."""

import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm import follow_ups, profiles
from crm.models import Delivery, FollowUp, Interaction, Lead, local_day
from tests.factories import LeadFactory

BOARD = "/leads/kanban/"
HTMX = {"HX-Request": "true"}


def text(response) -> str:
    return response.content.decode()


def card_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article id="lead-(\d+)"', text(response))]


def later(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def schedule(lead, actor, **fields):
    return follow_ups.schedule_follow_up(
        lead.pk, actor=actor, due_at=timezone.now() + timedelta(days=1), **fields
    )


# --- Snooze -----------------------------------------------------------------------------------------


def test_snooze_with_a_time_answers_the_updated_card(as_alice, alices_lead):
    until = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    response = as_alice.post(
        f"/leads/{alices_lead.pk}/snooze/", {"until": until.isoformat(), "reason": "Budget"}
    )
    assert response.status_code == 200
    assert card_ids(response) == [alices_lead.pk]
    assert 'class="card prio-2 snoozed"' in text(response) and "Snoozed until" in text(response)
    assert Lead.objects.get(pk=alices_lead.pk).snoozed_until == until


@pytest.mark.parametrize("preset", ["1h", "4h", "tomorrow", "monday"])
def test_snooze_presets_put_the_lead_aside_until_a_later_time(as_alice, alices_lead, preset):
    response = as_alice.post(f"/leads/{alices_lead.pk}/snooze/", {"preset": preset})
    assert response.status_code == 200
    assert Lead.objects.get(pk=alices_lead.pk).snoozed_until > timezone.now() + timedelta(minutes=59)


def test_a_time_without_offset_is_read_in_the_users_own_zone(as_alice, alice, alices_lead):
    profiles.set_time_zone(alice, "Asia/Tokyo")
    year = timezone.now().year + 1
    as_alice.post(f"/leads/{alices_lead.pk}/snooze/", {"until": f"{year}-01-15T09:00"})
    until = Lead.objects.get(pk=alices_lead.pk).snoozed_until
    assert until.astimezone(UTC).hour == 0  # 09:00 in Tokyo is midnight UTC
    page = text(as_alice.get(f"/leads/{alices_lead.pk}/"))
    assert "15 Jan " in page and f"{year}, 09:00" in page  # shown back in her zone


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"until": "2001-01-01T09:00Z"}, "must be in the future"),
        ({"until": "next tuesday"}, "is not a date and time"),
        ({"preset": "someday"}, "is not a snooze preset"),
        ({}, "Say until when"),
    ],
)
def test_a_bad_snooze_answers_400_with_a_message_and_changes_nothing(as_alice, alices_lead, data, message):
    response = as_alice.post(f"/leads/{alices_lead.pk}/snooze/", data, headers=HTMX)
    assert response.status_code == 400 and message in text(response)
    assert Lead.objects.get(pk=alices_lead.pk).version == alices_lead.version


def test_snooze_refuses_like_a_move(as_alice, bobs_lead, client):
    assert as_alice.post(f"/leads/{bobs_lead.pk}/snooze/", {"preset": "1h"}).status_code == 403
    assert as_alice.post("/leads/999999/snooze/", {"preset": "1h"}).status_code == 404
    client.logout()
    assert client.post(f"/leads/{bobs_lead.pk}/snooze/", {"preset": "1h"}).status_code == 302


def test_unsnooze_answers_the_awake_card(as_alice, alices_lead, alice):
    follow_ups.snooze_lead(alices_lead.pk, actor=alice, until=timezone.now() + timedelta(hours=1))
    response = as_alice.post(f"/leads/{alices_lead.pk}/unsnooze/")
    assert response.status_code == 200 and "snoozed" not in re.search(
        r"<article[^>]*>", text(response)
    ).group(0)
    assert Lead.objects.get(pk=alices_lead.pk).snoozed_until is None


def test_the_lead_page_says_who_snoozed_it_until_when_and_why(as_alice, alices_lead, alice):
    follow_ups.snooze_lead(
        alices_lead.pk, actor=alice, until=timezone.now() + timedelta(hours=2), reason="On leave"
    )
    page = text(as_alice.get(f"/leads/{alices_lead.pk}/"))
    assert "Snoozed by Alice Martin until" in page and "“On leave”" in page
    assert "Alice Martin</strong> snoozed" in page  # the history


# --- The board's filters ----------------------------------------------------------------------------


@pytest.fixture
def board(stages, alice):
    now = timezone.now()
    awake = LeadFactory(stage=stages["new"], owner=alice)
    snoozed = LeadFactory(stage=stages["new"], owner=alice, snoozed_until=now + timedelta(hours=3))
    overdue = LeadFactory(stage=stages["new"], owner=alice, follow_up_at=now - timedelta(days=2))
    later_today_or_tomorrow = LeadFactory(
        stage=stages["new"], owner=alice, follow_up_at=now + timedelta(days=5)
    )
    return awake, snoozed, overdue, later_today_or_tomorrow


def test_a_snoozed_card_is_not_on_the_default_board(as_alice, board):
    awake, _, overdue, later = board
    assert set(card_ids(as_alice.get(BOARD))) == {awake.pk, overdue.pk, later.pk}


def test_the_snoozed_filter_shows_the_snoozed_cards_dimmed_with_their_wake_time(as_alice, board):
    snoozed = board[1]
    response = as_alice.get(BOARD, {"snoozed": "1"})
    assert card_ids(response) == [snoozed.pk]
    assert "card prio-2 snoozed" in text(response) and "Snoozed until" in text(response)


def test_the_overdue_filter_shows_only_overdue_cards(as_alice, board):
    assert card_ids(as_alice.get(BOARD, {"overdue": "1"})) == [board[2].pk]


def test_the_due_today_filter_uses_the_users_day(as_alice, alice, stages):
    profiles.set_time_zone(alice, "Pacific/Kiritimati")  # UTC+14: "today" there is not the server's today

    start, end = local_day(tz=ZoneInfo("Pacific/Kiritimati"))
    today = LeadFactory(stage=stages["new"], owner=alice, follow_up_at=start + timedelta(hours=12))
    LeadFactory(stage=stages["new"], owner=alice, follow_up_at=end + timedelta(hours=1))
    assert card_ids(as_alice.get(BOARD, {"due": "today"})) == [today.pk]


# --- Follow-ups -------------------------------------------------------------------------------------


def test_scheduling_answers_201_with_the_follow_up_fragment(as_alice, alices_lead):
    response = as_alice.post(
        f"/leads/{alices_lead.pk}/follow-ups/",
        {
            "due_at": later(days=1),
            "note": "Send the quote",
            "duration_minutes": "45",
            "remind_minutes_before": "60",
        },
    )
    follow_up = FollowUp.objects.get()
    assert response.status_code == 201
    assert re.match(rf'\s*<li id="follow-up-{follow_up.pk}"', text(response))
    assert "Send the quote" in text(response) and "45 min" in text(response)
    assert (follow_up.duration_minutes, follow_up.remind_minutes_before) == (45, 60)
    assert Lead.objects.get(pk=alices_lead.pk).follow_up_at == follow_up.due_at


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"note": "no date"}, "Give “due_at”"),
        ({"due_at": "soonish"}, "is not a date and time"),
        ({"due_at": "2001-01-01T09:00Z"}, "must be in the future"),
        ({"due_at": "2099-01-01T09:00Z", "duration_minutes": "lots"}, "whole number of minutes"),
    ],
)
def test_a_bad_follow_up_answers_400_with_a_message_and_saves_nothing(as_alice, alices_lead, data, message):
    response = as_alice.post(f"/leads/{alices_lead.pk}/follow-ups/", data, headers=HTMX)
    assert response.status_code == 400 and message in text(response)
    assert not FollowUp.objects.exists() and not Delivery.objects.exists()
    assert Lead.objects.get(pk=alices_lead.pk).version == alices_lead.version


def test_follow_ups_refuse_like_moves(as_alice, bobs_lead, bob):
    assert as_alice.post(f"/leads/{bobs_lead.pk}/follow-ups/", {"due_at": later(days=1)}).status_code == 403
    assert as_alice.post("/leads/999999/follow-ups/", {"due_at": later(days=1)}).status_code == 404
    follow_up = follow_ups.schedule_follow_up(
        bobs_lead.pk, actor=bob, due_at=timezone.now() + timedelta(days=1)
    )
    for action in ("", "complete/", "cancel/"):
        assert (
            as_alice.post(f"/follow-ups/{follow_up.pk}/{action}", {"due_at": later(days=2)}).status_code
            == 403
        )
        assert as_alice.post(f"/follow-ups/999999/{action}").status_code == 404
    assert FollowUp.objects.get().state == "open" and FollowUp.objects.get().sequence == 0


def test_rescheduling_answers_the_fragment_with_the_new_time(as_alice, alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(
        alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=1)
    )
    new_due = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = as_alice.post(f"/follow-ups/{follow_up.pk}/", {"due_at": new_due.isoformat(), "note": "Moved"})
    assert response.status_code == 200 and f'id="follow-up-{follow_up.pk}"' in text(response)
    follow_up.refresh_from_db()
    assert (follow_up.due_at, follow_up.note, follow_up.sequence) == (new_due, "Moved", 1)


def test_rescheduling_into_the_past_is_refused_and_keeps_the_old_time(as_alice, alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(
        alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=1)
    )
    response = as_alice.post(f"/follow-ups/{follow_up.pk}/", {"due_at": "2001-01-01T00:00Z"}, headers=HTMX)
    assert response.status_code == 400 and "must be in the future" in text(response)
    assert FollowUp.objects.get().due_at == follow_up.due_at


def test_completing_with_a_log_records_the_interaction(as_alice, alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(
        alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=1)
    )
    response = as_alice.post(
        f"/follow-ups/{follow_up.pk}/complete/", {"log_kind": "meeting", "notes": "Signed"}
    )
    assert response.status_code == 200 and "Done" in text(response)
    assert list(Interaction.objects.values_list("kind", "notes")) == [("meeting", "Signed")]
    assert Lead.objects.get(pk=alices_lead.pk).follow_up_at is None


def test_cancelling_answers_the_cancelled_fragment(as_alice, alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(
        alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=1)
    )
    response = as_alice.post(f"/follow-ups/{follow_up.pk}/cancel/")
    assert response.status_code == 200 and "Cancelled" in text(response)
    assert FollowUp.objects.get().state == "cancelled"


def test_the_lead_page_lists_open_and_past_follow_ups_with_add_to_calendar(as_alice, alices_lead, alice):
    soon = timezone.now() + timedelta(days=1)
    done = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon, note="First call")
    follow_ups.complete_follow_up(done.pk, actor=alice)
    open_one = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon, note="Second call")
    page = text(as_alice.get(f"/leads/{alices_lead.pk}/"))
    open_part, past_part = page.split("<h3>Past</h3>")
    assert "Second call" in open_part and "First call" in past_part
    assert f'href="/follow-ups/{open_one.pk}/invite.ics"' in page


def test_the_card_offers_snooze_and_follow_up_quick_actions_that_open_their_dialogs(as_alice, alices_lead):
    board = text(as_alice.get(BOARD))
    assert f'hx-get="/leads/{alices_lead.pk}/snooze/?in=dialog"' in board
    assert f'hx-get="/leads/{alices_lead.pk}/follow-ups/?in=dialog"' in board
    dialog = as_alice.get(f"/leads/{alices_lead.pk}/snooze/?in=dialog", headers=HTMX)
    assert dialog.status_code == 200 and 'name="preset" value="tomorrow"' in text(dialog)
    dialog = as_alice.get(f"/leads/{alices_lead.pk}/follow-ups/?in=dialog", headers=HTMX)
    assert dialog.status_code == 200 and 'name="due_at"' in text(dialog)


def test_a_quick_action_from_the_dialog_swaps_nothing_and_says_what_happened(as_alice, alices_lead):
    response = as_alice.post(
        f"/leads/{alices_lead.pk}/snooze/", {"preset": "4h", "in": "dialog"}, headers=HTMX
    )
    assert response.status_code == 200 and response["HX-Reswap"] == "none"
    assert "Snoozed Ana Okafor until" in response["HX-Trigger"]


def test_the_top_bar_counts_overdue_and_due_today_follow_ups_and_opens_the_list(as_alice, alice, bob, stages):
    lead = LeadFactory(stage=stages["new"], owner=alice, name="Overdue Olga")
    now = timezone.now()
    FollowUp.objects.create(lead=lead, owner=alice, due_at=now - timedelta(days=1))
    FollowUp.objects.create(lead=lead, owner=alice, due_at=now + timedelta(days=3))
    FollowUp.objects.create(lead=lead, owner=bob, due_at=now - timedelta(days=1))
    count = as_alice.get("/follow-ups/count/", headers=HTMX)
    assert '<span class="n">1</span>' in text(count)
    listing = text(as_alice.get("/follow-ups/"))
    assert "Overdue Olga" in listing and listing.count("<time ") == 1


def test_the_time_zone_setting_is_saved_and_a_bad_one_refused(as_alice, alice):
    assert as_alice.post("/account/time-zone/", {"time_zone": "Europe/Paris"}).status_code == 200
    alice.refresh_from_db()
    assert alice.profile.time_zone == "Europe/Paris"
    assert as_alice.post("/account/time-zone/", {"time_zone": "Mars/Olympus"}).status_code == 400
    assert "Europe/Paris" in text(as_alice.get("/account/time-zone/"))
