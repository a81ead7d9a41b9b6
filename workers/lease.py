"""The scheduler's lease: of the schedulers started against one Redis, exactly one enqueues the periodic jobs.

A Redis key with an expiry, set only when absent and renewed by its holder at every tick. A second scheduler
started by mistake finds it taken and waits; when the holder dies (or loses Redis longer than the expiry) the
key runs out and the waiting one takes over within LEASE_SECONDS. Without Redis (embedded mode) there is one
process, so the lease always holds.
"""

import contextlib
import logging
import os
import socket

log = logging.getLogger(__name__)

LEASE_KEY = "pipeline:scheduler-lease"
LEASE_SECONDS = 15


class AlwaysHeld:
    holder = "embedded"

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        return None


class RedisLease:
    """`hold()` takes the lease when it is free and renews it when it is ours; False while another holds it
    (or Redis cannot be reached: then nobody can prove they hold it, and enqueueing would fail anyway)."""

    def __init__(self, client, key: str = LEASE_KEY, seconds: float = LEASE_SECONDS):
        self.client = client
        self.key = key
        self.seconds = seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lock = client.lock(key, timeout=seconds, thread_local=False)
        self.lock.local.token = self.holder.encode()  # the token others see: who holds the lease
        self.held = False

    def hold(self) -> bool:
        from redis.exceptions import LockError, RedisError

        try:
            if self.held:
                self.lock.reacquire()  # extends to `seconds` from now, only if the token is still ours
            else:
                self.held = bool(self.client.set(self.key, self.holder, nx=True, px=int(self.seconds * 1000)))
        except LockError:
            log.warning("scheduler lease lost (expired while this scheduler was stalled)")
            self.held = False
        except RedisError as error:
            log.warning("scheduler lease not renewed: %s", error)
            self.held = False
        return self.held

    def release(self) -> None:
        from redis.exceptions import LockError, RedisError

        if self.held:
            self.held = False
            with contextlib.suppress(LockError, RedisError):  # else it runs out by itself
                self.lock.release()

    def current_holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value else None


def scheduler_lease():
    from django.conf import settings

    if not settings.REDIS_URL:
        return AlwaysHeld()
    import redis

    return RedisLease(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5))


def lease_holder() -> str | None:
    """Who holds the scheduler lease now (for /healthz); None when nobody does."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return AlwaysHeld.holder
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    value = client.get(LEASE_KEY)
    return value.decode() if value else None
