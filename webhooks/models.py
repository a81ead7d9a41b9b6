"""Endpoints that managers register, and every delivery made to them (the delivery log)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

# What receivers can subscribe to (X-Pipeline-Event). "endpoint.test" is only sent by "Send test event".
EVENT_TYPES = (
    "lead.created",
    "lead.updated",
    "lead.moved",
    "lead.won",
    "lead.lost",
    "interaction.logged",
    "leads.imported",
    "lead.snoozed",
    "follow_up.changed",
    "follow_up.due",
)
TEST_EVENT = "endpoint.test"


class Endpoint(models.Model):
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types delivered here.")
    description = models.CharField(max_length=200, blank=True)
    # Kept to sign every delivery (HMAC needs the secret itself); shown to the manager once, at creation.
    secret = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # Failed attempts in a row, across deliveries; a success resets it, WEBHOOK_DISABLE_AFTER disables.
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="webhook_endpoints"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One event for one endpoint. Retries reuse the row, its id and its body (only the signature's time
    changes), so a receiver that saw it already can drop the repeat by `X-Pipeline-Delivery`.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    body = models.TextField(help_text="The exact JSON sent (and signed).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True, help_text="The response's first bytes.")
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)  # set before the body that quotes it
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="delivery_log")]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"
