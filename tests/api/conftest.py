"""API clients as scripts use them: a token in the Authorization header."""

import pytest
from rest_framework.test import APIClient

from api.tokens import issue_token
from tests.factories import LeadFactory


def client_for(user=None, raw_token: str | None = None) -> APIClient:
    client = APIClient()
    if user is not None and raw_token is None:
        _, raw_token = issue_token(user, "test")
    if raw_token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw_token}")
    return client


@pytest.fixture
def api():
    """`api(alice)` -> a client sending a fresh token of Alice's; `api()` -> an anonymous client."""
    return client_for


@pytest.fixture
def alices_lead(stages, alice):
    return LeadFactory(name="Ana Okafor", stage=stages["new"], owner=alice)


@pytest.fixture
def bobs_lead(stages, bob):
    return LeadFactory(name="Ben Dubois", stage=stages["new"], owner=bob)


@pytest.fixture
def unassigned_lead(stages):
    return LeadFactory(name="Dana Silva", stage=stages["new"], owner=None)
