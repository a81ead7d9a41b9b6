"""Snooze and follow-ups as services: what they write, what they refuse, what they announce."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm import events, follow_ups
from crm.models import Delivery, FollowUp, Interaction, Lead
from tests.factories import LeadFactory

PARIS = ZoneInfo("Europe/Paris")


def soon(**delta) -> datetime:
    return timezone.now() + timedelta(**delta)


# --- Reading times ----------------------------------------------------------------------------------


def test_a_time_without_offset_is_read_in_the_users_zone():
    assert follow_ups.parse_moment("2026-07-01T09:30", PARIS) == datetime(2026, 7, 1, 7, 30, tzinfo=UTC)


def test_a_time_with_an_offset_or_z_is_absolute_whatever_the_zone():
    assert follow_ups.parse_moment("2026-07-01T09:30Z", PARIS) == datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert follow_ups.parse_moment("2026-07-01T09:30-04:00", PARIS) == datetime(
        2026, 7, 1, 13, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("value", ["", "tomorrow-ish", "2026-13-45T99:00", "31/12/2026"])
def test_an_unreadable_time_is_refused_with_a_message(value):
    with pytest.raises(ValidationError) as refused:
        follow_ups.parse_moment(value, PARIS)
    assert refused.value.messages[0]


def test_tomorrow_is_nine_in_the_morning_local_across_a_dst_change():
    # Saturday 28 March 2026, 20:00 in Paris (UTC+1); the clocks go forward that night (UTC+2).
    now = datetime(2026, 3, 28, 19, 0, tzinfo=UTC)
    tomorrow = follow_ups.preset_moment("tomorrow", now, PARIS)
    assert tomorrow.astimezone(PARIS).hour == 9
    assert tomorrow.astimezone(UTC) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # not 08:00 UTC as a day ago
    assert tomorrow - now == timedelta(hours=12)  # 23 h wall-clock day: one hour shorter than it looks


def test_monday_is_the_next_monday_at_nine_even_on_a_monday():
    monday_noon = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # a Monday
    assert follow_ups.preset_moment("monday", monday_noon, PARIS) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_hour_presets_count_real_hours():
    now = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the night Paris goes back to UTC+1
    assert follow_ups.preset_moment("4h", now, PARIS) - now == timedelta(hours=4)


def test_an_unknown_preset_is_refused():
    with pytest.raises(ValidationError, match="not a snooze preset"):
        follow_ups.preset_moment("someday", timezone.now(), PARIS)


# --- Snooze -----------------------------------------------------------------------------------------


def test_snooze_takes_the_lead_off_the_awake_leads_and_records_who_and_why(
    alices_lead, alice, on_commit, published
):
    until = soon(hours=4)
    with on_commit():
        follow_ups.snooze_lead(alices_lead.pk, actor=alice, until=until, reason="Back from holiday")
    lead = Lead.objects.get(pk=alices_lead.pk)
    assert (lead.snoozed_until, lead.snoozed_by, lead.snooze_reason) == (until, alice, "Back from holiday")
    assert lead.is_snoozed
    assert list(Lead.objects.snoozed()) == [lead] and not Lead.objects.awake().filter(pk=lead.pk).exists()
    assert lead.version == alices_lead.version + 1
    record = lead.history.first()
    assert (record.history_user, record.history_change_reason) == (alice, "snoozed")
    assert published == [events.LeadSnoozed(actor_id=alice.pk, lead_id=lead.pk, until=until.isoformat())]


def test_snooze_into_the_past_is_refused_and_changes_nothing(alices_lead, alice, published):
    history = alices_lead.history.count()
    with pytest.raises(ValidationError, match="must be in the future"):
        follow_ups.snooze_lead(alices_lead.pk, actor=alice, until=soon(minutes=-1))
    lead = Lead.objects.get(pk=alices_lead.pk)
    assert (lead.snoozed_until, lead.version, lead.history.count()) == (None, alices_lead.version, history)
    assert published == []


def test_an_agent_cannot_snooze_someone_elses_lead(bobs_lead, alice):
    with pytest.raises(PermissionDenied):
        follow_ups.snooze_lead(bobs_lead.pk, actor=alice, until=soon(hours=1))
    assert Lead.objects.get(pk=bobs_lead.pk).snoozed_until is None


def test_unsnooze_puts_the_lead_back_at_once(alices_lead, alice, on_commit, published):
    follow_ups.snooze_lead(alices_lead.pk, actor=alice, until=soon(hours=1), reason="later")
    with on_commit():
        follow_ups.unsnooze_lead(alices_lead.pk, actor=alice)
    lead = Lead.objects.get(pk=alices_lead.pk)
    assert (lead.snoozed_until, lead.snoozed_by, lead.snooze_reason) == (None, None, "")
    assert lead.history.first().history_change_reason == "unsnoozed"
    assert published[-1] == events.LeadSnoozed(actor_id=alice.pk, lead_id=lead.pk, until=None)


def test_wake_wakes_only_leads_whose_time_has_come_and_plans_one_email_to_the_owner(stages, alice, bob):
    due = LeadFactory(
        stage=stages["new"], owner=alice, snoozed_until=datetime(2026, 12, 2, 9, 59, tzinfo=UTC)
    )
    later = LeadFactory(
        stage=stages["new"], owner=bob, snoozed_until=datetime(2026, 12, 2, 10, 1, tzinfo=UTC)
    )
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert follow_ups.wake_snoozed(now) == [due.pk]
    assert follow_ups.wake_snoozed(now) == []  # a second run finds nothing: one email, not two
    assert Lead.objects.get(pk=due.pk).snoozed_until is None
    assert Lead.objects.get(pk=later.pk).snoozed_until is not None
    email = Delivery.objects.get()
    assert (email.kind, email.lead_id, email.recipient, email.state) == ("woke", due.pk, alice, "pending")
    record = Lead.objects.get(pk=due.pk).history.first()
    assert (record.history_user, record.history_change_reason) == (None, "woke")


# --- Follow-ups -------------------------------------------------------------------------------------


def test_scheduling_keeps_follow_up_at_the_next_open_due_time(alices_lead, alice):
    later = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=3), note="Pricing")
    sooner = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    assert Lead.objects.get(pk=alices_lead.pk).follow_up_at == sooner.due_at
    follow_ups.complete_follow_up(sooner.pk, actor=alice)
    assert Lead.objects.get(pk=alices_lead.pk).follow_up_at == later.due_at
    follow_ups.cancel_follow_up(later.pk, actor=alice)
    assert Lead.objects.get(pk=alices_lead.pk).follow_up_at is None


def test_a_follow_up_has_the_issue_defaults_and_plans_its_reminder(alices_lead, alice, on_commit, published):
    due = soon(days=1)
    with on_commit():
        follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=due, note="Call back")
    assert (follow_up.duration_minutes, follow_up.remind_minutes_before, follow_up.sequence) == (30, 15, 0)
    assert (follow_up.owner, follow_up.state) == (alice, FollowUp.State.OPEN)
    reminder = Delivery.objects.get()
    assert (reminder.kind, reminder.attempt_at, reminder.recipient) == (
        "reminder",
        due - timedelta(minutes=15),
        alice,
    )
    assert (
        Lead.objects.get(pk=alices_lead.pk).history.first().history_change_reason == "scheduled a follow-up"
    )
    assert published == [
        events.FollowUpChanged(
            actor_id=alice.pk, lead_id=alices_lead.pk, follow_up_id=follow_up.pk, owner_id=alice.pk
        )
    ]


def test_a_follow_up_on_an_unassigned_lead_is_the_schedulers(unassigned_lead, alice):
    follow_up = follow_ups.schedule_follow_up(unassigned_lead.pk, actor=alice, due_at=soon(hours=2))
    assert follow_up.owner == alice


def test_a_follow_up_in_the_past_is_refused_and_nothing_is_half_saved(alices_lead, alice):
    with pytest.raises(ValidationError, match="must be in the future"):
        follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(minutes=-5))
    assert (FollowUp.objects.count(), Delivery.objects.count()) == (0, 0)
    assert Lead.objects.get(pk=alices_lead.pk).version == alices_lead.version


@pytest.mark.parametrize("minutes", ["-5", "abc", str(10**7)])
def test_bad_minutes_are_refused_and_nothing_is_half_saved(alices_lead, alice, minutes):
    with pytest.raises(ValidationError, match="minutes"):
        follow_ups.schedule_follow_up(
            alices_lead.pk, actor=alice, due_at=soon(days=1), duration_minutes=minutes
        )
    assert (FollowUp.objects.count(), Delivery.objects.count()) == (0, 0)


def test_an_agent_cannot_schedule_on_someone_elses_lead_but_a_manager_can(bobs_lead, alice, bob, manager):
    with pytest.raises(PermissionDenied):
        follow_ups.schedule_follow_up(bobs_lead.pk, actor=alice, due_at=soon(days=1))
    follow_up = follow_ups.schedule_follow_up(bobs_lead.pk, actor=manager, due_at=soon(days=1))
    assert follow_up.owner == bob  # the lead's owner follows up, whoever planned it


def test_rescheduling_raises_the_sequence_and_replaces_the_pending_reminder(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    new_due = soon(days=2)
    follow_ups.edit_follow_up(follow_up.pk, actor=alice, due_at=new_due)
    follow_up.refresh_from_db()
    assert follow_up.sequence == 1
    states = dict(Delivery.objects.values_list("sequence", "state"))
    assert states == {0: "superseded", 1: "pending"}
    assert Delivery.objects.get(state="pending").attempt_at == new_due - timedelta(minutes=15)
    assert Lead.objects.get(pk=alices_lead.pk).follow_up_at == new_due


def test_a_follow_up_moved_after_its_reminder_went_out_gets_a_new_one_and_an_updated_invite(
    alices_lead, alice
):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    Delivery.objects.update(state=Delivery.State.SENT)  # as the send job leaves it
    now = timezone.now()
    follow_ups.edit_follow_up(follow_up.pk, actor=alice, due_at=soon(days=2), now=now)
    pending = {d.kind: d for d in Delivery.objects.filter(state="pending")}
    assert set(pending) == {"reminder", "update"}
    assert pending["update"].attempt_at == now and pending["update"].sequence == 1


def test_editing_only_the_note_keeps_the_pending_reminder(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    follow_ups.edit_follow_up(follow_up.pk, actor=alice, note="Bring the contract")
    assert list(Delivery.objects.values_list("sequence", "state")) == [(0, "pending")]
    assert FollowUp.objects.get().note == "Bring the contract"


def test_an_edit_that_changes_nothing_writes_nothing(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1), note="x")
    version = Lead.objects.get(pk=alices_lead.pk).version
    follow_ups.edit_follow_up(follow_up.pk, actor=alice, due_at=follow_up.due_at, note="x")
    assert (FollowUp.objects.get().sequence, Lead.objects.get(pk=alices_lead.pk).version) == (0, version)


def test_completing_can_log_the_interaction_in_the_same_step(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1), note="Demo")
    follow_ups.complete_follow_up(follow_up.pk, actor=alice, log_kind="call", notes="Went well")
    assert FollowUp.objects.get().state == FollowUp.State.DONE
    assert list(Interaction.objects.values_list("kind", "notes", "agent")) == [
        ("call", "Went well", alice.pk)
    ]
    assert Delivery.objects.get().state == "superseded"  # no reminder for something done


def test_completing_with_a_bad_kind_logs_nothing_and_leaves_it_open(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    with pytest.raises(ValidationError):
        follow_ups.complete_follow_up(follow_up.pk, actor=alice, log_kind="telepathy")
    assert FollowUp.objects.get().state == FollowUp.State.OPEN and not Interaction.objects.exists()


def test_a_closed_follow_up_cannot_be_closed_again(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    follow_ups.cancel_follow_up(follow_up.pk, actor=alice)
    with pytest.raises(ValidationError, match="cancelled already"):
        follow_ups.complete_follow_up(follow_up.pk, actor=alice)


def test_cancelling_after_the_invite_went_out_sends_a_cancellation(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    Delivery.objects.update(state=Delivery.State.SENT)
    follow_ups.cancel_follow_up(follow_up.pk, actor=alice)
    cancel = Delivery.objects.get(kind="cancel")
    assert (cancel.state, cancel.sequence) == ("pending", 1)


def test_cancelling_before_any_invite_sends_nothing(alices_lead, alice):
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=soon(days=1))
    follow_ups.cancel_follow_up(follow_up.pk, actor=alice)
    assert list(Delivery.objects.values_list("kind", "state")) == [("reminder", "superseded")]


# --- The vocabulary: overdue, due today -------------------------------------------------------------


def test_overdue_and_due_today_follow_the_users_zone(stages, alice):
    now = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)  # 23:30 in Paris, 17:30 in New York
    lead = LeadFactory(stage=stages["new"], owner=alice)
    past = FollowUp.objects.create(lead=lead, owner=alice, due_at=now - timedelta(hours=1))
    late_tonight = FollowUp.objects.create(lead=lead, owner=alice, due_at=now + timedelta(minutes=20))
    after_midnight_paris = FollowUp.objects.create(lead=lead, owner=alice, due_at=now + timedelta(hours=2))
    FollowUp.objects.create(lead=lead, owner=alice, due_at=now - timedelta(days=1), state=FollowUp.State.DONE)
    assert list(FollowUp.objects.overdue(now)) == [past]
    assert list(FollowUp.objects.due_today(now, PARIS)) == [past, late_tonight]
    new_york = ZoneInfo("America/New_York")
    assert list(FollowUp.objects.due_today(now, new_york)) == [past, late_tonight, after_midnight_paris]
    assert FollowUp.objects.needing_attention(now, PARIS).count() == 2
    assert FollowUp.objects.needing_attention(now, new_york).count() == 3
