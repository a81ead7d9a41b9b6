import pytest


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client
