"""How fast the board opens with 10,000 open leads, and in how many queries. Prints numbers, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipeline_bench .venv/bin/python bench/board.py
    .venv/bin/python bench/board.py --sqlite        # the same on a SQLite file in var/

The script replaces every lead in the database it is pointed at (never point it at real data). It times
GET /leads/kanban/ through Django's test client (middleware, session, query, template: the server's whole
share of a page load), after a warm-up, with DEBUG off as in production. Then it splits one request's time
into SQL and the rest (rendering) and shows the query count with 100 leads is the same as with 10,000.
"""

import argparse
import io
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def setup_django(sqlite: bool) -> None:
    if sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench-board.sqlite3'}"
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client speaks plain HTTP
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def fill_board(count: int, seed: int = 7) -> None:
    """`count` open leads spread evenly over the open stages, keys STEP apart; bulk, without events."""
    from django.db import connection
    from django.utils import timezone

    from crm import positions
    from crm.management.commands.seed_demo import COMPANIES, FIRST, LAST, SOURCES
    from crm.management.commands.seed_demo import Command as SeedDemo
    from crm.models import Lead, LeadSource, Stage

    rng = random.Random(seed)
    seed_demo = SeedDemo(stdout=io.StringIO())  # with DEBUG off it prints generated passwords
    users = seed_demo.make_team()
    open_stages = [s for s in seed_demo.make_stages().values() if s.kind == Stage.Kind.OPEN]
    sources = [LeadSource.objects.get_or_create(name=name)[0] for name in SOURCES]
    Lead.history.model.objects.all().delete()
    Lead.objects.all().delete()
    now = timezone.now()
    leads = []
    for i in range(count):
        stage = open_stages[i % len(open_stages)]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        leads.append(
            Lead(
                name=f"{first} {last}",
                company=rng.choice(COMPANIES),
                email=f"lead{i}@example.com",
                stage=stage,
                position=(i // len(open_stages)) * positions.STEP,
                owner=rng.choice([*users[1:], None]),
                source=rng.choice(sources),
                priority=rng.randint(1, 4),
                expected_value=Decimal(rng.randrange(500, 60000, 250)),
                lead_score=rng.choice([None, rng.randint(0, 100)]),
                score_source=rng.choice(["", "heuristic", "model"]),
                follow_up_at=now + rng.choice([-1, 1]) * timezone.timedelta(days=rng.randint(1, 9)),
                last_interaction_kind=rng.choice(["call", "email", "meeting"]),
                last_interaction_at=now - timezone.timedelta(hours=rng.randint(1, 500)),
                interaction_count=rng.randint(0, 5),
            )
        )
    Lead.objects.bulk_create(leads, batch_size=2000)
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have by the time anyone looks
        cursor.execute("VACUUM ANALYZE crm_lead" if connection.vendor == "postgresql" else "ANALYZE")


def measure(requests: int, warmup: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="alice"))
    for _ in range(warmup):
        assert client.get("/leads/kanban/").status_code == 200
    times, cpu = [], []
    for _ in range(requests):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get("/leads/kanban/")
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200
    sql_ms, total_ms = [], []
    for _ in range(5):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            client.get("/leads/kanban/")
            total_ms.append((time.perf_counter() - start) * 1000)
        sql_ms.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    return {
        "p50": percentile(times, 50),
        "p95": percentile(times, 95),
        "cpu": statistics.median(cpu),
        "queries": len(captured.captured_queries),
        "sql": statistics.median(sql_ms),
        "total_captured": statistics.median(total_ms),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true", help="use var/bench-board.sqlite3, not DATABASE_URL")
    args = parser.parse_args()
    setup_django(args.sqlite)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")
    columns = ["open leads", "p50 ms", "p95 ms", "CPU ms", "queries", "SQL ms", "other ms", "KiB"]
    print(" ".join(f"{c:>10}" for c in columns))
    for count in (args.leads, 100):
        fill_board(count)
        r = measure(args.requests, args.warmup)
        other = r["total_captured"] - r["sql"]
        row = [count, r["p50"], r["p95"], r["cpu"], r["queries"], r["sql"], other, r["bytes"] // 1024]
        print(" ".join(f"{v:>10.1f}" if isinstance(v, float) else f"{v:>10}" for v in row))
    print(
        f"{args.requests} timed requests after {args.warmup} warm-up. CPU: median CPU time of this process"
        " per request (moves less than wall time on a busy machine). SQL / other: median of 5 requests with"
        " their queries captured (other = everything but SQL: ORM, template, middleware)."
    )


if __name__ == "__main__":
    main()
