"""Security events in the log (`pipeline.security`): failed log-ins and lockouts with user and address.

Never the password: Django's `user_login_failed` passes credentials already cleansed, and only the username
is read from them.
"""

import logging

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

log = logging.getLogger("pipeline.security")


def client_address(request) -> str:
    return (request.META.get("REMOTE_ADDR") if request is not None else None) or "?"


@receiver(user_login_failed)
def login_failed(sender, credentials, request=None, **kwargs):
    log.warning("login failed for %r from %s", credentials.get("username", ""), client_address(request))


@receiver(user_locked_out)
def locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    log.warning("locked out %r from %s", username or "", ip_address or client_address(request))


@receiver(user_logged_in)
def logged_in(sender, request=None, user=None, **kwargs):
    log.info("login of %r from %s", user.get_username() if user else "", client_address(request))
