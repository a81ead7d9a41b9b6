"""Sending one delivery: sign, POST, record, and say when to try again.

The actor in workers/ calls `attempt(delivery_id)` and schedules the retry it returns. Everything that
decides (signature, backoff, when to give up, when to disable the endpoint) is here, testable without a
queue.
"""

import hashlib
import hmac
import http.client
import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from webhooks import targets
from webhooks.models import Delivery, Endpoint

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(days=1)  # no retry is scheduled past a day after the event
USER_AGENT = "Pipeline-Webhooks/1"


def signature(secret: str, timestamp: int, body: str) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the Stripe scheme; the time in the signed text
    lets receivers refuse an old delivery replayed at them."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failure: 1, 2, 4, ... minutes, at most 6 hours."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)


def headers(delivery: Delivery, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Pipeline-Event": delivery.event_type,
        "X-Pipeline-Delivery": str(delivery.pk),
        "X-Pipeline-Signature": signature(delivery.endpoint.secret, timestamp, delivery.body),
    }


def _claim(delivery_id) -> Delivery | None:
    """Take the delivery for one attempt; None when it is done or another worker holds this attempt.

    The conditional update is the claim: two copies of one message (a redelivery) cannot both send.
    """
    delivery = Delivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return None
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=None)
    if not claimed:
        return None
    delivery.attempts += 1
    delivery.last_attempt_at = now
    return delivery


def attempt(delivery_id) -> timedelta | None:
    """Make one attempt at a delivery; the wait before the next one, or None when there is none to make."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        _finish(delivery, Delivery.Status.FAILED, error="The endpoint is disabled.")
        return None
    timestamp = int(delivery.last_attempt_at.timestamp())
    try:
        answer = targets.post(
            endpoint.url, delivery.body.encode(), headers(delivery, timestamp), settings.WEBHOOK_TIMEOUT
        )
    except targets.UnsafeTarget as refusal:
        # Not worth retrying: the address will not become public by waiting.
        _failed(delivery, error=str(refusal), retry=False)
        return None
    except (OSError, http.client.HTTPException) as error:
        return _failed(delivery, error=_describe(error))
    if 200 <= answer.status < 300:
        _finish(delivery, Delivery.Status.SUCCEEDED, code=answer.status, excerpt=answer.excerpt)
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return None
    return _failed(delivery, code=answer.status, excerpt=answer.excerpt, error=f"HTTP {answer.status}")


def _describe(error: Exception) -> str:
    if isinstance(error, TimeoutError):
        return f"No answer within {settings.WEBHOOK_TIMEOUT:g} s."
    return f"{type(error).__name__}: {error}"[:300]


def _finish(delivery: Delivery, status: str, code=None, excerpt: str = "", error: str = "") -> None:
    delivery.status = status
    delivery.response_code = code
    delivery.response_excerpt = excerpt[: targets.EXCERPT_BYTES]
    delivery.error = error[:300]
    delivery.save(update_fields=["status", "response_code", "response_excerpt", "error", "next_attempt_at"])


def _failed(delivery: Delivery, code=None, excerpt: str = "", error: str = "", retry: bool = True):
    """Record a failed attempt; count it against the endpoint; the wait before a retry, if one is due."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        endpoint.consecutive_failures += 1
        endpoint.save(update_fields=["consecutive_failures"])
        disable = endpoint.is_active and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER
        if disable:
            _disable(endpoint)
    if disable:
        _tell_owner(endpoint)
    wait = retry_delay(delivery.attempts)
    now = timezone.now()
    if retry and not disable and now + wait <= delivery.created_at + GIVE_UP_AFTER:
        delivery.next_attempt_at = now + wait
        _finish(delivery, Delivery.Status.PENDING, code, excerpt, error)
        return wait
    delivery.next_attempt_at = None
    _finish(delivery, Delivery.Status.FAILED, code, excerpt, error)
    return None


def _disable(endpoint: Endpoint) -> None:
    endpoint.is_active = False
    endpoint.disabled_reason = f"Disabled after {endpoint.consecutive_failures} failed deliveries in a row."
    endpoint.save(update_fields=["is_active", "disabled_reason"])
    log.warning("webhook endpoint %s disabled: %s", endpoint.pk, endpoint.disabled_reason)


def _tell_owner(endpoint: Endpoint) -> None:
    owner = endpoint.created_by
    if owner is None or not owner.email:
        return
    context = {"endpoint": endpoint, "owner": owner}
    send_mail(
        render_to_string("webhooks/disabled_subject.txt", context).strip(),
        render_to_string("webhooks/disabled_body.txt", context),
        None,
        [owner.email],
        fail_silently=True,  # the endpoint is disabled either way; a mail server down must not undo that
    )


PRUNE_BATCH = 5000


def prune(now=None) -> int:
    """Delete finished deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS; returns how many.

    Pending ones stay whatever their age: a retry may still be on its way (they finish within a day). In
    batches, so a big backlog never holds a long lock on the log the settings page reads.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    old = Delivery.objects.filter(created_at__lt=cutoff).exclude(status=Delivery.Status.PENDING)
    deleted = 0
    while batch := list(old.values_list("pk", flat=True)[:PRUNE_BATCH]):
        deleted += Delivery.objects.filter(pk__in=batch).delete()[0]
    return deleted
