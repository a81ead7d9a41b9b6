"""Which pages may open a socket: exactly this site's own (scheme, host and port), or a trusted origin.

Channels' AllowedHostsOriginValidator compares host names only, so a page served from another port of the
same host (another app on 127.0.0.1:9999) could open a board socket with the user's cookie.
"""

import logging
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

log = logging.getLogger("pipeline.security")


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _secure(scope) -> bool:
    """wss, or behind a proxy saying the browser spoke https (SECURE_PROXY_SSL_HEADER, as Django trusts)."""
    if scope.get("scheme") == "wss":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, expected = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        return (_header(scope, header) or "").split(",")[0].strip() == expected
    return False


def allowed_origins(scope) -> list[str]:
    """The origin the socket was served from (if its Host is allowed), then CSRF_TRUSTED_ORIGINS."""
    origins = []
    host = _header(scope, b"host")
    if host and validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
        origins.append(f"{'https' if _secure(scope) else 'http'}://{host}")
    # Django writes a wildcard subdomain as https://*.example.com; Channels' matcher as https://.example.com.
    origins += [origin.replace("://*.", "://.") for origin in settings.CSRF_TRUSTED_ORIGINS]
    return origins


class SameOriginValidator(OriginValidator):
    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        parsed = urlparse(origin) if origin else None
        patterns = allowed_origins(scope)
        if parsed is not None and any(self.match_allowed_origin(parsed, p) for p in patterns):
            return await self.application(scope, receive, send)
        client = scope.get("client") or ("?", 0)
        log.warning("socket refused: origin %r not in %r (from %s)", origin, patterns, client[0])
        return await WebsocketDenier()(scope, receive, send)
