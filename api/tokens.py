"""Issuing and revoking API tokens: the one door for writes to ApiToken."""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from api.models import ApiToken

TOKEN_PREFIX = "pl_"
# last_used_at is informational: writing it at most this often keeps a busy script from writing every request.
TOUCH_EVERY = timedelta(minutes=1)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=(name.strip() or "API token")[:80], prefix=raw[:10], digest=digest(raw)
    )
    return token, raw


def revoke_token(user, token_id: int) -> bool:
    """Delete one of the user's own tokens; a script using it gets 401 from its next request on."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)


def find_token(raw: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(digest=digest(raw)).first()
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
