"""Domain events become deliveries for the endpoints that asked; the managers' settings pages."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from crm import follow_ups, reminders, services
from tests.factories import LeadFactory
from webhooks import services as webhook_services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def sent_types() -> list[str]:
    return sorted(Delivery.objects.values_list("event_type", flat=True))


def register(manager, *events: str, url: str = "http://127.0.0.1:9/hook") -> Endpoint:
    return webhook_services.register_endpoint(actor=manager, url=url, events=list(events))[0]


def test_only_subscribed_active_endpoints_get_a_delivery(manager, alice, stages, on_commit):
    moved = register(manager, "lead.moved")
    register(manager, "lead.created")
    disabled = register(manager, "lead.moved")
    webhook_services.set_active(disabled, actor=manager, active=False)
    lead = LeadFactory(stage=stages["new"], owner=alice)
    with on_commit():
        services.move_lead(
            lead.pk, actor=alice, stage_slug="contacted", placement=services.Placement(0), version=1
        )
    assert list(Delivery.objects.values_list("endpoint", "event_type")) == [(moved.pk, "lead.moved")]


def test_winning_and_losing_are_events_of_their_own(manager, alice, stages, on_commit):
    register(manager, "lead.won", "lead.lost")
    won, lost = LeadFactory(stage=stages["new"]), LeadFactory(stage=stages["new"])
    with on_commit():
        services.move_lead(
            won.pk, actor=manager, stage_slug="won", placement=services.Placement(0), version=1
        )
        services.move_lead(
            lost.pk, actor=manager, stage_slug="lost", placement=services.Placement(0), version=1
        )
        # Reordering inside Won is not winning again.
        services.move_lead(
            won.pk, actor=manager, stage_slug="won", placement=services.Placement(1), version=2
        )
    assert sent_types() == ["lead.lost", "lead.won"]


def test_creation_edits_and_interactions_are_delivered_with_their_object(manager, alice, stages, on_commit):
    register(manager, "lead.created", "lead.updated", "interaction.logged")
    with on_commit():
        lead = services.create_lead(actor=alice, name="Zoe Park", owner=alice)
        services.update_lead(lead.pk, actor=alice, version=1, changes={"company": "Globex"})
        services.log_interaction(lead.pk, actor=alice, kind="call", notes="Asked for prices")
    bodies = {d.event_type: json.loads(d.body) for d in Delivery.objects.all()}
    assert bodies["lead.created"]["object"]["name"] == "Zoe Park"
    assert bodies["lead.updated"]["changed"] == ["company"]
    assert bodies["lead.updated"]["object"]["company"] == "Globex"
    assert bodies["interaction.logged"]["object"]["notes"] == "Asked for prices"
    for event_type, body in bodies.items():
        assert (body["type"], set(body) >= {"id", "created_at", "object"}) == (event_type, True)


def test_no_endpoint_costs_one_query_per_event(alice, stages, on_commit, django_assert_num_queries):
    from crm import events
    from webhooks import subscriber

    with django_assert_num_queries(1):
        subscriber.handlers(events.LeadChanged(actor_id=alice.pk, lead_id=1, fields=("company",)))


def test_a_delivery_is_queued_for_the_worker(manager, alice, stages, on_commit, broker):
    register(manager, "lead.created")
    with on_commit():
        services.create_lead(actor=alice, name="Zoe Park")
    (message,) = [m for m in broker.queues["default"].queue]
    assert str(Delivery.objects.get().pk) in message.decode()


# --- Settings > Webhooks --------------------------------------------------------------------------


def test_the_webhook_pages_are_for_managers(client, alice):
    client.force_login(alice)
    assert client.get("/settings/webhooks/").status_code == 403


def test_a_manager_registers_an_endpoint_and_sees_the_secret_once(client, manager):
    client.force_login(manager)
    response = client.post(
        "/settings/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["lead.won", "lead.lost"]}
    )
    assert response.status_code == 201
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["lead.won", "lead.lost"]
    assert endpoint.secret in response.content.decode()
    assert endpoint.secret not in client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()


def test_a_refused_url_is_shown_on_the_form(client, manager, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    client.force_login(manager)
    response = client.post("/settings/webhooks/", {"url": "http://10.0.0.5/hook", "events": ["lead.won"]})
    assert response.status_code == 400
    assert "private, loopback or link-local" in response.content.decode()


def test_the_test_button_queues_a_test_event_shown_in_the_log(client, manager, on_commit):
    endpoint = register(manager, "lead.won")
    client.force_login(manager)
    with on_commit():
        assert client.post(f"/settings/webhooks/{endpoint.pk}/test/").status_code == 302
    delivery = Delivery.objects.get()
    assert delivery.event_type == "endpoint.test"
    page = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert f'id="delivery-{delivery.pk}"' in page and "endpoint.test" in page


def test_enabling_again_clears_the_failure_count(client, manager):
    endpoint = register(manager, "lead.won")
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False, consecutive_failures=20)
    client.force_login(manager)
    client.post(f"/settings/webhooks/{endpoint.pk}/toggle/")
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 0)


def test_a_due_reminder_and_a_snooze_are_delivered_to_who_asked(manager, alice, stages, on_commit, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    register(manager, "follow_up.due", "lead.snoozed")
    lead = LeadFactory(stage=stages["new"], owner=alice)
    due = timezone.now() + timedelta(hours=1)
    with on_commit():
        follow_up = follow_ups.schedule_follow_up(lead.pk, actor=alice, due_at=due, note="Call back")
    with on_commit():
        reminders.send_due(due)
    with on_commit():
        follow_ups.snooze_lead(lead.pk, actor=alice, until=due)

    assert sent_types() == ["follow_up.due", "lead.snoozed"]
    payload = json.loads(Delivery.objects.get(event_type="follow_up.due").body)
    assert (payload["object"]["id"], payload["object"]["note"]) == (follow_up.pk, "Call back")
