"""The periodic table: which actor runs how often. One scheduler process enqueues them (embedded: a thread).

Schedulers take a lease first (workers/lease.py): a second one started by mistake waits, and takes over
when the first dies. Actors are idempotent besides, so a duplicate tick after a take-over is harmless (the
reminder and wake jobs claim their work in the database). `python manage.py run_job NAME` runs one now.
"""

import logging
import threading
import time
from datetime import timedelta

import dramatiq

from workers.lease import AlwaysHeld, scheduler_lease

log = logging.getLogger(__name__)

# (actor name, interval). Actors are looked up on the broker, so this module imports no actor code.
SCHEDULE: list[tuple[str, timedelta]] = [
    ("rescore_open_leads", timedelta(days=1)),
    ("score_pending", timedelta(minutes=5)),  # a safety net: requests left by a crashed worker
    ("wake_snoozed", timedelta(minutes=1)),
    ("send_reminders", timedelta(minutes=1)),
    ("reclaim_imports", timedelta(minutes=1)),
    ("refresh_agent_performance", timedelta(hours=1)),
    ("prune_records", timedelta(days=1)),
    ("heartbeat", timedelta(seconds=15)),  # /healthz: a worker took a message off the queue lately
]


def tick(next_runs: dict[str, float], now: float) -> list[str]:
    """Enqueue every actor that is due at `now`; returns their names."""
    broker = dramatiq.get_broker()
    sent = []
    for name, every in SCHEDULE:
        if now >= next_runs.get(name, 0):
            broker.get_actor(name).send()
            next_runs[name] = now + every.total_seconds()
            sent.append(name)
    return sent


def run_forever(stop: threading.Event, lease=None, resolution: float = 1.0) -> None:
    """Tick every `resolution` seconds while holding `lease` (workers.lease); wait while another holds it."""
    lease = lease or AlwaysHeld()
    next_runs: dict[str, float] = {}
    holding = None
    try:
        while not stop.is_set():
            held = lease.hold()
            if held != holding:
                state = "holds the lease" if held else "waits for the lease"
                log.warning("scheduler %s %s", lease.holder, state)
                holding = held
                next_runs.clear()  # a take-over runs every job once at once: they are idempotent
            if held:
                try:
                    tick(next_runs, time.monotonic())
                except Exception:
                    log.exception("scheduler tick failed")
            stop.wait(resolution)
    finally:
        lease.release()


def start_scheduler_thread() -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=run_forever, args=(stop, scheduler_lease()), name="scheduler", daemon=True
    ).start()
    return stop
