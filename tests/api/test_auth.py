"""Tokens: obtained with a password or made on the profile page, stored hashed, revoked at once; limits."""

import pytest

from api.models import ApiToken
from api.tokens import digest
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def test_a_script_trades_a_password_for_a_working_token(api, alice, stages):
    response = api().post(TOKEN_URL, {"username": "alice", "password": "demo", "name": "n8n"}, format="json")
    assert response.status_code == 201
    raw = response.json()["token"]
    stored = ApiToken.objects.get(user=alice)
    assert (stored.name, stored.digest) == ("n8n", digest(raw))
    assert raw not in {stored.digest, stored.prefix}
    assert client_for(raw_token=raw).get("/api/v1/leads/").status_code == 200


@pytest.mark.parametrize("password", ["wrong", ""])
def test_a_wrong_password_gets_no_token(api, alice, password):
    response = api().post(TOKEN_URL, {"username": "alice", "password": password}, format="json")
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_a_deactivated_user_gets_no_token_and_their_tokens_stop_at_once(api, alice, stages):
    client = api(alice)
    assert client.get("/api/v1/leads/").status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get("/api/v1/leads/").status_code == 401
    response = api().post(TOKEN_URL, {"username": "alice", "password": "demo"}, format="json")
    assert response.status_code == 400


def test_a_user_makes_a_token_on_the_profile_page_and_sees_it_once(client, alice, stages):
    client.force_login(alice)
    response = client.post("/profile/", {"name": "Zapier"})
    assert response.status_code == 200
    raw = response.context["new_token"]
    assert raw in response.content.decode()
    assert client_for(raw_token=raw).get("/api/v1/stages/").status_code == 200
    page = client.get("/profile/").content.decode()
    assert "Zapier" in page and raw not in page


def test_revoking_on_the_profile_page_stops_the_token(client, alice, bob, stages):
    client.force_login(alice)
    raw = client.post("/profile/", {"name": "Zapier"}).context["new_token"]
    token = ApiToken.objects.get(user=alice)
    script = client_for(raw_token=raw)
    assert script.get("/api/v1/stages/").status_code == 200
    client.force_login(bob)  # someone else cannot revoke it
    client.post(f"/profile/tokens/{token.pk}/revoke/")
    assert script.get("/api/v1/stages/").status_code == 200
    client.force_login(alice)
    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 302
    assert script.get("/api/v1/stages/").status_code == 401


def test_the_profile_page_needs_a_login(client):
    assert client.get("/profile/").status_code == 302


def test_the_browsable_docs_session_can_read_the_api(client, alice, stages):
    client.force_login(alice)
    assert client.get("/api/v1/stages/").status_code == 200


def test_a_session_write_needs_the_csrf_token(alice, stages):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post("/api/v1/leads/", {"name": "Zoe"}, content_type="application/json")
    assert response.status_code == 403


def test_each_token_is_limited_and_told_when_to_come_back(api, alice, stages, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "token": "3/min"}
    client, other = api(alice), api(alice)
    answers = [client.get("/api/v1/stages/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = client.get("/api/v1/stages/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    assert other.get("/api/v1/stages/").status_code == 200  # another token has its own budget


def test_password_guesses_are_limited_per_address(api, alice, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login": "2/min"}
    guesses = [
        api().post(TOKEN_URL, {"username": "alice", "password": f"guess{i}"}, format="json").status_code
        for i in range(3)
    ]
    assert guesses == [400, 400, 429]
