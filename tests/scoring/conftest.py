import random
from datetime import timedelta

import dramatiq
import pytest
from django.utils import timezone

from tests.factories import InteractionFactory, LeadFactory


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


@pytest.fixture
def history(stages, alice, bob, source):
    """60 closed leads where engaged, met leads win: enough for a model, with a signal to find."""
    rng = random.Random(3)
    now = timezone.now()
    leads = []
    for _ in range(60):
        engagement = rng.randint(0, 3)
        won = rng.random() < 0.15 + 0.25 * engagement
        lead = LeadFactory(
            stage=stages["won" if won else "lost"],
            owner=rng.choice([alice, bob]),
            source=source,
            engagement_level=engagement,
            closed_at=now - timedelta(days=rng.randint(1, 30)),
            attributes={"industry": rng.choice(["retail", "health"]), "employees": rng.randint(5, 500)},
        )
        for _ in range(engagement):
            InteractionFactory(lead=lead, kind="meeting", occurred_at=lead.closed_at - timedelta(days=1))
        leads.append(lead)
    return leads
