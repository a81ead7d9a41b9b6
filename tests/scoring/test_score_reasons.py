"""Score reasons as the lead page shows them: grouped, material, and no unexplained contradiction."""

import math
from datetime import timedelta

from django.utils import timezone

from crm import score_reasons
from crm.models import Lead
from ml.scoring import Factor
from tests.factories import InteractionFactory, LeadFactory

NEVER = math.nan


def closed(stages, won: bool, **fields) -> Lead:
    now = timezone.now()
    stage = stages["won" if won else "lost"]
    return LeadFactory(stage=stage, created_at=now - timedelta(days=10), closed_at=now, **fields)


def titles(groups) -> list[str]:
    return [group.title for group in groups]


def texts(groups) -> list[str]:
    return [reason.text for group in groups for reason in group.reasons]


def test_reasons_are_grouped_as_salespeople_think_in_a_fixed_order(db):
    groups = score_reasons.group(
        [
            Factor("source", "Referral", "Source: Referral", 6.0),
            Factor("value", 40000.0, "Deal value 40,000", -4.0),
            Factor("n_meeting", 2.0, "2 meetings", 9.0),
            Factor("days_since_last_interaction", 1.0, "Last contact 1 day ago", 3.0),
            Factor("attr_industry", "retail", "industry = retail", 2.5),
        ]
    )
    assert titles(groups) == ["Recent contact", "Conversations", "Deal size", "Source", "Other details"]
    assert texts(groups) == [
        "Last contact 1 day ago",
        "2 meetings",
        "Deal worth 40,000",
        "Leads from Referral",
        "industry: retail",
    ]


def test_effects_below_the_threshold_are_not_reasons(db):
    small = score_reasons.MATERIAL_POINTS - 0.1
    groups = score_reasons.group(
        [Factor("priority", 3.0, "Priority: high", small), Factor("engagement_level", 3.0, "x", 12.0)]
    )
    assert texts(groups) == ["High engagement"]


def test_a_contradiction_without_the_teams_evidence_is_left_out(stages):
    # Nothing closed yet: nothing to say why "Never contacted" would raise a score.
    groups = score_reasons.group([Factor("days_since_last_interaction", NEVER, "Never contacted", 5.0)])
    assert groups == []


def test_a_contradiction_comes_with_the_teams_evidence_for_it(stages):
    for won in [True] * 6 + [False] * 2:  # never contacted, and mostly won
        closed(stages, won)
    for won in [True] * 2 + [False] * 6:  # contacted before closing, and mostly lost
        lead = closed(stages, won)
        InteractionFactory(lead=lead, occurred_at=lead.closed_at - timedelta(days=2))
    (group,) = score_reasons.group([Factor("days_since_last_interaction", NEVER, "Never contacted", 5.0)])
    (reason,) = group.reasons
    assert (group.title, reason.text, reason.raises) == ("Recent contact", "Never contacted", True)
    assert reason.why == (
        "In this team's history, 6 of 8 closed leads never contacted were won (75%, against 50% overall)."
    )


def test_evidence_against_the_surprise_does_not_excuse_it(stages):
    for won in [True] * 2 + [False] * 6:  # high priority leads mostly lost...
        closed(stages, won, priority=Lead.Priority.HIGH)
    for won in [True] * 6 + [False] * 2:
        closed(stages, won, priority=Lead.Priority.NORMAL)
    lowering = Factor("priority", 3.0, "Priority: high", -4.0)
    raising = Factor("priority", 3.0, "Priority: high", 4.0)
    # ...so "High priority" lowering the score is explained; raising it is what it sounds like.
    assert score_reasons.group([lowering])[0].reasons[0].why.startswith("In this team's history, 2 of 8")
    assert score_reasons.group([raising])[0].reasons[0].why == ""


def test_what_sounds_good_and_bad():
    assert score_reasons.sounds("days_since_last_interaction", NEVER) == -1
    assert score_reasons.sounds("days_since_last_interaction", 2.0) == 1
    assert score_reasons.sounds("n_meeting", 0.0) == -1
    assert score_reasons.sounds("engagement_level", 3.0) == 1
    assert score_reasons.sounds("value", 90000.0) == 0


def test_the_lead_page_shows_the_grouped_reasons(client, stages, alice):
    lead = LeadFactory(stage=stages["new"], owner=alice, engagement_level=3, lead_score=60)
    InteractionFactory(lead=lead, kind="meeting")
    client.force_login(alice)
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert '<section id="score-reasons" class="score-reasons"><h2>Why 60?</h2>' in html
    assert "<h3>Engagement</h3>" in html and "High engagement: <strong>raises it 30 points</strong>" in html
    assert "<h3>Conversations</h3>" in html
