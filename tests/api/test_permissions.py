"""Who may do what through the API: exactly the pages' rules (crm.permissions), and no token, no entry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.tokens import issue_token, revoke_token
from crm import follow_ups
from tests.api.conftest import client_for
from webhooks import services as webhook_services

pytestmark = pytest.mark.django_db

ACTORS = ["agent", "manager", "anonymous", "revoked token", "deactivated user"]
UNAUTHENTICATED = {"anonymous": 401, "revoked token": 401, "deactivated user": 401}


@pytest.fixture
def as_actor(alice, manager):
    def make(actor: str):
        if actor == "agent":
            return client_for(alice)
        if actor == "manager":
            return client_for(manager)
        if actor == "anonymous":
            return client_for()
        token, raw = issue_token(alice, "old")
        if actor == "revoked token":
            revoke_token(alice, token.pk)
        else:
            alice.is_active = False
            alice.save(update_fields=["is_active"])
        return client_for(raw_token=raw)

    return make


@pytest.fixture
def things(stages, alice, bob, manager, bobs_lead, unassigned_lead, alices_lead):
    endpoint, _ = webhook_services.register_endpoint(
        actor=manager, url="http://127.0.0.1:9/hook", events=["lead.created"]
    )
    later = timezone.now() + timedelta(days=1)
    bob_follow_up = follow_ups.schedule_follow_up(bobs_lead.pk, actor=bob, due_at=later)
    own_follow_up = follow_ups.schedule_follow_up(alices_lead.pk, actor=alice, due_at=later)
    for lead in (bobs_lead, alices_lead):
        lead.refresh_from_db()  # scheduling moved their versions on
    return {
        "bob_follow_up": bob_follow_up,
        "own_follow_up": own_follow_up,
        "bob": bobs_lead,
        "free": unassigned_lead,
        "own": alices_lead,
        "endpoint": endpoint,
        "bob_user": bob,
    }


def move_body(lead, stage="contacted"):
    return {"stage": stage, "index": 0, "version": lead.version}


# (name, method, path, body, {actor: status}); agent is Alice.
CASES = [
    ("list leads", "get", "/api/v1/leads/", None, {"agent": 200, "manager": 200}),
    ("read another's lead", "get", "/api/v1/leads/{bob.pk}/", None, {"agent": 200, "manager": 200}),
    ("create a lead for oneself", "post", "/api/v1/leads/", {"name": "Zoe"}, {"agent": 201, "manager": 201}),
    ("give a new lead to another", "post", "/api/v1/leads/", "give", {"agent": 403, "manager": 201}),
    ("edit another's lead", "patch", "/api/v1/leads/{bob.pk}/", "edit bob", {"agent": 403, "manager": 200}),
    (
        "edit an unassigned lead",
        "patch",
        "/api/v1/leads/{free.pk}/",
        "edit free",
        {"agent": 200, "manager": 200},
    ),
    (
        "move another's lead",
        "post",
        "/api/v1/leads/{bob.pk}/move/",
        "move bob",
        {"agent": 403, "manager": 200},
    ),
    (
        "move one's own lead",
        "post",
        "/api/v1/leads/{own.pk}/move/",
        "move own",
        {"agent": 200, "manager": 200},
    ),
    (
        "log on another's lead",
        "post",
        "/api/v1/leads/{bob.pk}/interactions/",
        {"kind": "call"},
        {"agent": 403, "manager": 201},
    ),
    (
        "read interactions",
        "get",
        "/api/v1/leads/{bob.pk}/interactions/",
        None,
        {"agent": 200, "manager": 200},
    ),
    ("list one's follow-ups", "get", "/api/v1/follow-ups/?due=today", None, {"agent": 200, "manager": 200}),
    (
        "list another's lead's follow-ups",
        "get",
        "/api/v1/leads/{bob.pk}/follow-ups/",
        None,
        {"agent": 200, "manager": 200},
    ),
    (
        "schedule on another's lead",
        "post",
        "/api/v1/leads/{bob.pk}/follow-ups/",
        "due",
        {"agent": 403, "manager": 201},
    ),
    (
        "schedule on an unassigned lead",
        "post",
        "/api/v1/leads/{free.pk}/follow-ups/",
        "due",
        {"agent": 201, "manager": 201},
    ),
    (
        "read another's follow-up",
        "get",
        "/api/v1/follow-ups/{bob_follow_up.pk}/",
        None,
        {"agent": 200, "manager": 200},
    ),
    (
        "edit another's follow-up",
        "patch",
        "/api/v1/follow-ups/{bob_follow_up.pk}/",
        {"note": "Mine now"},
        {"agent": 403, "manager": 200},
    ),
    (
        "complete another's follow-up",
        "post",
        "/api/v1/follow-ups/{bob_follow_up.pk}/complete/",
        {},
        {"agent": 403, "manager": 200},
    ),
    (
        "cancel one's own follow-up",
        "post",
        "/api/v1/follow-ups/{own_follow_up.pk}/cancel/",
        None,
        {"agent": 200, "manager": 200},
    ),
    (
        "snooze another's lead",
        "post",
        "/api/v1/leads/{bob.pk}/snooze/",
        {"preset": "tomorrow"},
        {"agent": 403, "manager": 200},
    ),
    (
        "snooze one's own lead",
        "post",
        "/api/v1/leads/{own.pk}/snooze/",
        {"preset": "1h", "reason": "In a meeting"},
        {"agent": 200, "manager": 200},
    ),
    (
        "unsnooze another's lead",
        "post",
        "/api/v1/leads/{bob.pk}/unsnooze/",
        None,
        {"agent": 403, "manager": 200},
    ),
    (
        "read the performance table",
        "get",
        "/api/v1/analytics/performance/",
        None,
        {"agent": 200, "manager": 200},
    ),
    ("read the sources table", "get", "/api/v1/analytics/sources/", None, {"agent": 403, "manager": 200}),
    (
        "read the months heatmap",
        "get",
        "/api/v1/analytics/sources/months/?period=30d",
        None,
        {"agent": 403, "manager": 200},
    ),
    (
        "read the recommendations",
        "get",
        "/api/v1/analytics/sources/recommendations/",
        None,
        {"agent": 403, "manager": 200},
    ),
    ("read the dashboard tiles", "get", "/api/v1/analytics/dashboard/", None, {"agent": 403, "manager": 200}),
    ("list stages", "get", "/api/v1/stages/", None, {"agent": 200, "manager": 200}),
    ("list sources", "get", "/api/v1/sources/", None, {"agent": 200, "manager": 200}),
    ("list users", "get", "/api/v1/users/", None, {"agent": 200, "manager": 200}),
    ("list webhooks", "get", "/api/v1/webhooks/", None, {"agent": 403, "manager": 200}),
    ("register a webhook", "post", "/api/v1/webhooks/", "hook", {"agent": 403, "manager": 201}),
    ("read a webhook", "get", "/api/v1/webhooks/{endpoint.pk}/", None, {"agent": 403, "manager": 200}),
    (
        "read deliveries",
        "get",
        "/api/v1/webhooks/{endpoint.pk}/deliveries/",
        None,
        {"agent": 403, "manager": 200},
    ),
    (
        "send a test event",
        "post",
        "/api/v1/webhooks/{endpoint.pk}/test/",
        None,
        {"agent": 403, "manager": 202},
    ),
    ("delete a webhook", "delete", "/api/v1/webhooks/{endpoint.pk}/", None, {"agent": 403, "manager": 204}),
]


def body_for(spec, things):
    named = {
        "give": lambda: {"name": "Zoe", "owner": things["bob_user"].pk},
        "edit bob": lambda: {"company": "Globex", "version": things["bob"].version},
        "edit free": lambda: {"company": "Globex", "version": things["free"].version},
        "move bob": lambda: move_body(things["bob"]),
        "move own": lambda: move_body(things["own"]),
        "hook": lambda: {"url": "http://127.0.0.1:9/other", "events": ["lead.won"]},
        "due": lambda: {"due_at": "2099-01-05T10:00", "note": "Call about the quote"},
    }
    return named[spec]() if isinstance(spec, str) else spec


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "method", "path", "body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_resource_answers_each_kind_of_caller_as_the_pages_would(
    as_actor, things, actor, name, method, path, body, expected
):
    client = as_actor(actor)
    url = path.format(**things)
    data = body_for(body, things)
    response = (
        getattr(client, method)(url, data, format="json")
        if data is not None
        else getattr(client, method)(url)
    )
    assert response.status_code == {**UNAUTHENTICATED, **expected}[actor], response.content[:200]
    assert response.status_code == 204 or response["Content-Type"].startswith("application/json")
    if response.status_code in {401, 403}:
        assert response.json()["detail"]


def test_a_refused_snooze_or_follow_up_changes_nothing(as_actor, things):
    agent, bob_lead, follow_up = as_actor("agent"), things["bob"], things["bob_follow_up"]
    agent.post(f"/api/v1/leads/{bob_lead.pk}/snooze/", {"preset": "1h"}, format="json")
    agent.post(f"/api/v1/follow-ups/{follow_up.pk}/cancel/")
    bob_lead.refresh_from_db()
    follow_up.refresh_from_db()
    assert (bob_lead.snoozed_until, follow_up.state) == (None, "open")


def test_a_refused_write_changes_nothing(as_actor, things):
    bob_lead = things["bob"]
    version = bob_lead.version
    as_actor("agent").post(f"/api/v1/leads/{bob_lead.pk}/move/", move_body(bob_lead), format="json")
    bob_lead.refresh_from_db()
    assert (bob_lead.stage.slug, bob_lead.version) == ("new", version)
