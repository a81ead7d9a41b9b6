"""The periodic table: which actor runs how often. One scheduler process enqueues them (embedded: a thread).

Run exactly one scheduler (`python manage.py run_scheduler`) in production; actors are idempotent, so a
duplicate tick after a restart, or a second scheduler started by mistake, is harmless (the reminder and wake
jobs claim their work in the database). `python manage.py run_job NAME` runs one of them now.
"""

import logging
import threading
import time
from datetime import timedelta

import dramatiq

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


def run_forever(stop: threading.Event, resolution: float = 1.0) -> None:
    next_runs: dict[str, float] = {}
    while not stop.is_set():
        try:
            tick(next_runs, time.monotonic())
        except Exception:
            log.exception("scheduler tick failed")
        stop.wait(resolution)


def start_scheduler_thread() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(stop,), name="scheduler", daemon=True).start()
    return stop
