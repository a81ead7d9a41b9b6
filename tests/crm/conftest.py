"""Fixtures for the domain and HTTP tests of the board."""

import pytest

from crm import events
from tests.factories import LeadFactory


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The demo users get hashed passwords; the default hasher's slowness buys these tests nothing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def published():
    """The domain events delivered to subscribers during the test (that is, after a commit), in order."""
    delivered: list[events.Event] = []
    events.subscribe(delivered.append)
    yield delivered
    events.unsubscribe(delivered.append)


@pytest.fixture
def unassigned_lead(stages):
    return LeadFactory(name="Dana Silva", stage=stages["new"], owner=None)


@pytest.fixture
def alices_lead(stages, alice):
    return LeadFactory(name="Ana Okafor", stage=stages["new"], owner=alice)


@pytest.fixture
def bobs_lead(stages, bob):
    return LeadFactory(name="Ben Dubois", stage=stages["new"], owner=bob)
