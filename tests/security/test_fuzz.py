"""Fuzzing what a browser or a script may send: no 5xx, no partial write, the version unchanged on refusal."""

import json
import string
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import FollowUp, Lead
from project.asgi import application
from tests.factories import LeadFactory
from tests.sockets import ORIGIN, socket_headers

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What forms carry: text of any kind (control characters and huge numbers included), numbers as text, nothing.
junk = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.digits + "-+.eE:TZ", max_size=30),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["", "0", "-1", "new", "won", "1h", "tomorrow", "monday", "2020-01-01T00:00", "today"]),
)


def form(*names: str):
    return st.fixed_dictionaries({}, optional={name: junk for name in names})


@pytest.fixture
def browser(alice):
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def alices(stages, alice):
    return LeadFactory(name="Ana Silva", stage=stages["new"], owner=alice)


def snapshot(lead: Lead) -> tuple:
    lead.refresh_from_db()
    return (lead.version, lead.stage_id, lead.position, lead.snoozed_until, lead.follow_up_at, lead.name)


@FUZZ
@given(data=form("stage", "index", "version", "prev", "next"))
def test_the_move_endpoint_never_fails_and_refuses_whole(browser, alices, data):
    before = snapshot(alices)
    response = browser.post(f"/leads/{alices.pk}/move/", data)
    assert response.status_code < 500
    if response.status_code != 200:
        assert snapshot(alices) == before


@FUZZ
@given(
    data=form(
        "name", "email", "phone", "company", "expected_value", "priority", "engagement_level", "version"
    )
)
def test_the_lead_form_never_fails_and_refuses_whole(browser, alices, data):
    before = snapshot(alices)
    response = browser.post(f"/leads/{alices.pk}/", data, HTTP_HX_REQUEST="true")
    assert response.status_code < 500
    if response.status_code != 200:
        assert snapshot(alices) == before


@FUZZ
@given(data=form("until", "preset", "reason"))
def test_the_snooze_endpoint_never_fails_and_refuses_whole(browser, alices, data):
    before = snapshot(alices)
    response = browser.post(f"/leads/{alices.pk}/snooze/", data)
    assert response.status_code < 500
    if response.status_code != 200:
        assert snapshot(alices) == before


@FUZZ
@given(data=form("due_at", "note", "duration_minutes", "remind_minutes_before"))
def test_the_follow_up_endpoints_never_fail_and_refuse_whole(browser, alices, alice, data):
    due = timezone.now() + timedelta(days=1)
    existing = FollowUp.objects.create(lead=alices, owner=alice, due_at=due)
    before, count = snapshot(alices), FollowUp.objects.count()

    created = browser.post(f"/leads/{alices.pk}/follow-ups/", data)
    assert created.status_code < 500
    if created.status_code != 201:
        assert (snapshot(alices), FollowUp.objects.count()) == (before, count)

    edited = browser.post(f"/follow-ups/{existing.pk}/", data)
    assert edited.status_code < 500
    if edited.status_code != 200:
        existing.refresh_from_db()
        assert (existing.due_at, existing.sequence) == (due, 0)


# What a script may send on a board socket: JSON of any shape, near-miss messages, and text that is not JSON.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
socket_messages = st.one_of(
    st.text(min_size=1, max_size=60),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["hello", "ping", "drag", "drop", "filters", "nonsense"])},
        optional={"last_seq": json_values, "lead": json_values, "filters": json_values},
    ).map(json.dumps),
)


@pytest.mark.django_db(transaction=True)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(socket_messages, min_size=1, max_size=8))
def test_board_socket_messages_never_break_the_socket_or_change_a_lead(alice, alices, messages):
    before = snapshot(alices)
    headers = socket_headers(alice, ORIGIN)

    async def talk() -> list[dict]:
        socket = WebsocketCommunicator(application, "/ws/board/", headers=headers)
        accepted, _ = await socket.connect(timeout=5)
        assert accepted
        for text in messages:
            await socket.send_to(text_data=text)
        # The consumer answers within the moment or not at all; any exception in it surfaces here.
        outputs = []
        while not await socket.receive_nothing(timeout=0.3):
            outputs.append(await socket.receive_output(timeout=1))
        await socket.disconnect()
        await get_channel_layer().flush()
        return outputs

    outputs = async_to_sync(talk)()
    assert all(o["type"] == "websocket.send" or o.get("code") == 1008 for o in outputs), outputs
    assert snapshot(alices) == before
