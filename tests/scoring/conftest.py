import random
import shutil
from datetime import timedelta
from pathlib import Path

import dramatiq
import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from crm import scoring
from tests.factories import InteractionFactory, LeadFactory, SourceFactory, UserFactory, pipeline_stages


@pytest.fixture
def start_worker(broker, settings):
    """`start_worker()` -> a running worker thread on the stub broker, stopped after the test.

    Scoring runs are asked for with no coalescing window, so that draining the queues waits for the work,
    not for the window production gives a burst of changes.
    """
    settings.SCORE_COALESCE_MS = 0
    started = []

    def start():
        worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(start_worker):
    return start_worker()


def closed_history(stages, owners, source) -> list:
    """60 closed leads where engaged, met leads win: enough for a model, with a signal to find."""
    rng = random.Random(3)
    now = timezone.now()
    leads = []
    for _ in range(60):
        engagement = rng.randint(0, 3)
        won = rng.random() < 0.15 + 0.25 * engagement
        lead = LeadFactory(
            stage=stages["won" if won else "lost"],
            owner=rng.choice(owners),
            source=source,
            engagement_level=engagement,
            closed_at=now - timedelta(days=rng.randint(1, 30)),
            attributes={"industry": rng.choice(["retail", "health"]), "employees": rng.randint(5, 500)},
        )
        for _ in range(engagement):
            InteractionFactory(lead=lead, kind="meeting", occurred_at=lead.closed_at - timedelta(days=1))
        leads.append(lead)
    return leads


@pytest.fixture
def history(stages, alice, bob, source):
    return closed_history(stages, [alice, bob], source)


@pytest.fixture(scope="session")
def trained_model_dir(django_db_setup, django_db_blocker, tmp_path_factory):
    """The folder of a model `scoring.train()` made from `history`'s leads, trained once for the tests that
    only read a live model (training is most of their time). The leads are rolled back afterwards."""
    directory = tmp_path_factory.mktemp("scoring-model")
    with django_db_blocker.unblock(), transaction.atomic(), override_settings(MODEL_DIR=directory):
        owners = [UserFactory(username="alice"), UserFactory(username="bob")]
        closed_history(pipeline_stages(), owners, SourceFactory(name="Referral"))
        assert scoring.train() is not None
        transaction.set_rollback(True)
    return directory


@pytest.fixture
def live_model(trained_model_dir, settings):
    """A trained model is live: a copy of the shared one in this test's MODEL_DIR, free to be damaged."""
    return Path(shutil.copytree(trained_model_dir, settings.MODEL_DIR, dirs_exist_ok=True))
