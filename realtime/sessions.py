"""A socket lives only as long as the log-in it was opened with.

A socket checks the session once, when it connects; without this, a user who logged out (or was deactivated,
or whose session expired or was deleted) kept receiving the board. Each socket joins its user's session
group; logging out, deleting a session and changing a user (deactivation, a new password, a lost group) send a
`session.check` to it, and every socket re-checks on a timer as well (expiry announces nothing).
"""

import logging
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from realtime import broadcast

log = logging.getLogger(__name__)


def current_user(scope):
    """The user the socket's session stands for now (read afresh), or None when it no longer holds."""
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if not key:
        return None
    fresh = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    # What a request would get: the session's user if it still exists, is active and has the same password.
    user = get_user(SimpleNamespace(session=fresh))
    owner = scope.get("user")
    if not user.is_authenticated or owner is None or user.pk != owner.pk:
        return None
    return user


def _check_after_commit(user_id: int) -> None:
    # After the change is committed: a socket that re-read the session sooner would find it still valid.
    transaction.on_commit(lambda: _tell_sockets(user_id))


def _tell_sockets(user_id: int) -> None:
    # The change is saved whatever happens here; a socket that misses the word finds out on its next
    # periodic check, so a failing channel layer is logged, never made the writer's error.
    try:
        broadcast.check_sessions(user_id)
    except Exception:
        log.exception("could not ask the sockets of user #%s to re-check their session", user_id)


@receiver(user_logged_out)
def _logged_out(sender, request=None, user=None, **kwargs):
    if user is not None:
        _check_after_commit(user.pk)


@receiver(post_save, sender=get_user_model())
def _user_saved(sender, instance, created=False, **kwargs):
    if not created:
        _check_after_commit(instance.pk)


@receiver(m2m_changed, sender=get_user_model().groups.through)
def _groups_changed(sender, instance, action, reverse=False, pk_set=None, **kwargs):
    if not action.startswith("post_"):
        return
    for user_id in (pk_set or ()) if reverse else (instance.pk,):
        _check_after_commit(user_id)


@receiver(post_delete, sender=Session)
def _session_deleted(sender, instance, **kwargs):
    user_id = instance.get_decoded().get("_auth_user_id")
    if user_id:
        _check_after_commit(int(user_id))
