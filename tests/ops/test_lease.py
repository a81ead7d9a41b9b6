"""The scheduler lease: of two schedulers on one Redis one enqueues; the other takes over when it dies."""

import threading

import pytest
from django.conf import settings

from workers import lease, schedule

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the lease lives in Redis (REDIS_URL unset)")


@pytest.fixture
def key(request):
    from project.health import redis_client

    name = f"test-lease:{request.node.name}"
    redis_client().delete(name)
    yield name
    redis_client().delete(name)


def new_lease(key: str, seconds: float = 15) -> lease.RedisLease:
    from project.health import redis_client

    return lease.RedisLease(redis_client(), key=key, seconds=seconds)


def test_one_holder_at_a_time_and_release_hands_over(key):
    first, second = new_lease(key), new_lease(key)
    assert first.hold()
    assert not second.hold()
    assert first.hold()  # renewed
    assert first.current_holder() == first.holder
    first.release()
    assert second.hold()
    assert not first.hold()


def test_a_dead_holder_s_lease_runs_out_and_the_other_takes_over(key):
    first, second = new_lease(key, seconds=1), new_lease(key, seconds=1)
    assert first.hold()
    assert not second.hold()
    # `first` stops renewing, as a killed scheduler does.
    from tests.live import wait_for

    wait_for(second.hold, timeout=10, what="the second scheduler took the lease")
    assert not first.hold()  # it cannot renew what another holds now


class Counting(lease.RedisLease):
    """A lease that stops its scheduler after `ticks` turns and remembers what hold() answered."""

    def __init__(self, *args, stop: threading.Event, ticks: int = 3, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop, self.ticks, self.answers = stop, ticks, []

    def hold(self) -> bool:
        self.answers.append(held := super().hold())
        if len(self.answers) == self.ticks:
            self.stop.set()
        return held


def queued(broker) -> int:
    return sum(queue.qsize() for queue in broker.queues.values())


def test_only_the_holder_enqueues(key, broker):
    from project.health import redis_client

    stop = threading.Event()
    holder = Counting(redis_client(), key=key, stop=stop)
    schedule.run_forever(stop, holder, resolution=0.01)
    assert holder.answers == [True, True, True]
    assert queued(broker) == len(schedule.SCHEDULE)  # every job once: none is due again within the ticks
    broker.flush_all()

    assert holder.hold()  # released when its loop ended: take it again, as a live scheduler holds it
    stop = threading.Event()
    waiting = Counting(redis_client(), key=key, stop=stop)
    schedule.run_forever(stop, waiting, resolution=0.01)
    assert waiting.answers == [False, False, False]
    assert queued(broker) == 0
