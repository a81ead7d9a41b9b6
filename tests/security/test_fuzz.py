"""Fuzzing what a browser or a script may send: no 5xx, no partial write, the version unchanged on refusal."""

import string
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import FollowUp, Lead
from tests.factories import LeadFactory

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
