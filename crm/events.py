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
    # Out of a closed stage into an open one: the only move that asks for a score (only open leads are
    # scored, and the stage is not a feature).
    reopened: bool = False


@dataclass(frozen=True)
class InteractionLogged(Event):
    lead_id: int
    interaction_id: int


@dataclass(frozen=True)
class LeadSnoozed(Event):
    """A lead was put aside (`until` set) or woke, by hand or by the wake job (`until` None)."""

    lead_id: int
    until: str | None = None  # ISO 8601, UTC


@dataclass(frozen=True)
class FollowUpChanged(Event):
    """A follow-up was scheduled, edited, completed or cancelled: the card and its owner's count change."""

    lead_id: int
    follow_up_id: int
    owner_id: int | None


@dataclass(frozen=True)
class ReminderDue(Event):
    """A follow-up's reminder fell due (the email may or may not go out): its owner's open pages say so."""

    lead_id: int
    follow_up_id: int
    owner_id: int


@dataclass(frozen=True)
class ColumnRebalanced(Event):
    """Positions in a stage were renumbered: clients re-read the column instead of trusting stale keys."""

    stage_id: int


@dataclass(frozen=True)
class StagesChanged(Event):
    """The pipeline's columns were added, renamed, reordered, limited or removed: boards re-read them."""


@dataclass(frozen=True)
class ScoresChanged(Event):
    lead_ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class LeadsImported(Event):
    lead_ids: tuple[int, ...] = field(default=())  # created
    updated_ids: tuple[int, ...] = field(default=())  # existing leads the import changed


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


def event_types() -> list[type[Event]]:
    """Every concrete event type, for the check that each subscriber handles or ignores all of them."""
    found, todo = [], [Event]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


Handler = Callable[[Event], None]


class Handlers:
    """One subscriber's table of event type -> handler.

    A type it neither handles nor ignores is a bug that `unhandled()` (and the test calling it for every
    subscriber) finds, instead of an event dropped in silence.
    """

    def __init__(self, name: str):
        self.name = name
        self.handlers: dict[type[Event], Handler] = {}
        self.ignored: set[type[Event]] = set()

    def on(self, *types: type[Event]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in types:
                if event_type in self.handlers:
                    raise ValueError(f"{self.name} handles {event_type.__name__} twice")
                self.handlers[event_type] = handler
            return handler

        return register

    def ignore(self, *types: type[Event]) -> None:
        self.ignored.update(types)

    def unhandled(self) -> set[type[Event]]:
        return set(event_types()) - set(self.handlers) - self.ignored

    def __call__(self, event: Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(event)
        elif type(event) not in self.ignored:
            log.error("%s has no handler for %s", self.name, type(event).__name__)

    def __repr__(self) -> str:
        return f"<Handlers {self.name}>"


class Bus:
    """Who listens, and whether publishing is muted on this thread: the module's only state, in one place
    that tests can reset.
    """

    def __init__(self) -> None:
        self.subscribers: list[Handler] = []
        self._local = threading.local()

    def subscribe(self, subscriber: Handler) -> Handler:
        if subscriber not in self.subscribers:
            self.subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Handler) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    @property
    def is_muted(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    @contextmanager
    def muted(self):
        """Publish nothing inside this block (nests): bulk loading (seed data) while nobody is watching."""
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1

    def publish(self, event: Event) -> None:
        """Deliver `event` once the surrounding transaction commits (at once when there is none)."""
        if self.is_muted:
            return
        transaction.on_commit(lambda: self.deliver(event))

    def deliver(self, event: Event) -> None:
        # The write is already committed: a failing subscriber is logged, never turned into the user's error.
        for subscriber in list(self.subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("subscriber %r failed on %r", subscriber, event)


bus = Bus()
subscribe = bus.subscribe
unsubscribe = bus.unsubscribe
muted = bus.muted
publish = bus.publish
deliver = bus.deliver
