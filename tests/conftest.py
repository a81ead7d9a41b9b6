"""Shared fixtures: the demo team and a pipeline of stages, as in `seed_demo`."""

import dramatiq
import factory.random
import pytest
from django.conf import global_settings
from django.core.cache import cache

from crm import events, scoring
from crm.models import Stage
from realtime import broadcast, dashboards, presence
from tests.datasets import BANK_CSV
from tests.factories import LeadFactory, SourceFactory, UserFactory, manager_user, pipeline_stages

# Sockets as a browser opens them, for every test that listens to the live layer (board, dashboard, user).
pytest_plugins = ["tests.sockets"]


@pytest.fixture(scope="session")
def bank_csv():
    """The path of the real bank data; tests that need it are skipped where it is not."""
    if not BANK_CSV.is_file():
        pytest.skip(f"bank data not found at {BANK_CSV.resolve()} (CI places shared/ beside the repo)")
    return BANK_CSV


@pytest.fixture
def stages(db) -> dict[str, Stage]:
    return pipeline_stages()


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Martin")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", first_name="Bob", last_name="Nguyen")


@pytest.fixture
def manager(db):
    return manager_user()


@pytest.fixture
def unassigned_lead(stages):
    return LeadFactory(name="Dana Silva", stage=stages["new"], owner=None)


@pytest.fixture
def alices_lead(stages, alice):
    return LeadFactory(name="Ana Okafor", stage=stages["new"], owner=alice)


@pytest.fixture
def bobs_lead(stages, bob):
    return LeadFactory(name="Ben Dubois", stage=stages["new"], owner=bob)


@pytest.fixture
def source(db):
    return SourceFactory(name="Referral")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (event delivery) inside a test's transaction, as a real commit would."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture(autouse=True)
def clean_slate(request, settings, tmp_path):
    """Every test: its own media and model folders, an empty cache and empty stub queues, Faker's values the
    same on every run, and afterwards no loaded model or remembered server loop; production's password
    hashers where real server processes (which run project.settings) must check the passwords."""
    factory.random.reseed_random(request.node.nodeid)
    if request.node.get_closest_marker("browser") or request.node.get_closest_marker("system"):
        settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_DIR = tmp_path / "models"
    settings.PRESENCE_INTERVAL_SECONDS = 0.02  # the coalescing tests choose their own ticks
    cache.clear()
    dramatiq.get_broker().flush_all()
    yield
    cache.clear()
    # The process's own state: a model from this test's folder, the loop of this test's sockets.
    scoring.live_model.reset()
    broadcast.server_loop.reset()
    presence.hub.reset()
    dashboards.feed.reset()


@pytest.fixture
def broker():
    return dramatiq.get_broker()


@pytest.fixture
def published():
    """The domain events delivered to subscribers during the test (that is, after a commit), in order."""
    delivered: list[events.Event] = []
    events.subscribe(delivered.append)
    yield delivered
    events.unsubscribe(delivered.append)


@pytest.fixture
def as_alice(client, alice):
    """The test client, logged in as alice (an agent)."""
    client.force_login(alice)
    return client


@pytest.fixture
def as_manager(client, manager):
    """The test client, logged in as the manager."""
    client.force_login(manager)
    return client
