"""API clients as scripts use them: a token in the Authorization header."""

import pytest
from rest_framework.test import APIClient

from api.tokens import issue_token


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
