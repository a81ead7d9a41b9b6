"""Where a webhook may be sent, and the one HTTP POST that sends it.

A URL naming a private, loopback or link-local address would let whoever registers an endpoint make the
server call into its own network. The name is resolved once per attempt, every address checked, and the
connection made to the address that was checked: a DNS answer that changes between the check and the
connection (rebinding) cannot slip past.
"""

import http.client
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

EXCERPT_BYTES = 500


class UnsafeTarget(Exception):
    """The URL is not one we send to; the message says why."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def vetted_address(url: str) -> str:
    """The address to connect to for `url`, or UnsafeTarget."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeTarget("Only http and https URLs can receive webhooks.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:
        raise UnsafeTarget(f"Cannot resolve {parts.hostname}: {error}") from error
    addresses = [info[4][0] for info in found]
    if not settings.WEBHOOK_ALLOW_PRIVATE and not all(_is_public(a) for a in addresses):
        raise UnsafeTarget(f"{parts.hostname} is a private, loopback or link-local address.")
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body`; `timeout` bounds the connection and each read, and only the first bytes are read, so a
    slow or chatty receiver cannot hold the worker. OSError (timeouts included) is the caller's to handle.
    """
    address = vetted_address(url)
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    # Connect to the vetted address; HTTPS still checks the certificate against the host name.
    connection._create_connection = lambda where, *args: socket.create_connection((address, where[1]), *args)
    try:
        path = parts.path or "/"
        connection.request("POST", f"{path}?{parts.query}" if parts.query else path, body, headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
        return Answer(response.status, excerpt)
    finally:
        connection.close()
