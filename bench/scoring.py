"""Rescoring end to end: N open leads (default 100,000) read from the database, scored, changes written.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipeline_bench .venv/bin/python bench/scoring.py [N]
    ... bench/scoring.py --again     # the rescores only, on the leads and model a previous run left

Creates its own leads in the database it is pointed at (it refuses a database that already has leads),
trains a model on 2,000 synthetic closed leads, then times three rescores: the first (every score changes),
a second with nothing changed, and one after 1% of the leads changed. Prints each phase.
"""

import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SECRET_KEY", "benchmark-only-key")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm import events, positions, scoring  # noqa: E402
from crm.models import Interaction, Lead, LeadSource, Stage  # noqa: E402

SOURCES = ["Website", "Referral", "Trade show", "Cold call", "Partner"]


def make_leads(n: int, closed: int) -> None:
    rng = random.Random(1)
    stages = {s.slug: s for s in Stage.objects.all()}
    sources = [LeadSource.objects.get_or_create(name=name)[0] for name in SOURCES]
    now = timezone.now()
    batch = []
    for i in range(n + closed):
        engagement = rng.randint(0, 3)
        if i < closed:
            won = rng.random() < 0.1 + 0.2 * engagement
            stage, closed_at = stages["won" if won else "lost"], now - timedelta(days=rng.randint(1, 90))
        else:
            stage, closed_at = stages[rng.choice(["new", "contacted", "qualified"])], None
        batch.append(
            Lead(
                name=f"Lead {i}",
                stage=stage,
                source=rng.choice(sources),
                position=i * positions.STEP,
                engagement_level=engagement,
                priority=rng.randint(1, 4),
                expected_value=rng.randrange(500, 50000),
                closed_at=closed_at,
                attributes={
                    "industry": rng.choice(["retail", "health", "finance"]),
                    "size": rng.randint(1, 900),
                },
            )
        )
    Lead.objects.bulk_create(batch, batch_size=5000)
    ids = list(Lead.objects.values_list("pk", flat=True))
    interactions = [
        Interaction(
            lead_id=pk,
            kind=rng.choice(Interaction.Kind.values),
            occurred_at=now - timedelta(days=rng.randint(0, 60)),
        )
        for pk in rng.sample(ids, len(ids) // 2)
    ]
    Interaction.objects.bulk_create(interactions, batch_size=5000)


def timed(label: str, fn):
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label:<48} {wall:7.2f} s  (CPU {cpu:.2f} s, load {os.getloadavg()[0]:.1f})", flush=True)
    return result


def main() -> None:
    again = "--again" in sys.argv  # rescore the leads and model a previous run of this script left
    numbers = [a for a in sys.argv[1:] if a != "--again"]
    n = int(numbers[0]) if numbers else 100_000
    call_command("migrate", verbosity=0)
    if Lead.objects.exists() and not again:
        sys.exit("This database has leads already; point DATABASE_URL at an empty benchmark database.")
    settings.MODEL_DIR = Path(settings.VAR_DIR) / "bench-models"
    n = Lead.objects.open().count() if again else n
    print(f"database: {connection.vendor}, open leads: {n:,}, cores: {os.cpu_count()}")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with events.muted():
        if not again:
            call_command("seed_demo", leads=0, verbosity=0)
            timed(f"create {n:,} open + 2,000 closed leads", lambda: make_leads(n, 2000))
            timed("train on the 2,000 closed leads", scoring.train)
        changed = timed("rescore #1 (every score written)", scoring.rescore)
        print(f"  changed: {len(changed):,}")
        changed = timed("rescore #2 (nothing changed)", scoring.rescore)
        print(f"  changed: {len(changed):,}")
        sample = list(Lead.objects.filter(closed_at=None).values_list("pk", flat=True)[: n // 100])
        Lead.objects.filter(pk__in=sample).update(engagement_level=3, priority=4)
        changed = timed("rescore #3 (1% of leads changed)", scoring.rescore)
        print(f"  changed: {len(changed):,}")


if __name__ == "__main__":
    main()
