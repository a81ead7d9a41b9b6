"""The Dramatiq broker, chosen from REDIS_URL: Redis in production, an in-process stub otherwise.

Embedded mode (no REDIS_URL) runs a worker thread pool inside the web process on the stub broker, so
`make run` needs no Redis; production runs `python manage.py rundramatiq` processes against Redis.
"""

import logging
import threading

log = logging.getLogger(__name__)

MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
]


def broker_settings(redis_url: str) -> dict:
    if redis_url:
        return {
            "BROKER": "dramatiq.brokers.redis.RedisBroker",
            "OPTIONS": {"url": redis_url},
            "MIDDLEWARE": MIDDLEWARE,
        }
    return {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}, "MIDDLEWARE": MIDDLEWARE}


_started = threading.Event()


def start_embedded_worker(worker_threads: int = 2) -> None:
    """Start the in-process worker and scheduler once per process (embedded mode only)."""
    if _started.is_set():
        return
    _started.set()
    import dramatiq
    from dramatiq import Worker

    from workers.schedule import start_scheduler_thread

    broker = dramatiq.get_broker()
    broker.emit_after("process_boot")
    Worker(broker, worker_threads=worker_threads, worker_timeout=250).start()
    start_scheduler_thread()
    log.info("embedded Dramatiq worker and scheduler started")
