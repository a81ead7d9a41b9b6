"""A real SMTP server (aiosmtpd on a free port) and leads to follow up on."""

import socket
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.factories import LeadFactory

# A fixed "now" for the services: tests pass it in instead of waiting for the clock.
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """What the SMTP server accepted, parsed; `refuse` makes it answer every message with a 5xx."""

    def __init__(self):
        self.messages = []
        self.refuse: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://crm.example.com"
    settings.DEFAULT_FROM_EMAIL = "Pipeline <pipeline@crm.example.com>"
    yield inbox
    controller.stop()


@pytest.fixture
def lead(stages, alice):
    return LeadFactory(name="Ana Okafor", company="Northwind", stage=stages["new"], owner=alice)
