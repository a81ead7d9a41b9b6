"""Shared fixtures: the demo team and a pipeline of stages, as in `seed_demo`."""

import os

import dramatiq
import pytest
from django.core.cache import cache

from crm import events, scoring
from crm.models import Stage
from realtime import broadcast
from tests.factories import SourceFactory, StageFactory, UserFactory, manager_user

STAGES = [
    ("new", "New", Stage.Kind.OPEN, None),
    ("contacted", "Contacted", Stage.Kind.OPEN, None),
    ("proposal", "Proposal", Stage.Kind.OPEN, 3),
    ("won", "Won", Stage.Kind.WON, None),
    ("lost", "Lost", Stage.Kind.LOST, None),
]

requires_services = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")),
    reason="needs DATABASE_URL (Postgres) and REDIS_URL, as CI sets them",
)


@pytest.fixture
def stages(db) -> dict[str, Stage]:
    return {
        slug: StageFactory(slug=slug, name=name, order=i, kind=kind, wip_limit=wip)
        for i, (slug, name, kind, wip) in enumerate(STAGES)
    }


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
    """Every test: its own media and model folders, an empty cache and empty stub queues, and afterwards no
    loaded model or remembered server loop; fast password hashing, except where real server processes (which
    keep the real hashers) must check the passwords."""
    if not (request.node.get_closest_marker("browser") or request.node.get_closest_marker("system")):
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_DIR = tmp_path / "models"
    cache.clear()
    dramatiq.get_broker().flush_all()
    yield
    cache.clear()
    # The process's own state: a model from this test's folder, the loop of this test's sockets.
    scoring.live_model.reset()
    broadcast.server_loop.reset()


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
