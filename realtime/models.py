"""What the live layer itself keeps: the numbered board events (for catch-up) and who is on the board."""

from django.conf import settings
from django.db import models


class BoardEvent(models.Model):
    """One board frame, numbered by its id: a reconnecting browser asks for all after the last it saw."""

    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=30)
    html = models.TextField()
    # The facts of its cards (crm.queries.card_facts), so a replayed frame is stated for its viewer too.
    cards = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Presence(models.Model):
    """One open board socket. Rows of sockets that died without closing age out after PRESENCE_TTL."""

    channel_name = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} on {self.channel_name}"
