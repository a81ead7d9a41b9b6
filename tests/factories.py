"""Factories for bulk data; tests name the demo users (alice, bob, carol, manager) instead."""

from datetime import UTC

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from crm import importing, positions
from crm.models import AGENTS_GROUP, MANAGERS_GROUP, Interaction, Lead, LeadSource, Stage


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n}")
    first_name = factory.LazyAttribute(lambda u: u.username.capitalize())
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("demo")

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if create:
            user.groups.add(Group.objects.get_or_create(name=extracted or AGENTS_GROUP)[0])


def manager_user(username: str = "manager"):
    return UserFactory(username=username, role=MANAGERS_GROUP)


# The demo pipeline, as `seed_demo` makes it (the `stages` fixture): slug, name, kind, WIP limit.
STAGES = [
    ("new", "New", Stage.Kind.OPEN, None),
    ("contacted", "Contacted", Stage.Kind.OPEN, None),
    ("proposal", "Proposal", Stage.Kind.OPEN, 3),
    ("won", "Won", Stage.Kind.WON, None),
    ("lost", "Lost", Stage.Kind.LOST, None),
]


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage
        django_get_or_create = ("slug",)

    name = factory.LazyAttribute(lambda s: s.slug.capitalize())
    slug = factory.Sequence(lambda n: f"stage-{n}")
    order = factory.Sequence(int)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadSource
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Source {n}")


class LeadFactory(factory.django.DjangoModelFactory):
    """Writes rows directly (fast, no events): for arranging a board, not for testing writes."""

    class Meta:
        model = Lead

    name = factory.Sequence(lambda n: f"Lead {n}")
    company = "Acme"
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    stage = factory.SubFactory(StageFactory)
    position = factory.Sequence(lambda n: n * positions.STEP)


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    lead = factory.SubFactory(LeadFactory)
    kind = Interaction.Kind.CALL
    occurred_at = factory.Faker("date_time_this_year", tzinfo=UTC)


def pipeline_stages() -> dict[str, Stage]:
    """The demo pipeline's stages (STAGES) by slug."""
    return {
        slug: StageFactory(slug=slug, name=name, order=i, kind=kind, wip_limit=wip)
        for i, (slug, name, kind, wip) in enumerate(STAGES)
    }


def import_text(text: str, maps: dict | None = None, ignored: list | None = None, actor=None):
    """Import CSV text as the command does: read, map (automatic + overrides), write."""
    csv_file = importing.read_csv(text.encode())
    mapping = importing.resolve_mapping(csv_file.columns, maps, ignored)
    return importing.import_leads(csv_file, mapping, actor=actor)
