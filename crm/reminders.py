"""Sending the planned emails (reminders, updated invites, cancellations, wake notes) exactly once.

Each run claims a batch of due `Delivery` rows in one short transaction (rows locked with SKIP LOCKED, then a
conditional UPDATE that sets a claim token and a lease), commits, and only then talks to the SMTP server.
A second run at the same time skips the locked rows and cannot claim them after (they are no longer due);
a Dramatiq retry finds sent rows sent and claimed ones leased; a worker that dies mid-run leaves claims
whose lease runs out, and the next run takes them again. The result is written only where the claim token
still matches. The one window left, a crash after the server accepted a message and before the row says
"sent", can repeat a message with the same Message-ID, which mail systems use to drop duplicates.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm import emails, events, invites
from crm.models import Delivery, user_zone

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
# Waits after the 1st, 2nd and 3rd failed try; the 4th failure is final.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=25))
MAX_ATTEMPTS = len(BACKOFF) + 1
BATCH = 100

TEMPLATES = {
    Delivery.Kind.REMINDER: "reminder",
    Delivery.Kind.UPDATE: "invite-update",
    Delivery.Kind.CANCEL: "invite-cancel",
    Delivery.Kind.WOKE: "woke",
}
METHODS = {
    Delivery.Kind.REMINDER: invites.REQUEST,
    Delivery.Kind.UPDATE: invites.REQUEST,
    Delivery.Kind.CANCEL: invites.CANCEL,
}


@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped


def claim(now: datetime, batch: int = BATCH) -> list[Delivery]:
    """Claim up to `batch` due rows for this run; rows another run holds or claimed are not returned."""
    token = uuid4().hex
    with transaction.atomic():
        due = Delivery.objects.due(now).order_by("attempt_at")
        ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch])
        if not ids:
            return []
        # Conditional: only rows still pending and due are taken, whatever happened since they were read.
        Delivery.objects.due(now).filter(pk__in=ids).update(
            attempt_at=now + LEASE, attempts=F("attempts") + 1, claim=token
        )
        claimed = list(
            Delivery.objects.filter(pk__in=ids, claim=token, state=Delivery.State.PENDING).select_related(
                "lead__stage", "lead__owner", "follow_up__owner", "recipient__profile"
            )
        )
        for delivery in claimed:
            if delivery.kind == Delivery.Kind.REMINDER and delivery.attempts == 1 and delivery.recipient_id:
                events.publish(
                    events.ReminderDue(
                        actor_id=None,
                        lead_id=delivery.lead_id,
                        follow_up_id=delivery.follow_up_id,
                        owner_id=delivery.recipient_id,
                    )
                )
    return claimed


def _finish(delivery: Delivery, **fields) -> bool:
    """Write the result only if this run still holds the claim (a superseded row stays superseded)."""
    return bool(
        Delivery.objects.filter(pk=delivery.pk, claim=delivery.claim, state=Delivery.State.PENDING).update(
            claim="", **fields
        )
    )


def _failed(delivery: Delivery, now: datetime, reason: str, outcome: Outcome) -> None:
    reason = reason[:1000] or "unknown error"
    if delivery.attempts >= MAX_ATTEMPTS:
        _finish(delivery, state=Delivery.State.FAILED, error=f"{reason} (after {delivery.attempts} tries)")
        outcome.failed += 1
        log.warning("delivery %s failed for good: %s", delivery.pk, reason)
    else:
        _finish(delivery, attempt_at=now + BACKOFF[delivery.attempts - 1], error=reason)
        outcome.retried += 1


def skip_reason(delivery: Delivery) -> str:
    recipient = delivery.recipient
    if recipient is None:
        return "Nobody to send it to."
    if not recipient.email:
        return f"{recipient.get_username()} has no email address."
    return ""


def message_id(delivery: Delivery) -> str:
    """Stable per follow-up, kind and sequence: a repeated send carries the same id, so it can be dropped."""
    if delivery.follow_up_id:
        local = f"follow-up-{delivery.follow_up_id}.{delivery.sequence}.{delivery.kind}"
    else:
        local = f"lead-{delivery.lead_id}.{delivery.kind}.{delivery.pk}"
    return f"<{local}@{invites.site_host()}>"


def build_message(delivery: Delivery, connection=None, now: datetime | None = None):
    recipient, follow_up = delivery.recipient, delivery.follow_up
    if follow_up is not None:
        follow_up.lead = delivery.lead  # the same row, already loaded
    context = {
        "delivery": delivery,
        "lead": delivery.lead,
        "follow_up": follow_up,
        "recipient": recipient,
        "url": invites.lead_url(delivery.lead_id),
    }
    attachments = []
    if follow_up is not None and delivery.kind in METHODS:
        attachments.append(invites.attachment(follow_up, METHODS[delivery.kind], now))
    with timezone.override(user_zone(recipient)):  # times in the email read as the recipient lives them
        context["zone"] = timezone.get_current_timezone_name()
        return emails.make(
            TEMPLATES[delivery.kind],
            context,
            to=[recipient.email],
            headers={"Message-ID": message_id(delivery)},
            attachments=attachments,
            connection=connection,
        )


def send_due(now: datetime | None = None, batch: int = BATCH) -> Outcome:
    """The periodic job: send every due email, batch after batch, until none is due."""
    outcome = Outcome()
    while True:
        at = now or timezone.now()
        claimed = claim(at, batch)
        if not claimed:
            return outcome
        _send_batch(claimed, at, outcome)


def _send_batch(claimed: list[Delivery], now: datetime, outcome: Outcome) -> None:
    started = time.monotonic()
    connection = get_connection(fail_silently=False)
    try:
        for index, delivery in enumerate(claimed):
            if time.monotonic() - started > LEASE.total_seconds() / 2:
                # A slow server: hand the rest back well before their lease runs out, untried.
                for rest in claimed[index:]:
                    _finish(rest, attempt_at=now, attempts=F("attempts") - 1)
                return
            _send_one(delivery, connection, now, outcome)
    finally:
        connection.close()


def _send_one(delivery: Delivery, connection, now: datetime, outcome: Outcome) -> None:
    reason = skip_reason(delivery)
    if reason:
        _finish(delivery, state=Delivery.State.SKIPPED, error=reason)
        outcome.skipped += 1
        return
    try:
        connection.open()  # kept open across the batch (a no-op once open); reopened after a failure
        build_message(delivery, connection, now).send()
    except Exception as error:  # an SMTP refusal, a timeout, a dropped connection: retried with backoff
        connection.close()  # the next message opens a fresh one
        _failed(delivery, now, f"{type(error).__name__}: {error}", outcome)
        return
    if _finish(delivery, state=Delivery.State.SENT, sent_at=now, error=""):
        outcome.sent += 1
