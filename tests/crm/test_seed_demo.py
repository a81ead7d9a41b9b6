"""seed_demo: `make run` relies on it to give a fresh checkout a team, a pipeline and leads, exactly once."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from crm.management.commands.seed_demo import win_chance
from crm.models import AGENTS_GROUP, MANAGERS_GROUP, Lead, Stage
from tests.factories import LeadFactory, StageFactory

User = get_user_model()


def seed(*args, **options) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, **options)
    return out.getvalue()


def test_seed_demo_makes_the_demo_team_with_their_roles(db):
    seed("--leads", "4")
    assert sorted(User.objects.values_list("username", flat=True)) == ["alice", "bob", "carol", "manager"]
    assert list(User.objects.filter(groups__name=MANAGERS_GROUP).values_list("username", flat=True)) == [
        "manager"
    ]
    assert User.objects.filter(groups__name=AGENTS_GROUP).count() == 3


def test_seed_demo_makes_the_pipeline_stages_in_order(db):
    seed("--leads", "4")
    stages = list(Stage.objects.values_list("slug", "kind"))
    assert [slug for slug, _ in stages] == [
        "new",
        "contacted",
        "qualified",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert [kind for _, kind in stages][-2:] == ["won", "lost"]


def test_seed_demo_makes_the_number_of_leads_asked_for_with_history(db):
    seed("--leads", "12")
    assert Lead.objects.count() == 12
    created = Lead.history.filter(history_change_reason="created")
    assert sorted(created.values_list("id", flat=True)) == sorted(Lead.objects.values_list("pk", flat=True))


def test_seed_demo_keeps_each_column_in_a_strict_order(db):
    seed("--leads", "30")
    for stage in Stage.objects.all():
        keys = list(stage.leads.order_by("position").values_list("position", flat=True))
        assert len(keys) == len(set(keys)), f"positions tie in {stage.slug}"


def test_seed_demo_if_empty_leaves_an_existing_pipeline_alone(db):
    seed("--leads", "5")
    leads = set(Lead.objects.values_list("pk", flat=True))
    assert "demo data not loaded" in seed("--leads", "5", "--if-empty")
    assert set(Lead.objects.values_list("pk", flat=True)) == leads


def test_seed_demo_if_empty_loads_an_empty_database(db):
    seed("--leads", "5", "--if-empty")
    assert Lead.objects.count() == 5


def test_seed_demo_if_empty_respects_leads_made_by_hand(db):
    LeadFactory(stage=StageFactory(slug="inbox"))
    seed("--leads", "5", "--if-empty")
    assert (Lead.objects.count(), User.objects.count()) == (1, 0)


def test_seeding_twice_adds_leads_but_reuses_the_team_and_stages(db):
    seed("--leads", "3")
    seed("--leads", "3", "--seed", "8")
    assert (User.objects.count(), Stage.objects.count(), Lead.objects.count()) == (4, 7, 6)


def test_the_demo_password_is_demo_in_development(db, settings):
    settings.DEBUG = True
    seed("--leads", "1")
    assert User.objects.get(username="alice").check_password("demo")


def test_outside_development_the_team_gets_generated_passwords(db, settings):
    """A production database seeded by mistake must not open with a password everyone knows."""
    settings.DEBUG = False
    out = seed("--leads", "1")
    alice = User.objects.get(username="alice")
    assert not alice.check_password("demo")
    password = next(line for line in out.splitlines() if line.startswith("alice: password "))
    assert alice.check_password(password.removeprefix("alice: password "))


@pytest.mark.parametrize("username", ["alice", "bob", "carol"])
def test_the_demo_agents_are_not_staff(db, username):
    seed("--leads", "1")
    assert not User.objects.get(username=username).is_staff


def test_seed_demo_gives_every_user_an_email_address_for_reminders(db):
    seed("--leads", "4")
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "manager@example.com",
    ]


def test_seed_demo_shows_an_overdue_a_due_today_and_a_later_follow_up_and_a_snoozed_lead(db):
    from django.utils import timezone

    from crm.models import FollowUp

    seed("--leads", "60")
    now = timezone.now()
    alice = User.objects.get(username="alice")
    mine = FollowUp.objects.filter(owner=alice).open()
    assert mine.overdue(now).exists() and mine.due_today(now).filter(due_at__gt=now).exists()
    assert mine.exclude(due_at__lt=now).exclude(pk__in=mine.due_today(now)).exists()
    assert Lead.objects.snoozed(now).filter(owner=alice).count() == 1
    for lead in Lead.objects.exclude(follow_up_at=None):  # kept by the services, never by hand
        assert lead.follow_up_at == lead.follow_ups.open().order_by("due_at").first().due_at


def test_the_demo_odds_follow_source_contact_speed_engagement_and_deal_size():
    """The demo's truth, so its model and reasons make sense: each of these really moves the odds."""
    typical = {"source": "Website", "speed": "this week", "value": 10_000.0, "engagement": 2}
    base = win_chance(**typical)
    assert (
        win_chance(**{**typical, "source": "Referral"})
        > base
        > win_chance(**{**typical, "source": "Cold call"})
    )
    assert win_chance(**{**typical, "speed": "same day"}) > base > win_chance(**{**typical, "speed": "never"})
    assert win_chance(**{**typical, "engagement": 3}) > base > win_chance(**{**typical, "engagement": 0})
    assert win_chance(**{**typical, "value": 3_000.0}) > base > win_chance(**{**typical, "value": 40_000.0})


def test_the_demo_contacts_some_leads_fast_and_leaves_some_uncontacted(db):
    seed("--leads", "40")
    counts = list(Lead.objects.values_list("interaction_count", flat=True))
    assert 0 in counts and any(counts)
    assert len(set(Lead.objects.values_list("source__name", flat=True))) > 3
