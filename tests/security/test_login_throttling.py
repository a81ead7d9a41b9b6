"""Login throttling (django-axes): ten failures for a username or from an address lock it out 15 minutes."""

import logging
from datetime import timedelta

import pytest
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

LOGIN = "/accounts/login/"


def attempt(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def demo_password(alice):
    alice.set_password("right-horse-battery")
    alice.save()
    return "right-horse-battery"


def test_ten_wrong_passwords_lock_the_username_out_even_with_the_right_one(client, alice, demo_password):
    for _ in range(9):
        assert attempt(client, "alice", "wrong").status_code == 200  # the form again, with its error
    assert attempt(client, "alice", "wrong").status_code == 429  # the tenth failure locks

    locked = attempt(client, "alice", demo_password)

    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    assert "15 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_follows_the_username_across_addresses(client, alice, demo_password):
    for i in range(10):
        attempt(client, "alice", "wrong", address=f"10.0.0.{i + 1}")
    assert attempt(Client(), "alice", demo_password, address="10.9.9.9").status_code == 429


def test_ten_failures_from_one_address_lock_the_address_out_for_every_username(client, alice, bob):
    for i in range(10):
        attempt(client, f"nobody{i}", "wrong", address="10.0.0.7")
    bob.set_password("bobs-long-password")
    bob.save()
    assert attempt(Client(), "bob", "bobs-long-password", address="10.0.0.7").status_code == 429
    assert attempt(Client(), "bob", "bobs-long-password", address="10.0.0.8").status_code == 302


def test_a_success_resets_the_count(client, alice, demo_password):
    for _ in range(9):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", demo_password).status_code == 302
    client.logout()
    for _ in range(9):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", demo_password).status_code == 302


@pytest.fixture
def database_handler(settings, monkeypatch):
    """The embedded mode's store, whose attempts a test can age (Redis expires its keys on its own clock)."""
    settings.AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
    monkeypatch.setattr(AxesProxyHandler, "implementation", None)
    yield
    AxesProxyHandler.implementation = None


def test_the_lockout_ends_after_15_minutes(client, alice, demo_password, database_handler):
    for _ in range(10):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", demo_password).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert attempt(client, "alice", demo_password).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=5))
    assert attempt(client, "alice", demo_password).status_code == 302


def test_failures_and_lockouts_are_in_the_security_log_without_the_password(client, alice, caplog):
    caplog.set_level(logging.INFO, logger="pipeline.security")
    for _ in range(10):
        attempt(client, "alice", "s3cret-guess", address="10.0.0.42")

    security = [r.getMessage() for r in caplog.records if r.name == "pipeline.security"]
    assert any("login failed" in m and "alice" in m and "10.0.0.42" in m for m in security)
    assert any("locked out" in m and "alice" in m and "10.0.0.42" in m for m in security)
    assert not any("s3cret-guess" in r.getMessage() for r in caplog.records)
