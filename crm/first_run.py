"""What an empty database needs before anyone can work: the two roles and a pipeline to put leads in.

Made once by a migration (0008), so a fresh install can import a CSV and log a manager in straight away;
`seed_demo` builds its demo on top of the same stages. The functions take model classes so the migration
can hand in its historical models.
"""

from django.conf import settings

from crm.models import AGENTS_GROUP, MANAGERS_GROUP

# name, slug, kind, WIP limit: the pipeline a sales team starts from, edited afterwards in Settings > Stages.
DEFAULT_STAGES = [
    ("New", "new", "open", None),
    ("Contacted", "contacted", "open", None),
    ("Qualified", "qualified", "open", None),
    ("Proposal", "proposal", "open", 40),
    ("Negotiation", "negotiation", "open", 25),
    ("Won", "won", "won", None),
    ("Lost", "lost", "lost", None),
]
ROLES = (MANAGERS_GROUP, AGENTS_GROUP)


def create_roles(group_model) -> None:
    for name in ROLES:
        group_model.objects.get_or_create(name=name)


def create_default_stages(stage_model) -> int:
    """The default pipeline, only where there is none yet (an existing pipeline is the team's own)."""
    if not settings.FIRST_RUN_STAGES or stage_model.objects.exists():
        return 0
    stage_model.objects.bulk_create(
        stage_model(name=name, slug=slug, order=order, kind=kind, wip_limit=wip)
        for order, (name, slug, kind, wip) in enumerate(DEFAULT_STAGES)
    )
    return len(DEFAULT_STAGES)
