"""Writes to webhook endpoints and deliveries: register, enable, remove, and queue events for delivery."""

import json
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from crm.permissions import is_manager
from webhooks import targets
from webhooks.models import EVENT_TYPES, TEST_EVENT, Delivery, Endpoint
from workers import actors

SECRET_PREFIX = "whsec_"


def _forbid_unless_manager(actor) -> None:
    if not is_manager(actor):
        raise PermissionDenied("Only managers manage webhooks.")


def clean_events(names) -> list[str]:
    if not isinstance(names, list | tuple) or not names:
        raise ValidationError({"events": ["Choose at least one event type."]})
    unknown = sorted(set(map(str, names)) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError({"events": [f"Unknown event types: {', '.join(unknown)}."]})
    return [name for name in EVENT_TYPES if name in names]


def clean_url(url: str) -> str:
    try:
        targets.vetted_address(url)
    except targets.UnsafeTarget as refusal:
        raise ValidationError({"url": [str(refusal)]}) from refusal
    return url


@transaction.atomic
def register_endpoint(*, actor, url: str, events, description: str = "") -> tuple[Endpoint, str]:
    """A new endpoint; its secret is returned to show once (receivers verify signatures with it)."""
    _forbid_unless_manager(actor)
    secret = SECRET_PREFIX + secrets.token_hex(24)
    endpoint = Endpoint(
        url=url, events=clean_events(events), description=description, secret=secret, created_by=actor
    )
    endpoint.full_clean()
    clean_url(url)
    endpoint.save()
    return endpoint, secret


@transaction.atomic
def set_active(endpoint: Endpoint, *, actor, active: bool) -> Endpoint:
    """Enable (with a clean failure count) or disable an endpoint by hand."""
    _forbid_unless_manager(actor)
    endpoint.is_active = active
    endpoint.disabled_reason = "" if active else f"Disabled by {actor.get_username()}."
    endpoint.consecutive_failures = 0 if active else endpoint.consecutive_failures
    endpoint.save(update_fields=["is_active", "disabled_reason", "consecutive_failures"])
    return endpoint


@transaction.atomic
def delete_endpoint(endpoint: Endpoint, *, actor) -> None:
    _forbid_unless_manager(actor)
    endpoint.delete()


def body(delivery: Delivery, payload: dict) -> str:
    return json.dumps(
        {
            "id": str(delivery.pk),
            "type": delivery.event_type,
            "created_at": delivery.created_at.isoformat(),
            **payload,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )


def queue_event(event_type: str, payload: dict, endpoints: list[Endpoint]) -> list[Delivery]:
    """One delivery per endpoint, each with its own id (and so its own body), queued once committed."""
    now = timezone.now()
    deliveries = [Delivery(endpoint=e, event_type=event_type, created_at=now) for e in endpoints]
    for delivery in deliveries:
        delivery.body = body(delivery, payload)
    Delivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: actors.deliver_webhook.send(str(pk)))
    return deliveries


def send_test(endpoint: Endpoint, *, actor) -> Delivery:
    """The "send test event" button: a delivery like any other, to this endpoint only."""
    _forbid_unless_manager(actor)
    payload = {"object": {"endpoint": endpoint.pk, "message": "A test event from Pipeline."}}
    return queue_event(TEST_EVENT, payload, [endpoint])[0]
