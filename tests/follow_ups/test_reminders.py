"""Reminder emails through a real SMTP server: contents, the .ics invite read back, exactly once, failures."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from icalendar import Calendar

from crm import follow_ups, reminders
from crm.models import Delivery, FollowUp
from tests.factories import LeadFactory, UserFactory
from tests.follow_ups.conftest import NOW

DUE = NOW + timedelta(hours=1)
REMIND_AT = DUE - timedelta(minutes=15)


@pytest.fixture
def follow_up(lead, alice):
    return follow_ups.schedule_follow_up(
        lead.pk, actor=alice, due_at=DUE, note="Talk pricing & terms", duration_minutes=45, now=NOW
    )


def invite(message) -> tuple[str, object]:
    """(the calendar part's METHOD parameter, the parsed VCALENDAR) of the one invite in a message."""
    parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return parts[0].get_param("method"), Calendar.from_ical(parts[0].get_content())


def event_of(calendar):
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def bodies(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_nothing_is_sent_before_the_reminder_time(smtp, follow_up):
    assert reminders.send_due(REMIND_AT - timedelta(seconds=1)).total == 0
    assert smtp.messages == []


def test_the_reminder_reaches_the_owner_with_both_bodies_and_a_calendar_invite(smtp, follow_up, alice):
    outcome = reminders.send_due(REMIND_AT)
    assert (outcome.sent, len(smtp.messages)) == (1, 1)
    message = smtp.messages[0]
    assert message["To"] == "alice@example.com"
    assert message["From"] == "Pipeline <pipeline@crm.example.com>"
    assert message["Subject"] == "Follow up with Ana Okafor (Northwind) at 11:00"
    assert message["Message-ID"] == f"<follow-up-{follow_up.pk}.0.reminder@crm.example.com>"
    text, html = bodies(message)
    url = f"https://crm.example.com/leads/{follow_up.lead_id}/"
    assert "Talk pricing & terms" in text and url in text and "45 minutes" in text
    assert "Talk pricing &amp; terms" in html and f'href="{url}"' in html
    method, calendar = invite(message)
    assert method == "REQUEST" and calendar["METHOD"] == "REQUEST"
    event = event_of(calendar)
    assert str(event["UID"]) == f"follow-up-{follow_up.pk}@crm.example.com"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == DUE and event["DTSTART"].to_ical() == b"20261202T110000Z"  # UTC
    assert event["DTEND"].to_ical() == b"20261202T114500Z"
    assert event.decoded("DTEND") == DUE + timedelta(minutes=45)
    assert event.decoded("DTSTAMP").tzinfo is not None
    assert str(event["SUMMARY"]) == "Follow up: Ana Okafor (Northwind)"
    assert str(event["DESCRIPTION"]) == f"Talk pricing & terms\nLead: {url}"
    assert str(event["URL"]) == url
    assert str(event["ORGANIZER"]) == "mailto:pipeline@crm.example.com"
    assert str(event["ATTENDEE"]) == "mailto:alice@example.com"
    assert event["ATTENDEE"].params["CN"] == "Alice Martin"
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.sent_at, delivery.attempts) == ("sent", REMIND_AT, 1)


def test_times_in_the_email_are_in_the_owners_zone(smtp, follow_up, alice):
    from crm import profiles

    profiles.set_time_zone(alice, "America/New_York")
    reminders.send_due(REMIND_AT)
    assert smtp.messages[0]["Subject"].endswith(" at 06:00")  # 11:00 UTC in December
    assert "(America/New_York)" in bodies(smtp.messages[0])[0]


def test_a_second_run_and_a_retried_run_send_nothing_more(smtp, follow_up):
    reminders.send_due(REMIND_AT)
    assert reminders.send_due(REMIND_AT + timedelta(minutes=1)).total == 0  # the next minute's run
    assert reminders.send_due(REMIND_AT).total == 0  # Dramatiq retrying the same run
    assert len(smtp.messages) == 1


def test_a_claim_left_by_a_dead_worker_is_retried_once_its_lease_runs_out(smtp, follow_up):
    claimed = reminders.claim(REMIND_AT)  # a worker claims, then dies before sending
    assert [d.pk for d in claimed] == list(Delivery.objects.values_list("pk", flat=True))
    assert reminders.send_due(REMIND_AT + timedelta(minutes=1)).total == 0  # still leased: not twice
    assert smtp.messages == []
    outcome = reminders.send_due(REMIND_AT + reminders.LEASE)
    assert (outcome.sent, len(smtp.messages)) == (1, 1)
    assert Delivery.objects.get().attempts == 2


def test_a_late_finish_by_the_dead_workers_claim_changes_nothing(smtp, follow_up):
    (stale,) = reminders.claim(REMIND_AT)
    reminders.send_due(REMIND_AT + reminders.LEASE)  # the lease ran out: another run sent it
    assert reminders._finish(stale, state=Delivery.State.FAILED, error="late") is False
    assert Delivery.objects.get().state == "sent"


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_runs_send_each_reminder_exactly_once(smtp, stages, alice):
    leads = [LeadFactory(stage=stages["new"], owner=alice) for _ in range(30)]
    for lead in leads:
        follow_ups.schedule_follow_up(lead.pk, actor=alice, due_at=DUE, now=NOW)
    start = threading.Barrier(2)
    outcomes = []

    def run():
        try:
            start.wait()
            outcomes.append(reminders.send_due(REMIND_AT, batch=4))
        finally:
            connections.close_all()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(timeout=60)
    assert len(smtp.messages) == 30
    assert len({m["Message-ID"] for m in smtp.messages}) == 30
    assert sum(o.sent for o in outcomes) == 30
    assert Delivery.objects.filter(state="sent").count() == 30


def test_a_rescheduled_follow_up_sends_the_updated_invite_then_a_new_reminder(smtp, follow_up, alice):
    reminders.send_due(REMIND_AT)
    new_due = DUE + timedelta(days=1)
    follow_ups.edit_follow_up(follow_up.pk, actor=alice, due_at=new_due, now=REMIND_AT + timedelta(minutes=1))
    reminders.send_due(REMIND_AT + timedelta(minutes=1))
    assert len(smtp.messages) == 2
    update = smtp.messages[1]
    assert update["Message-ID"] == f"<follow-up-{follow_up.pk}.1.update@crm.example.com>"
    method, calendar = invite(update)
    event = event_of(calendar)
    assert (method, event["SEQUENCE"], event.decoded("DTSTART")) == ("REQUEST", 1, new_due)
    assert str(event["UID"]) == f"follow-up-{follow_up.pk}@crm.example.com"
    reminders.send_due(new_due - timedelta(minutes=15))
    assert len(smtp.messages) == 3
    assert smtp.messages[2]["Message-ID"] == f"<follow-up-{follow_up.pk}.1.reminder@crm.example.com>"


def test_a_cancelled_follow_up_sends_method_cancel_with_the_same_uid(smtp, follow_up, alice):
    reminders.send_due(REMIND_AT)
    follow_ups.cancel_follow_up(follow_up.pk, actor=alice, now=REMIND_AT)
    reminders.send_due(REMIND_AT)
    cancel = smtp.messages[1]
    method, calendar = invite(cancel)
    event = event_of(calendar)
    assert method == "CANCEL" and calendar["METHOD"] == "CANCEL"
    assert str(event["UID"]) == f"follow-up-{follow_up.pk}@crm.example.com"
    assert (event["SEQUENCE"], str(event["STATUS"])) == (1, "CANCELLED")
    assert cancel["Subject"] == "Cancelled: follow-up with Ana Okafor"


def test_a_refusing_server_is_retried_with_backoff_then_marked_failed_with_the_reason(smtp, follow_up):
    smtp.refuse = "550 5.7.1 Relaying denied"
    at = REMIND_AT
    for attempt, wait in enumerate(reminders.BACKOFF, start=1):
        outcome = reminders.send_due(at)
        delivery = Delivery.objects.get()
        assert (outcome.retried, delivery.attempts, delivery.state) == (1, attempt, "pending")
        assert delivery.attempt_at == at + wait and "Relaying denied" in delivery.error
        assert reminders.send_due(at + wait - timedelta(seconds=1)).total == 0  # not before its backoff
        at += wait
    assert reminders.send_due(at).failed == 1
    delivery = Delivery.objects.get()
    assert delivery.state == "failed" and "Relaying denied" in delivery.error
    assert reminders.send_due(at + timedelta(days=1)).total == 0  # not retried for ever
    assert smtp.messages == []


def test_a_failed_reminder_is_shown_on_the_lead_page(smtp, follow_up, alice, client):
    smtp.refuse = "550 5.1.1 Mailbox unavailable"
    Delivery.objects.update(attempts=reminders.MAX_ATTEMPTS - 1)
    reminders.send_due(REMIND_AT)
    client.force_login(alice)
    page = client.get(f"/leads/{follow_up.lead_id}/").content.decode()
    assert "Reminder failed:" in page and "Mailbox unavailable" in page


def test_a_send_that_failed_once_goes_out_later_with_the_same_message_id(smtp, follow_up):
    smtp.refuse = "451 4.3.0 Try again later"
    reminders.send_due(REMIND_AT)
    smtp.refuse = None
    reminders.send_due(REMIND_AT + reminders.BACKOFF[0])
    assert [m["Message-ID"] for m in smtp.messages] == [
        f"<follow-up-{follow_up.pk}.0.reminder@crm.example.com>"
    ]


def test_an_agent_without_an_email_address_gets_no_email_and_the_lead_page_says_so(smtp, stages, client):
    dana = UserFactory(username="dana", email="")
    lead = LeadFactory(stage=stages["new"], owner=dana)
    follow_up = follow_ups.schedule_follow_up(lead.pk, actor=dana, due_at=DUE, now=NOW)
    outcome = reminders.send_due(REMIND_AT)
    assert (outcome.skipped, smtp.messages) == (1, [])
    assert Delivery.objects.get().error == "dana has no email address."
    client.force_login(dana)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Dana has no email address" in page  # by name, as people are shown
    assert FollowUp.objects.get(pk=follow_up.pk).state == "open"


def test_the_owner_gets_a_short_email_when_a_snoozed_lead_wakes(smtp, lead, alice):
    lead.snoozed_until = NOW - timedelta(minutes=1)
    lead.save()
    follow_ups.wake_snoozed(NOW)
    reminders.send_due(NOW)
    (message,) = smtp.messages
    assert message["Subject"] == "Ana Okafor is back on the board"
    assert f"https://crm.example.com/leads/{lead.pk}/" in bodies(message)[0]
    assert [p for p in message.walk() if p.get_content_type() == "text/calendar"] == []


def test_the_embedded_default_writes_each_email_to_the_outbox_folder(settings, tmp_path, follow_up):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "outbox"
    reminders.send_due(REMIND_AT)
    (written,) = (tmp_path / "outbox").iterdir()
    content = written.read_text()
    assert "Subject: Follow up with Ana Okafor" in content
    assert 'Content-Type: text/calendar; charset="utf-8"; method="REQUEST"' in content


def test_the_invite_page_offers_the_same_invite(client, alice, follow_up, settings):
    settings.SITE_URL = "https://crm.example.com"
    client.force_login(alice)
    response = client.get(f"/follow-ups/{follow_up.pk}/invite.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    event = event_of(calendar)
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"follow-up-{follow_up.pk}@crm.example.com"
    assert event.decoded("DTSTART") == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    assert client.get("/follow-ups/999999/invite.ics").status_code == 404
