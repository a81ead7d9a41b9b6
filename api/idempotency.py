"""`Idempotency-Key` on POST: a retried request with the same key gets the first answer, not a second lead.

The write and the stored answer commit in one transaction, and the key is unique per user: of two identical
requests racing, the second waits on the key's row, fails to insert it, rolls its own write back (its events
with it, since they are sent on commit) and replays the first one's answer.
"""

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

from api.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class KeyReused(exceptions.APIException):
    status_code = 409
    default_detail = "This Idempotency-Key was already used for a different request."
    default_code = "idempotency_key_reused"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def expiry(now=None):
    """Keys stored before this replay nothing: the request is new again."""
    return (now or timezone.now()) - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


def prune(now=None) -> int:
    """Delete the expired keys (the periodic prune_records job); returns how many."""
    return IdempotencyKey.objects.filter(created_at__lt=expiry(now)).delete()[0]


def _replay(request, key: str, fingerprint: str) -> Response | None:
    stored = IdempotencyKey.objects.filter(user=request.user, key=key).first()
    if stored is None:
        return None
    if stored.created_at < expiry():  # expired: the key is free again
        stored.delete()
        return None
    if stored.fingerprint != fingerprint:
        raise KeyReused()
    return Response(stored.body, status=stored.status_code, headers={REPLAYED_HEADER: "true"})


def idempotent(method):
    """For a view's POST handler: replay a stored answer, or run the handler and store its success."""

    @wraps(method)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return method(view, request, *args, **kwargs)
        if len(key) > 255:
            raise exceptions.ValidationError({HEADER: ["At most 255 characters."]})
        fingerprint = _fingerprint(request)
        replay = _replay(request, key, fingerprint)
        if replay is not None:
            return replay
        try:
            with transaction.atomic():
                response = method(view, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotencyKey.objects.create(
                        user=request.user,
                        key=key,
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        body=response.data,
                    )
                return response
        except IntegrityError:
            # A twin request committed first: ours is rolled back; answer as it was answered.
            replay = _replay(request, key, fingerprint)
            if replay is None:
                raise
            return replay

    return wrapper
