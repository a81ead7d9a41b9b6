"""Domain events: what happened, as ids and facts, delivered to subscribers after the transaction commits.

The domain publishes; adapters (realtime, workers) subscribe in their AppConfig.ready. So `crm` never imports
the socket layer or the task queue, and a rolled-back write announces nothing.
"""

import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    actor_id: int | None


@dataclass(frozen=True)
class LeadCreated(Event):
    lead_id: int


@dataclass(frozen=True)
class LeadChanged(Event):
    lead_id: int
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeadMoved(Event):
    lead_id: int
    from_stage_id: int
    to_stage_id: int


@dataclass(frozen=True)
class InteractionLogged(Event):
    lead_id: int
    interaction_id: int


@dataclass(frozen=True)
class ColumnRebalanced(Event):
    """Positions in a stage were renumbered: clients re-read the column instead of trusting stale keys."""

    stage_id: int


@dataclass(frozen=True)
class ScoresChanged(Event):
    lead_ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class LeadsImported(Event):
    lead_ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class ImportRequested(Event):
    """A manager started a CSV import; the task queue runs it."""

    job_id: int


@dataclass(frozen=True)
class TrainingRequested(Event):
    """A manager asked for a model; the task queue (workers) picks it up, the domain does not know it."""


@dataclass(frozen=True)
class TrainingUpdated(Event):
    """A training run was queued, progressed, finished or failed (for the managers' dashboard)."""

    state: str
    message: str = ""
    fraction: float = 0.0


Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


_muted = threading.local()


@contextmanager
def muted():
    """Publish nothing inside this block: for bulk loading (seed data) while nobody is watching."""
    _muted.on = True
    try:
        yield
    finally:
        _muted.on = False


def publish(event: Event) -> None:
    """Deliver `event` once the surrounding transaction commits (at once when there is none)."""
    if getattr(_muted, "on", False):
        return
    transaction.on_commit(lambda: deliver(event))


def deliver(event: Event) -> None:
    # The write is already committed: a failing subscriber is logged, never turned into the user's error.
    for subscriber in list(_subscribers):
        try:
            subscriber(event)
        except Exception:
            log.exception("subscriber %r failed on %r", subscriber, event)
