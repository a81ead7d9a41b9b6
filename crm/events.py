"""Domain events: what happened, as ids and facts, delivered to subscribers after the transaction commits.

The domain publishes; adapters (realtime, workers) subscribe in their AppConfig.ready. So `crm` never imports
the socket layer or the task queue, and a rolled-back write announces nothing.
"""

import logging
from collections.abc import Callable
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


Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def publish(event: Event) -> None:
    """Deliver `event` once the surrounding transaction commits (at once when there is none)."""
    transaction.on_commit(lambda: deliver(event))


def deliver(event: Event) -> None:
    # The write is already committed: a failing subscriber is logged, never turned into the user's error.
    for subscriber in list(_subscribers):
        try:
            subscriber(event)
        except Exception:
            log.exception("subscriber %r failed on %r", subscriber, event)
