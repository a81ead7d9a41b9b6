"""Reminders at scale: how fast the per-minute jobs find their work among 1,000,000 follow-ups, and how fast
the real send job delivers 10,000 due reminders to a local SMTP sink. Prints numbers, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipeline_bench .venv/bin/python bench/reminders.py
    ... bench/reminders.py --follow-ups 200000 --send 2000      # a quicker run

Postgres only (the 1,000,000 rows are made with generate_series). The script empties the leads, follow-ups
and deliveries of the database it is pointed at (never point it at real data) and migrates it first.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Point DATABASE_URL at a throwaway Postgres database.")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.pop("REDIS_URL", None)  # no live layer needed: the events go nowhere
    import django

    django.setup()


def fill(follow_ups: int, due: int, owners: int = 100, leads: int = 10_000) -> None:
    """`follow_ups` follow-ups over `leads` leads and `owners` agents, one delivery each: nearly all sent,
    `due` pending and due now, as many again pending later. Bulk SQL, no history, no events."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from crm.models import Stage

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE crm_delivery, crm_followup, crm_historicalfollowup, crm_lead CASCADE")
    User = get_user_model()
    User.objects.filter(username__startswith="bench-").delete()
    users = User.objects.bulk_create(
        [User(username=f"bench-{i}", email=f"bench-{i}@example.com") for i in range(owners)]
    )
    stage, _ = Stage.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    owner_ids = [u.pk for u in users]
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO crm_lead (name, company, email, phone, external_id, priority, expected_value,
                   position, version, score_source, engagement_level, interaction_count,
                   last_interaction_kind, attributes, created_at, updated_at, stage_id, owner_id,
                   snooze_reason, snoozed_until)
               SELECT 'Lead ' || g, 'Acme', '', '', '', 2, 0, g * 1024, 1, '', 0, 0, '', '{}', now(), now(),
                   %s, (%s::bigint[])[1 + g %% %s], '',
                   CASE WHEN g %% 100 = 0 THEN now() + (g %% 7 - 3) * interval '1 hour' END
               FROM generate_series(1, %s) g""",
            [stage.pk, owner_ids, owners, leads],
        )
        cursor.execute("SELECT min(id) FROM crm_lead")
        first_lead = cursor.fetchone()[0]
        cursor.execute(
            """INSERT INTO crm_followup (lead_id, owner_id, due_at, note, duration_minutes,
                   remind_minutes_before, state, sequence, created_at)
               SELECT %s + g %% %s, (%s::bigint[])[1 + (g / 10) %% %s],
                   now() + ((g::bigint * 7919) %% 86400 - 43200) * interval '1 minute', 'Call back', 30, 15,
                   CASE WHEN g %% 10 < 7 THEN 'done' ELSE 'open' END, 0, now()
               FROM generate_series(1, %s) g""",
            [first_lead, leads, owner_ids, owners, follow_ups],
        )
        cursor.execute(
            """INSERT INTO crm_delivery (kind, lead_id, follow_up_id, sequence, recipient_id, state,
                   attempt_at, attempts, claim, error, sent_at, created_at)
               SELECT 'reminder', lead_id, id, 0, owner_id, 'sent', due_at - interval '15 minutes', 1, '', '',
                   due_at - interval '15 minutes', now()
               FROM crm_followup"""
        )
        # `due` reminders due now (the minute's work), as many again due later (waiting in the index).
        cursor.execute(
            """WITH picked AS (
                   SELECT id, row_number() OVER () AS n
                   FROM (SELECT id FROM crm_delivery ORDER BY random() LIMIT %s) sample)
               UPDATE crm_delivery d SET state = 'pending', sent_at = NULL, attempts = 0,
                   attempt_at = CASE WHEN picked.n <= %s THEN now() - (picked.n %% 60) * interval '1 second'
                                     ELSE now() + interval '1 day' END
               FROM picked WHERE d.id = picked.id""",
            [2 * due, due],
        )
        cursor.execute("ANALYZE crm_lead; ANALYZE crm_followup; ANALYZE crm_delivery")


def timed(fn, repeat: int = 30) -> tuple[float, float]:
    """(median, worst) milliseconds of `fn` over `repeat` runs after two warm-ups."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def find_work() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from crm import follow_up_queries, reminders
    from crm.models import Delivery, FollowUp, Lead

    now = timezone.now()

    def claim_query():
        # The send job's read, exactly: due rows, locked, skipping others' (rolled back: nothing is claimed).
        with transaction.atomic():
            due = Delivery.objects.due(now).order_by("attempt_at").select_for_update(skip_locked=True)
            list(due.values_list("pk", flat=True)[: reminders.BATCH])
            transaction.set_rollback(True)

    def wake_query():
        list(Lead.objects.due_to_wake(now).order_by("snoozed_until").values_list("pk", flat=True)[:500])

    owner = get_user_model().objects.filter(username="bench-1").get()

    def count_query():
        follow_up_queries.due_count(owner)

    print(f"follow-ups: {FollowUp.objects.count():,}; deliveries: {Delivery.objects.count():,}")
    print(f"pending and due now: {Delivery.objects.due(now).count():,}")
    for name, fn in [
        ("send_reminders finds its batch", claim_query),
        ("wake_snoozed finds due leads", wake_query),
        ("top bar count for one agent", count_query),
    ]:
        median, worst = timed(fn)
        print(f"{name}: median {median:.2f} ms, worst {worst:.2f} ms")
    queries = {
        "send_reminders": Delivery.objects.due(now)
        .order_by("attempt_at")
        .values_list("pk")[: reminders.BATCH],
        "wake_snoozed": Lead.objects.due_to_wake(now).order_by("snoozed_until").values_list("pk")[:500],
        "top bar count": follow_up_queries.needing_attention(owner).values_list("pk"),
    }
    with connection.cursor() as cursor:
        for name, query in queries.items():
            sql, params = query.query.sql_with_params()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [line for (line,) in cursor.fetchall()]
            print(f"{name}: inside Postgres {plan[-1].split(': ')[1]}, plan:")
            for line in plan[:-2]:
                print("   ", line)


def send(expected: int) -> None:
    """The real job against aiosmtpd's discarding sink, in a process of its own (not sharing our GIL)."""
    import socket
    import subprocess

    from django.conf import settings

    from crm import reminders

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # until it listens
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        start = time.perf_counter()
        outcome = reminders.send_due()
        elapsed = time.perf_counter() - start
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    each = elapsed / max(outcome.sent, 1) * 1000
    print(
        f"send_reminders: {outcome.sent:,} of {expected:,} due sent (accepted by the sink), "
        f"{outcome.retried + outcome.failed} failed, in {elapsed:.1f} s: "
        f"{outcome.sent / elapsed:,.0f} emails/s, {each:.2f} ms each"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follow-ups", type=int, default=1_000_000)
    parser.add_argument("--send", type=int, default=10_000, help="reminders due now, all sent by the job")
    parser.add_argument("--reuse", action="store_true", help="measure the rows a previous run left")
    parser.add_argument("--no-send", action="store_true", help="only time finding the work")
    args = parser.parse_args()
    setup_django()
    if not args.reuse:
        start = time.perf_counter()
        fill(args.follow_ups, args.send)
        print(f"filled in {time.perf_counter() - start:.1f} s")
    find_work()
    if not args.no_send:
        send(args.send)


if __name__ == "__main__":
    main()
