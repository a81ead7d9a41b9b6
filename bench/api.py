"""Requests per second through the REST API: listing leads and moving them. Prints numbers, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipeline_bench .venv/bin/python bench/api.py
    .venv/bin/python bench/api.py --sqlite        # the same on a SQLite file in var/

The script replaces every lead in the database it is pointed at (never point it at real data). It sends
requests with a token through DRF's test client, one after the other in one thread (the server's whole
share of a request: middleware, token lookup, throttle, serializer, service, events), with DEBUG off. A move
goes through `services.move_lead` and its subscribers like a drag: the board frame is rendered and stored
(no socket is listening: the in-memory layer drops it), a rescore is requested, and, in the second row,
a webhook delivery is written and queued (not sent: the broker is the in-process stub). The rate limit is
lifted for the run.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.board import fill_board, percentile, setup_django  # noqa: E402


def timed(requests: int, send) -> dict:
    times = []
    start = time.perf_counter()
    for i in range(requests):
        began = time.perf_counter()
        send(i)
        times.append((time.perf_counter() - began) * 1000)
    elapsed = time.perf_counter() - start
    return {
        "rps": requests / elapsed,
        "p50": percentile(times, 50),
        "p95": percentile(times, 95),
        "mean": statistics.mean(times),
    }


def measure(requests: int, warmup: int, seed: int = 11) -> dict[str, dict]:
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from api.tokens import issue_token
    from crm.models import Lead, Stage

    manager = get_user_model().objects.get(username="manager")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(manager, 'bench')[1]}")
    rng = random.Random(seed)
    # Columns without a WIP limit: a full column would answer 409, which is not what is measured here.
    open_stages = Stage.objects.filter(kind=Stage.Kind.OPEN, wip_limit__isnull=True)
    open_slugs = list(open_stages.values_list("slug", flat=True))
    versions = dict(Lead.objects.values_list("pk", "version"))
    ids = list(Lead.objects.filter(stage__slug__in=open_slugs).values_list("pk", flat=True))
    cursors: list[str] = []

    def list_page(i: int) -> None:
        # Alternate first pages and deeper pages reached by their cursors, as a sync script walks.
        url = cursors[i % len(cursors)] if cursors and i % 2 else "/api/v1/leads/?page_size=50"
        response = client.get(url)
        assert response.status_code == 200, response.content[:200]
        if response.data["next"] and len(cursors) < 50:
            cursors.append(response.data["next"])

    def move(i: int) -> None:
        pk = rng.choice(ids)
        body = {"stage": rng.choice(open_slugs), "index": rng.randint(0, 40), "version": versions[pk]}
        response = client.post(f"/api/v1/leads/{pk}/move/", body, format="json")
        assert response.status_code == 200, response.content[:200]
        versions[pk] = response.data["version"]

    results = {}
    for name, send in (("list", list_page), ("move", move)):
        for i in range(warmup):
            send(i)
        results[name] = timed(requests, send)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sqlite", action="store_true", help="use var/bench-board.sqlite3, not DATABASE_URL")
    args = parser.parse_args()
    os.environ["API_RATE"] = "100000000/min"
    os.environ["WEBHOOK_ALLOW_PRIVATE"] = "1"  # the endpoint is never called: deliveries are only queued
    setup_django(args.sqlite)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from webhooks.models import Delivery, Endpoint
    from webhooks.services import register_endpoint

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")
    fill_board(args.leads)
    Endpoint.objects.all().delete()
    columns = ["webhooks", "request", "req/s", "p50 ms", "p95 ms", "mean ms"]
    print(" ".join(f"{c:>10}" for c in columns))
    for hooks in (0, 1):
        if hooks:
            manager = get_user_model().objects.get(username="manager")
            register_endpoint(actor=manager, url="http://127.0.0.1:9/bench", events=["lead.moved"])
        for name, r in measure(args.requests, args.warmup).items():
            row = [hooks, name, r["rps"], r["p50"], r["p95"], r["mean"]]
            print(" ".join(f"{v:>10.1f}" if isinstance(v, float) else f"{v:>10}" for v in row))
    print(f"{Delivery.objects.count()} webhook deliveries queued during the second run.")
    Endpoint.objects.all().delete()
    print(
        f"{args.leads} open leads; {args.requests} timed requests per row after {args.warmup} warm-up, one"
        " thread, one token (manager). list: 50 leads a page, first pages and cursor pages alternately."
    )


if __name__ == "__main__":
    main()
