"""The periodic table and `run_job`: operators run one job now; the per-minute jobs are in the table."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from crm.models import Delivery, Lead
from tests.factories import LeadFactory
from workers.schedule import SCHEDULE


def run_job(*args) -> str:
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


def test_wake_and_reminders_run_every_minute():
    table = dict(SCHEDULE)
    assert table["wake_snoozed"] == table["send_reminders"] == timedelta(minutes=1)


def test_run_job_list_names_every_periodic_job():
    listed = run_job("--list")
    assert [line.split("\t")[0] for line in listed.splitlines()] == [name for name, _ in SCHEDULE]


def test_run_job_refuses_an_unknown_job():
    with pytest.raises(CommandError, match="No periodic job “nap”"):
        run_job("nap")


def test_run_job_wakes_due_leads_and_sends_their_emails_now(stages, alice, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core import mail

    lead = LeadFactory(stage=stages["new"], owner=alice, snoozed_until=timezone.now() - timedelta(seconds=1))
    assert "wake_snoozed: done" in run_job("wake_snoozed")
    assert Lead.objects.get(pk=lead.pk).snoozed_until is None
    run_job("send_reminders")
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert Delivery.objects.get().state == "sent"
