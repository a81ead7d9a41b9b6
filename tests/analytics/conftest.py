"""A small team whose every figure was worked out by hand (see the table in `team`)."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm import services
from crm.models import Interaction, Lead, local_day
from tests.factories import LeadFactory, SourceFactory


def make_lead(name, stage, *, created, owner=None, source=None, contacts=(), closed=None, by=None, **fields):
    """A lead created at `created`, with an interaction `contacts` hours after each (logged through the
    service that keeps the lead's first contact, by the owner or `by`), closed at `closed`."""
    lead = LeadFactory(name=name, stage=stage, owner=owner, source=source, closed_at=closed, **fields)
    Lead.objects.filter(pk=lead.pk).update(created_at=created)
    for hours in contacts:
        when = created + timedelta(hours=hours)
        services.log_interaction(lead.pk, actor=owner or by, kind=Interaction.Kind.CALL, occurred_at=when)
    lead.refresh_from_db()
    return lead


@dataclass
class Team:
    now: object
    leads: dict
    referral: object
    cold_call: object


@pytest.fixture
def team(stages, alice, bob, manager, source) -> Team:
    """
    lead  owner  source     stage      created  first contacts (h)  closed    score  value  follow-up/snooze
    A1    alice  Referral   won        -10d     2, 5                -4d
    A2    alice  Referral   won        -5d      4                   -1d
    A3    alice  Cold call  lost       -3d      6                   -2d
    A4    alice  Cold call  new        -2d      -                             90     1000   follow-up -1h
    B1    bob    Referral   new        -1d      1, 3                          50     500
    B2    bob    -          contacted  -20d     3                             70     250    wakes later today
    B3    bob    Cold call  lost       -40d     -                   -35d
    U1    -      -          new        -1d      -                                           wakes tomorrow
    H     -      -          contacted  -9d      24                            85

    Last 30 days: alice assigned 4, contacted 3, won 2, lost 1, first contact 2/4/6 h (median 4),
    4 interactions; bob assigned 2, contacted 2, no closed, first contact 1/3 h (median 2), 3 interactions.
    Last 90 days adds B3 to bob: assigned 3, lost 1, 3 interactions.
    """
    now = timezone.now()
    day = timedelta(days=1)
    referral, cold_call = source, SourceFactory(name="Cold call")
    _, day_end = local_day(now)
    s = stages
    # fmt: off
    leads = {
        "A1": make_lead("A1", s["won"], created=now - 10 * day, owner=alice, source=referral, contacts=(2, 5),
                        closed=now - 4 * day),
        "A2": make_lead("A2", s["won"], created=now - 5 * day, owner=alice, source=referral, contacts=(4,),
                        closed=now - 1 * day),
        "A3": make_lead("A3", s["lost"], created=now - 3 * day, owner=alice, source=cold_call, contacts=(6,),
                        closed=now - 2 * day),
        "A4": make_lead("A4", s["new"], created=now - 2 * day, owner=alice, source=cold_call, lead_score=90,
                        expected_value=Decimal(1000), follow_up_at=now - timedelta(hours=1)),
        "B1": make_lead("B1", s["new"], created=now - 1 * day, owner=bob, source=referral, contacts=(1, 3),
                        lead_score=50, expected_value=Decimal(500)),
        "B2": make_lead("B2", s["contacted"], created=now - 20 * day, owner=bob, contacts=(3,), lead_score=70,
                        expected_value=Decimal(250), snoozed_until=now + (day_end - now) / 2),
        "B3": make_lead("B3", s["lost"], created=now - 40 * day, owner=bob, source=cold_call,
                        closed=now - 35 * day),
        "U1": make_lead("U1", s["new"], created=now - 1 * day, snoozed_until=day_end + timedelta(hours=1)),
        "H": make_lead("H", s["contacted"], created=now - 9 * day, contacts=(24,), by=manager, lead_score=85),
    }
    # fmt: on
    return Team(now, leads, referral, cold_call)
