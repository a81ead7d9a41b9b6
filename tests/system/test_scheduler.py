"""Two schedulers started by mistake: one holds the lease and enqueues, the other waits, then takes over
when the first is killed. Real `run_scheduler` processes on a redis-server of the test's own."""

import pytest
import redis

from tests.live import RedisServer, kill_group, process_env, requires_services, start_command, wait_for
from workers.lease import LEASE_KEY

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    requires_services,
    pytest.mark.django_db(transaction=True),
]


def test_a_second_scheduler_waits_and_takes_over_when_the_first_dies(tmp_path):
    own = RedisServer(tmp_path)
    own.start()
    client = redis.Redis.from_url(own.url)
    env = process_env(REDIS_URL=own.url, LOG_LEVEL="WARNING")
    first = start_command(["run_scheduler"], tmp_path / "first.log", env)
    second = None
    try:
        holder = wait_for(
            lambda: client.get(LEASE_KEY), timeout=60, what="the first scheduler took the lease"
        )
        assert f":{first.pid}:" in holder.decode()
        second = start_command(["run_scheduler"], tmp_path / "second.log", env)
        wait_for(
            lambda: "waits for the lease" in (tmp_path / "second.log").read_text(),
            timeout=60,
            what="the second scheduler waits",
        )
        assert f":{first.pid}:" in client.get(LEASE_KEY).decode()

        kill_group(first)  # SIGKILL: no chance to let go of the lease; it runs out (15 s)
        jobs = client.llen("dramatiq:default")  # no worker runs: the queue only grows, and only by a holder

        holder = wait_for(
            lambda: (value := client.get(LEASE_KEY)) and f":{second.pid}:" in value.decode(),
            timeout=60,
            what="the second scheduler took over",
        )
        assert holder
        # The new holder enqueues the periodic jobs: the queue grew after the take-over.
        wait_for(
            lambda: client.llen("dramatiq:default") > jobs, timeout=30, what="jobs enqueued by the second"
        )
    finally:
        kill_group(first)
        if second is not None:
            kill_group(second, 15)
        own.kill()
