"""Rate limits per token (per user for a browser session, per address without either), with Retry-After.

DRF reads its rates once at import; these read `settings.API_THROTTLE_RATES` on each request, so a deploy
(or a test) changes them without a restart of the class machinery.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken


class SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATES[self.scope]


class TokenRateThrottle(SettingsRateThrottle):
    """Each token has its own budget; anonymous requests share one per address (they can only log in)."""

    scope = "token"

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            self.scope = "anon"
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginRateThrottle(SettingsRateThrottle):
    """Password guesses through `POST /auth/token/` are limited per address, whoever is named."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
