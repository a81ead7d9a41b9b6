"""`/healthz`: can this web process reach what it needs? For load balancers, process supervisors and people.

200 when the database and Redis answer, 503 naming what failed; either way a JSON body with each check. The
worker heartbeat (workers.actors.heartbeat, sent by the scheduler every 15 s) and the scheduler lease's holder
are reported too, but do not fail the check: a stopped worker must not take the web processes out of the
load balancer's rotation; monitoring alerts on `worker.ok` instead.
"""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from workers.actors import HEARTBEAT_KEY

# Three missed heartbeats: the worker is down, or too busy to take a message within a minute.
HEARTBEAT_STALE_SECONDS = 60


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


def redis_client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "mode": "embedded (no Redis)"}
    redis_client().ping()
    return {"ok": True}


def check_worker() -> dict:
    from django.core.cache import cache

    beat = cache.get(HEARTBEAT_KEY)
    if beat is None:
        return {"ok": False, "error": "no heartbeat yet"}
    age = max(0.0, time.time() - float(beat))
    return {"ok": age < HEARTBEAT_STALE_SECONDS, "heartbeat_age_seconds": round(age, 1)}


def check_scheduler() -> dict:
    from workers.lease import lease_holder

    holder = lease_holder()
    return {"ok": holder is not None, "lease_holder": holder}


def run(check) -> dict:
    try:
        return check()
    except Exception as error:  # what failed, as the operator needs it: the class and the message
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


@never_cache
@require_GET
def healthz(request):
    required = {"database": run(check_database), "redis": run(check_redis)}
    reported = {"worker": run(check_worker), "scheduler": run(check_scheduler)}
    healthy = all(check["ok"] for check in required.values())
    body = {"status": "ok" if healthy else "unavailable", **required, **reported}
    return JsonResponse(body, status=200 if healthy else 503)
