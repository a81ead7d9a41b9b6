"""Deliveries to a real receiver: signed, retried with backoff after errors and timeouts, given up after a
day, the endpoint disabled (and its owner told) after repeated failure, private targets refused."""

import hashlib
import hmac
import itertools
import json
from datetime import timedelta

import dramatiq
import pytest
from django.utils import timezone

from crm import services
from tests.factories import LeadFactory
from tests.webhooks.conftest import queued
from webhooks import delivery
from webhooks.models import Delivery, Endpoint
from workers import actors

pytestmark = pytest.mark.django_db


def verify(secret: str, signature_header: str, body: str) -> int:
    """What a receiver does: recompute the HMAC of "<t>.<body>" and compare; returns t."""
    parts = dict(item.split("=", 1) for item in signature_header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.{body}".encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    return int(parts["t"])


def run_queued_deliveries(broker) -> None:
    """Run what the subscriber queued, as the worker would (the actor itself, not a copy of its logic)."""
    waiting = broker.queues["default"]
    while waiting.qsize():
        message = dramatiq.Message.decode(waiting.get())
        actors.deliver_webhook(*message.args)
        waiting.task_done()  # or the broker's join() would wait for it forever, in later tests too


def test_a_move_is_delivered_signed_to_the_receiver(endpoint, receiver, stages, alice, broker, on_commit):
    lead = LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice)
    with on_commit():
        services.move_lead(
            lead.pk,
            actor=alice,
            stage_slug="won",
            placement=services.Placement(index=0),
            version=lead.version,
        )
    run_queued_deliveries(broker)
    assert {r.headers["X-Pipeline-Event"] for r in receiver.requests} == {"lead.moved", "lead.won"}
    for request in receiver.requests:
        body = json.loads(request.body)
        assert verify(endpoint.shown_secret, request.headers["X-Pipeline-Signature"], request.body) > 0
        assert request.headers["X-Pipeline-Delivery"] == body["id"]
        assert request.headers["Content-Type"] == "application/json"
        assert body["type"] == request.headers["X-Pipeline-Event"]
        assert (body["object"]["id"], body["object"]["stage"], body["from_stage"]) == (lead.pk, "won", "new")
    ids = [json.loads(r.body)["id"] for r in receiver.requests]
    assert len(set(ids)) == 2  # one id per delivery, so receivers can drop repeats
    assert set(Delivery.objects.values_list("status", "response_code")) == {("succeeded", 200)}


def test_a_tampered_body_fails_verification(endpoint, receiver):
    (sent,) = delivery_for(endpoint)
    delivery.attempt(sent.pk)
    request = receiver.requests[0]
    with pytest.raises(AssertionError):
        verify(endpoint.shown_secret, request.headers["X-Pipeline-Signature"], request.body.replace("1", "2"))


def delivery_for(endpoint, event_type="lead.moved"):
    from webhooks.services import queue_event

    return queue_event(event_type, {"object": {"id": 1}}, [endpoint])


def test_a_500_is_retried_later_with_the_same_delivery_id(endpoint, receiver, broker):
    receiver.answer(500)
    (sent,) = delivery_for(endpoint)
    broker.flush_all()
    actors.deliver_webhook(str(sent.pk))
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.response_code) == ("pending", 1, 500)
    assert sent.response_excerpt == "receiver is broken today"
    (retry,) = queued(broker, "default.DQ")
    assert retry.args == (str(sent.pk),)
    # One minute, then 2, 4, ... (eta and timestamp are read from the clock a moment apart).
    assert 60_000 <= retry.options["eta"] - retry.message_timestamp < 61_000
    actors.deliver_webhook(*retry.args)
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.response_code) == ("succeeded", 2, 200)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-Pipeline-Delivery"] == second.headers["X-Pipeline-Delivery"] == str(sent.pk)


def test_a_receiver_slower_than_the_timeout_is_retried(endpoint, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.2
    receiver.answer("hang")
    (sent,) = delivery_for(endpoint)
    wait = delivery.attempt(sent.pk)
    sent.refresh_from_db()
    assert wait == timedelta(minutes=1)
    assert (sent.status, sent.response_code) == ("pending", None)
    assert "No answer within 0.2 s" in sent.error
    receiver.release.set()
    settings.WEBHOOK_TIMEOUT = 10  # the retry must not time out on a busy machine
    assert delivery.attempt(sent.pk) is None
    sent.refresh_from_db()
    assert sent.status == "succeeded"


def test_backoff_doubles_and_stops_after_a_day():
    waits = [delivery.retry_delay(n) for n in range(1, 15)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert max(waits) == timedelta(hours=6)
    assert all(later >= earlier for earlier, later in itertools.pairwise(waits))


def test_no_retry_is_scheduled_past_a_day(endpoint, receiver):
    receiver.answer(503)
    (sent,) = delivery_for(endpoint)
    Delivery.objects.filter(pk=sent.pk).update(
        created_at=timezone.now() - timedelta(hours=23, minutes=59, seconds=30)
    )
    assert delivery.attempt(sent.pk) is None
    sent.refresh_from_db()
    assert (sent.status, sent.response_code) == ("failed", 503)


def test_a_finished_delivery_is_not_sent_again(endpoint, receiver):
    (sent,) = delivery_for(endpoint)
    delivery.attempt(sent.pk)
    assert delivery.attempt(sent.pk) is None  # a redelivered message
    assert len(receiver.requests) == 1


def test_twenty_failures_in_a_row_disable_the_endpoint_and_tell_its_owner(
    endpoint, receiver, manager, mailoutbox
):
    receiver.answer(*[500] * 25)
    first, second = delivery_for(endpoint), delivery_for(endpoint)
    for _ in range(19):
        delivery.attempt(first[0].pk)
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 19)
    assert mailoutbox == []
    assert delivery.attempt(second[0].pk) is None
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "20 failed deliveries" in endpoint.disabled_reason
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [manager.email]
    assert endpoint.url in mailoutbox[0].body
    assert delivery.attempt(first[0].pk) is None
    assert len(receiver.requests) == 20  # nothing more is sent to a disabled endpoint
    assert Delivery.objects.get(pk=first[0].pk).status == "failed"


def test_a_success_resets_the_failure_count(endpoint, receiver):
    receiver.answer(500, 500)
    (sent,) = delivery_for(endpoint)
    delivery.attempt(sent.pk)
    delivery.attempt(sent.pk)
    assert Endpoint.objects.get(pk=endpoint.pk).consecutive_failures == 2
    delivery.attempt(sent.pk)
    assert Endpoint.objects.get(pk=endpoint.pk).consecutive_failures == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "ftp://example.com/hook",
    ],
)
def test_private_targets_are_refused_at_registration_unless_allowed(api, manager, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = api(manager).post("/api/v1/webhooks/", {"url": url, "events": ["lead.created"]}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["url"]
    assert not Endpoint.objects.exists()


def test_a_private_target_is_not_called_when_no_longer_allowed(endpoint, receiver, settings):
    (sent,) = delivery_for(endpoint)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert delivery.attempt(sent.pk) is None
    sent.refresh_from_db()
    assert sent.status == "failed"
    assert "private, loopback or link-local" in sent.error
    assert receiver.requests == []


def test_private_targets_are_allowed_in_development(api, manager, settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    response = api(manager).post(
        "/api/v1/webhooks/", {"url": receiver.url, "events": ["lead.created"]}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["secret"].startswith("whsec_")
    assert "secret" not in api(manager).get(f"/api/v1/webhooks/{response.json()['id']}/").json()
