"""The event bus: every subscriber handles or explicitly ignores every event type; muting nests."""

import gc

import pytest

from crm import events


def test_every_subscriber_handles_or_ignores_every_event_type():
    subscribers = [s for s in events.bus.subscribers if isinstance(s, events.Handlers)]
    assert {s.name for s in subscribers} >= {"realtime", "workers", "webhooks"}
    for subscriber in subscribers:
        assert subscriber.unhandled() == set(), f"{subscriber.name} forgets {subscriber.unhandled()}"


def test_a_new_event_type_is_reported_unhandled_until_someone_decides():
    table = events.Handlers("probe")
    table.ignore(*events.event_types())

    class Probed(events.Event):
        pass

    assert table.unhandled() == {Probed}
    table.on(Probed)(lambda event: None)
    assert table.unhandled() == set()
    del table, Probed
    gc.collect()  # event_types() reads live subclasses: let the probe go
    assert all(t.__module__ == "crm.events" for t in events.event_types())


def test_a_type_handled_twice_is_refused():
    table = events.Handlers("probe")
    table.on(events.LeadMoved)(lambda event: None)
    with pytest.raises(ValueError, match="twice"):
        table.on(events.LeadMoved)(lambda event: None)


@pytest.mark.django_db
def test_muted_nests(django_capture_on_commit_callbacks):
    bus = events.Bus()
    seen = []
    bus.subscribe(seen.append)
    event = events.ColumnRebalanced(actor_id=None, stage_id=1)
    with bus.muted():
        with bus.muted():
            bus.publish(event)
        bus.publish(event)  # the inner block's end must not unmute the outer one
        assert bus.is_muted
    assert seen == []
    with django_capture_on_commit_callbacks(execute=True):
        bus.publish(event)
    assert seen == [event]


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(caplog):
    bus = events.Bus()
    seen = []

    def broken(event):
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    event = events.ColumnRebalanced(actor_id=None, stage_id=1)
    bus.deliver(event)
    assert seen == [event]
    assert "boom" in caplog.text
