from django.db import models


class ScoreRequest(models.Model):
    """A lead waiting to be rescored. One row per lead however often it changes, so a burst scores once."""

    lead_id = models.BigIntegerField(primary_key=True)
    requested_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"rescore lead {self.lead_id}"
