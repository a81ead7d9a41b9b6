"""Two daphne processes on the test database and one Redis, shared by the tests of a module."""

import pytest

from tests.live import let_flush_win_deadlocks, release_database, servers


@pytest.fixture(scope="module")
def server_pair(django_db_setup, django_db_blocker, tmp_path_factory):
    with servers(2, tmp_path_factory.mktemp("system")) as pair:
        yield pair
    with django_db_blocker.unblock():
        release_database()


@pytest.fixture(autouse=True)
def _flush_wins_deadlocks(transactional_db):
    let_flush_win_deadlocks()
