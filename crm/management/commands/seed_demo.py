"""A demo team with a few hundred leads and their history, made through the services like real use."""

import contextlib
import math
import random
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db.models import F
from django.utils import timezone

from crm import events, follow_ups, scoring, services
from crm.first_run import DEFAULT_STAGES
from crm.models import AGENTS_GROUP, MANAGERS_GROUP, Delivery, FollowUp, Interaction, Lead, Stage, local_day

FOLLOW_UP_NOTES = ["Call back", "Send pricing", "Check in after the demo", "Ask for references", ""]
SOURCES = ["Website", "Referral", "Trade show", "Cold call", "LinkedIn", "Partner"]
# How each source's leads convert, as log-odds (0 is even odds): referrals and partners are warm.
SOURCE_LOG_ODDS = {
    "Referral": 1.0,
    "Partner": 0.6,
    "Website": -0.2,
    "Trade show": -0.4,
    "LinkedIn": -0.8,
    "Cold call": -1.5,
}
# Days to the first contact (drawn per lead) and what that speed does to the odds.
CONTACT_SPEED = {
    "same day": lambda rng: rng.uniform(0, 1),
    "this week": lambda rng: rng.uniform(1, 7),
    "later": lambda rng: rng.uniform(7, 30),
    "never": None,
}
SPEED_LOG_ODDS = {"same day": 0.9, "this week": 0.2, "later": -0.6, "never": -1.2}
# Deal sizes: many small deals, a few big ones (the typical value of each kind).
DEAL_SIZES = [("small", 3_000), ("medium", 12_000), ("large", 40_000)]
TEAM = [
    ("manager", "Morgan", "Lee", MANAGERS_GROUP),
    ("alice", "Alice", "Martin", AGENTS_GROUP),
    ("bob", "Bob", "Nguyen", AGENTS_GROUP),
    ("carol", "Carol", "Schmidt", AGENTS_GROUP),
]
FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Eva",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Maya",
    "Nils",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
]
LAST = [
    "Silva",
    "Okafor",
    "Dubois",
    "Ivanova",
    "Haddad",
    "Tanaka",
    "Novak",
    "Garcia",
    "Berg",
    "Rossi",
    "Kowalski",
    "Fischer",
    "Moreau",
    "Costa",
    "Lindqvist",
    "Byrne",
]
COMPANIES = [
    "Acme Logistics",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Foods",
    "Wayne Energy",
    "Hooli",
    "Vandelay Imports",
    "Soylent",
    "Cyberdyne",
    "Tyrell Labs",
    "Wonka Retail",
    "Oscorp",
]


class Command(BaseCommand):
    help = "Create the demo team (manager, alice, bob, carol), stages, sources and a few hundred leads."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when leads already exist.")
        parser.add_argument("--leads", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, if_empty=False, leads=300, seed=7, **options):
        if if_empty and Lead.objects.exists():
            self.stdout.write("Leads exist already; demo data not loaded.")
            return
        rng = random.Random(seed)
        users = self.make_team()
        stages = self.make_stages()
        sources = [services.source_named(name) for name in SOURCES]
        agents = users[1:]
        now = timezone.now()
        with events.muted():  # nobody watches a board being seeded; scores are computed once below
            for i in range(leads):
                self.make_lead(rng, i, agents, users[0], stages, sources, now)
            self.make_agenda(agents, now)
        scoring.rescore()
        if scoring.should_train():
            scoring.train()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {leads} leads, users {', '.join(u.username for u in users)}."
            )
        )

    def make_team(self) -> list:
        password = "demo" if settings.DEBUG else None
        users = []
        for username, first, last, group in TEAM:
            user, created = get_user_model().objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
            )
            if not user.email:  # a team seeded before reminders existed
                user.email = f"{username}@example.com"
                user.save(update_fields=["email"])
            if created:
                if password is None:
                    generated = secrets.token_urlsafe(12)
                    self.stdout.write(f"{username}: password {generated}")
                user.set_password(password or generated)
                user.is_staff = group == MANAGERS_GROUP
                user.save()
            user.groups.add(Group.objects.get_or_create(name=group)[0])
            users.append(user)
        return users

    def follow_up(self, lead: Lead, actor, due, note: str, now) -> FollowUp:
        """Schedule as if it had been planned the day before; reminders of the past count as sent."""
        follow_up = follow_ups.schedule_follow_up(
            lead.pk, actor=actor, due_at=due, note=note, now=min(now, due - timedelta(days=1))
        )
        follow_up.deliveries.filter(attempt_at__lt=now).update(
            state=Delivery.State.SENT, sent_at=F("attempt_at")
        )
        return follow_up

    def make_agenda(self, agents: list, now) -> None:
        """Each agent: one overdue follow-up, one due today (its reminder within minutes), one later; and the
        first agent has a snoozed lead, so the demo shows all of it."""
        _, end_of_today = local_day(now)
        for agent in agents:
            leads = list(Lead.objects.open().awake(now).filter(owner=agent).order_by("pk")[:4])
            plan = [
                (now - timedelta(days=1, hours=2), "Call back about the proposal"),
                (min(now + timedelta(minutes=20), end_of_today - timedelta(minutes=1)), "Confirm the demo"),
                (now + timedelta(days=3), "Send the contract draft"),
            ]
            for lead, (due, note) in zip(leads, plan, strict=False):
                self.follow_up(lead, agent, due, note, now)
            if agent == agents[0] and len(leads) == 4:
                until = follow_ups.preset_moment("monday", now, timezone.get_current_timezone())
                follow_ups.snooze_lead(
                    leads[3].pk, actor=agent, until=until, reason="Back from leave on Monday"
                )

    def make_stages(self) -> dict[str, Stage]:
        stages = {}
        for order, (name, slug, kind, wip) in enumerate(DEFAULT_STAGES):
            stages[slug], _ = Stage.objects.get_or_create(
                slug=slug, defaults={"name": name, "order": order, "kind": kind, "wip_limit": wip}
            )
        return stages

    def make_lead(self, rng, i, agents, manager, stages, sources, now) -> None:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        owner = rng.choice([*agents, *agents, None])
        actor = owner or manager
        created = now - timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 23))
        source = rng.choice(sources)
        value = rng.choices(DEAL_SIZES, weights=[5, 3, 1])[0][1] * rng.uniform(0.6, 1.6)
        engagement = rng.randint(0, 3)
        lead = services.create_lead(
            actor=actor,
            created_at=created,
            name=f"{first} {last}",
            company=rng.choice(COMPANIES),
            email=f"{first}.{last}{i}@example.com".lower().replace("é", "e"),
            phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            source=source,
            owner=owner,
            priority=rng.choices([1, 2, 3, 4], weights=[2, 5, 3, 1])[0],
            expected_value=services.money(round(value, -2)),
            engagement_level=engagement,
        )
        # Contact speed: most are called within a day or the week, some later, a few never.
        speed = rng.choices(list(CONTACT_SPEED), weights=[4, 3, 2, 1])[0]
        age_days = max((now - created).total_seconds() / 86400, 0.1)
        draw = CONTACT_SPEED[speed]
        start = None if draw is None else draw(rng)
        if start is not None and start < age_days:
            count = rng.choices([1, 2, 3, 5], weights=[4, 3, 2, 1])[0]
            for n in range(count):
                at = created + timedelta(days=min(start + n * rng.uniform(1, 6), age_days * 0.99))
                services.log_interaction(
                    lead.pk,
                    actor=actor,
                    kind=rng.choices(Interaction.Kind.values, weights=[4, 3, 2, 1])[0],
                    notes=rng.choice(
                        ["Intro call", "Sent pricing", "Demo booked", "Asked for references", ""]
                    ),
                    occurred_at=min(at, now),
                )
        else:
            speed = "never"
        if rng.random() < 0.25:
            due = now + timedelta(days=rng.randint(-5, 10), hours=rng.randint(1, 8))
            self.follow_up(lead, actor, due, rng.choice(FOLLOW_UP_NOTES), now)
        target = rng.choices(list(stages), weights=[4, 4, 3, 3, 2, 4, 4])[0]
        if target in {"won", "lost"}:
            target = (
                "won" if rng.random() < win_chance(source.name, speed, float(value), engagement) else "lost"
            )
        if target != "new":
            lead.refresh_from_db()
            # At a WIP limit the lead stays where it is, as it would for an agent.
            with contextlib.suppress(services.Conflict):
                services.move_lead(
                    lead.pk,
                    actor=actor,
                    stage_slug=target,
                    placement=services.Placement(index=10**6),
                    version=lead.version,
                )


def win_chance(source: str, speed: str, value: float, engagement: int) -> float:
    """The demo's truth, so the model has something real to learn and its reasons make sense: the source sets
    the odds, fast contact and engagement raise them, big deals are harder to win (log-odds add up)."""
    log_odds = (
        SOURCE_LOG_ODDS[source]
        + SPEED_LOG_ODDS[speed]
        + 0.5 * (engagement - 1.5)
        - 0.7 * math.log(value / 10_000)
    )
    return 1 / (1 + math.exp(-log_odds))
