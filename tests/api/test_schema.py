"""The OpenAPI schema is valid, and every documented operation answers with a documented status and body."""

import re
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from crm import follow_ups
from crm.models import Interaction, Lead
from tests.factories import SourceFactory
from webhooks import services as webhook_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_valid_openapi(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_the_docs_page_is_served(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"/api/v1/docs/?script=" in response.content  # its start-up script, which names the schema
    assert b"/api/v1/schema/" in client.get("/api/v1/docs/?script=").content


def operations(schema) -> dict[str, tuple[str, str]]:
    return {
        operation["operationId"]: (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "patch", "put", "delete"}
    }


@pytest.fixture
def world(stages, alice, manager, alices_lead):
    """One of everything, so every operation has something to answer about."""
    Interaction.objects.create(lead=alices_lead, agent=alice, kind="call", occurred_at=alices_lead.created_at)
    endpoint, _ = webhook_services.register_endpoint(
        actor=manager, url="http://127.0.0.1:9/hook", events=["lead.moved"]
    )
    webhook_services.send_test(endpoint, actor=manager)
    later = timezone.now() + timedelta(days=1)
    follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=later, note="Call back")
    to_cancel = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=later)
    return {
        "lead": alices_lead,
        "follow_up": follow_up,
        "to_cancel": to_cancel,
        "source": SourceFactory(name="Referral"),
        "endpoint": endpoint,
        "user": alice,
    }


def requests_for(world) -> dict[str, tuple[dict, dict | None, int]]:
    """operationId -> (path parameters, JSON body or a function making it, what a valid request gets)."""
    lead, endpoint = world["lead"], world["endpoint"]
    follow_up, to_cancel = world["follow_up"], world["to_cancel"]
    week = "2099-01-05T10:00:00Z"

    def current(**fields):  # a body with the lead's version as it is when the request is made
        return lambda: {**fields, "version": Lead.objects.get(pk=lead.pk).version}

    return {
        "auth_token_create": ({}, {"username": "alice", "password": "demo"}, 201),
        "leads_list": ({}, None, 200),
        "leads_create": ({}, {"name": "Zoe Park", "stage": "contacted", "expected_value": "1200.00"}, 201),
        "leads_retrieve": ({"id": lead.pk}, None, 200),
        "leads_partial_update": ({"id": lead.pk}, current(company="Globex"), 200),
        "leads_move_create": ({"id": lead.pk}, current(stage="contacted", index=0), 200),
        "leads_interactions_list": ({"lead_pk": lead.pk}, None, 200),
        "leads_interactions_create": ({"lead_pk": lead.pk}, {"kind": "email", "notes": "Sent prices"}, 201),
        "leads_snooze_create": ({"id": lead.pk}, {"until": week, "reason": "On holiday"}, 200),
        "leads_unsnooze_create": ({"id": lead.pk}, None, 200),
        "leads_follow_ups_list": ({"lead_pk": lead.pk}, None, 200),
        "leads_follow_ups_create": ({"lead_pk": lead.pk}, {"due_at": week, "note": "Demo"}, 201),
        "follow_ups_list": ({}, None, 200),
        "follow_ups_retrieve": ({"id": follow_up.pk}, None, 200),
        "follow_ups_partial_update": ({"id": follow_up.pk}, {"note": "Call back about prices"}, 200),
        "follow_ups_complete_create": ({"id": follow_up.pk}, {"log_kind": "call", "notes": "Done"}, 200),
        "follow_ups_cancel_create": ({"id": to_cancel.pk}, None, 200),
        "analytics_performance_retrieve": ({}, None, 200),
        "analytics_sources_retrieve": ({}, None, 200),
        "analytics_sources_months_retrieve": ({}, None, 200),
        "analytics_sources_recommendations_retrieve": ({}, None, 200),
        "analytics_dashboard_retrieve": ({}, None, 200),
        "stages_list": ({}, None, 200),
        "stages_retrieve": ({"id": lead.stage_id}, None, 200),
        "sources_list": ({}, None, 200),
        "sources_retrieve": ({"id": world["source"].pk}, None, 200),
        "users_list": ({}, None, 200),
        "users_retrieve": ({"id": world["user"].pk}, None, 200),
        "webhooks_list": ({}, None, 200),
        "webhooks_create": ({}, {"url": "http://127.0.0.1:9/other", "events": ["lead.created"]}, 201),
        "webhooks_retrieve": ({"id": endpoint.pk}, None, 200),
        "webhooks_destroy": ({"id": endpoint.pk}, None, 204),
        "webhooks_test_create": ({"id": endpoint.pk}, None, 202),
        "webhooks_deliveries_list": ({"endpoint_pk": endpoint.pk}, None, 200),
    }


def body_schema(schema: dict, path: str, method: str, status: int) -> dict | None:
    responses = schema["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, not documented"
    content = responses[str(status)].get("content")
    return None if content is None else content["application/json"]["schema"]


def check_body(schema: dict, body_spec: dict | None, response) -> None:
    if body_spec is None:
        assert not response.content
        return
    # The response schema with the components beside it, so its $refs resolve.
    OAS30Validator({**body_spec, "components": schema["components"]}).validate(response.json())


def call(client, path: str, method: str, params: dict, body):
    url = path.format(**params)
    body = body() if callable(body) else body
    return (
        getattr(client, method)(url, body, format="json")
        if body is not None
        else getattr(client, method)(url)
    )


def test_every_documented_operation_answers_as_documented(schema, world, api, manager):
    table = requests_for(world)
    assert set(table) == set(operations(schema)), "an operation without a request here, or the reverse"
    client = api(manager)
    # Deleting and completing last: other operations use the endpoint and the open follow-up.
    last = {"follow_ups_complete_create": 1, "webhooks_destroy": 2}
    for operation_id in sorted(table, key=lambda name: last.get(name, 0)):
        path, method = operations(schema)[operation_id]
        params, body, expected = table[operation_id]
        response = call(client, path, method, params, body)
        assert response.status_code == expected, (operation_id, response.content[:300])
        check_body(schema, body_schema(schema, path, method, expected), response)


def test_refusals_answer_as_documented(schema, world, api, alice):
    """401, 403, 404, 400 and 409 bodies match the documented error shapes too."""
    lead = world["lead"]
    cases = [
        (api(), "/api/v1/leads/", "get", {}, None, 401),
        (api(alice), "/api/v1/webhooks/", "get", {}, None, 403),
        (api(alice), "/api/v1/leads/{id}/", "get", {"id": 99999}, None, 404),
        (api(alice), "/api/v1/leads/", "post", {}, {"email": "not-an-email"}, 400),
        (
            api(alice),
            "/api/v1/leads/{id}/move/",
            "post",
            {"id": lead.pk},
            {"stage": "won", "index": 0, "version": 0},
            409,
        ),
        (api(alice), "/api/v1/leads/{lead_pk}/follow-ups/", "post", {"lead_pk": lead.pk}, {}, 400),
        (api(alice), "/api/v1/follow-ups/{id}/", "get", {"id": 99999}, None, 404),
        (api(alice), "/api/v1/analytics/dashboard/", "get", {}, None, 403),
        (api(alice), "/api/v1/analytics/sources/", "get", {}, None, 403),
    ]
    for client, path, method, params, body, expected in cases:
        response = call(client, path, method, params, body)
        assert response.status_code == expected, (path, response.content[:300])
        check_body(schema, body_schema(schema, path, method, expected), response)


def test_the_docs_page_loads_swagger_from_this_site_with_no_inline_script(client, alice):
    client.force_login(alice)
    page = client.get("/api/v1/docs/").content.decode()

    assert "cdn" not in page.lower() and "//unpkg" not in page and "jsdelivr" not in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert client.get("/api/v1/docs/?script=").status_code == 200
