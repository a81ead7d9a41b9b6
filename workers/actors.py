"""Dramatiq actors: ids in, a crm service call, idempotent (a redelivered message does no harm)."""

import time

import dramatiq
from django.core.cache import cache
from django.utils import timezone

from api import idempotency
from crm import follow_ups, importing, reminders, scoring, snapshots
from webhooks import delivery
from workers.models import ScoreRequest

MINUTE_MS = 60 * 1000
# Set while a score_pending run is scheduled and has not started: further changes ride along with it.
SCHEDULED_KEY = "pipeline:score-pending-scheduled"
# When a worker last ran `heartbeat` (a Unix time); /healthz reports its age (project/health.py).
HEARTBEAT_KEY = "pipeline:worker-heartbeat"
HEARTBEAT_TTL = 24 * 3600


@dramatiq.actor(max_retries=3, time_limit=5 * MINUTE_MS)
def score_pending() -> None:
    """Rescore every lead that asked since the last run; train too when the closed history has grown."""
    cache.delete(SCHEDULED_KEY)  # from here on, a new change schedules the next run
    # The requests are deleted once their leads are scored, not before: a worker killed in the middle leaves
    # them for the next run (score_pending is also on the schedule). A lead asking again during the run has a
    # newer requested_at (workers.triggers) and keeps its request.
    started = timezone.now()
    ids = list(ScoreRequest.objects.filter(requested_at__lte=started).values_list("lead_id", flat=True))
    if ids:
        scoring.rescore(ids)
        ScoreRequest.objects.filter(lead_id__in=ids, requested_at__lte=started).delete()
    if scoring.should_train():
        train_model.send()


@dramatiq.actor(max_retries=1, time_limit=30 * MINUTE_MS)
def rescore_open_leads() -> None:
    scoring.rescore()


@dramatiq.actor(max_retries=0, time_limit=60 * MINUTE_MS)
def train_model() -> None:
    scoring.train()


@dramatiq.actor(max_retries=0, time_limit=10 * MINUTE_MS)
def import_leads_job(job_id: int) -> None:
    importing.run_job(job_id)


@dramatiq.actor(max_retries=0, time_limit=MINUTE_MS)
def reclaim_imports() -> None:
    """Imports whose worker died: queued again once, then failed with a message, never left importing."""
    importing.reclaim_stalled_jobs()


# The per-minute jobs. Claims in the database make them safe to run twice at once, to retry, or to rerun
# after a worker died (see crm.reminders), so a retry is harmless; a run longer than a minute is cut off.
@dramatiq.actor(max_retries=3, time_limit=MINUTE_MS, min_backoff=5000)
def wake_snoozed() -> None:
    follow_ups.wake_snoozed()


@dramatiq.actor(max_retries=3, time_limit=5 * MINUTE_MS, min_backoff=5000)
def send_reminders() -> None:
    reminders.send_due()


@dramatiq.actor(max_retries=3, time_limit=10 * MINUTE_MS)
def refresh_agent_performance() -> None:
    """This hour's AgentPerformance rows; a rerun in the same hour overwrites them."""
    snapshots.record_agent_performance()


@dramatiq.actor(max_retries=3, time_limit=10 * MINUTE_MS)
def prune_records() -> None:
    """Old webhook deliveries and expired Idempotency-Keys, which would otherwise pile up for ever."""
    delivery.prune()
    idempotency.prune()


@dramatiq.actor(max_retries=0, time_limit=MINUTE_MS)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt; the webhooks module decides whether and when the next one comes (backoff up to a day)."""
    wait = delivery.attempt(delivery_id)
    if wait is not None:
        deliver_webhook.send_with_options(args=(delivery_id,), delay=int(wait.total_seconds() * 1000))


@dramatiq.actor(max_retries=0, time_limit=MINUTE_MS, max_age=MINUTE_MS)
def heartbeat() -> None:
    """Proof that a worker takes messages off the queue: the scheduler sends this often, /healthz shows its
    age. Messages older than a minute are dropped, so a backlog does not pass for a live worker."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=HEARTBEAT_TTL)
