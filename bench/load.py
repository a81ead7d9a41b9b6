"""A busy sales floor through nginx: agents moving and editing cards while many sockets watch.

    .venv/bin/python bench/load.py [--duration 60] [--processes 1,2] [--agents 20] [--watchers 200]
                                   [--managers 5] [--rate 20] [--server uvicorn]

Runs against Postgres and Redis (defaults: database `pipeline_load`, a redis-server of its own on port 6391,
channel prefix `load`; override with DATABASE_URL / REDIS_URL / CHANNEL_PREFIX). It replaces the leads in
that database. For each process count: N web processes (the Procfile's command) behind nginx rendered from
deploy/nginx.conf.template; `--agents` agents each own a share of the leads and, paced to `--rate` actions a
second in all, move one (4 in 5) or edit its value (1 in 5), each POST through nginx; `--watchers` board
sockets and `--managers` dashboard sockets are open through nginx all along.

Prints: sustained moves and edits a second, p50/p95/p99 ms from an action's POST to the LAST watcher having
its frame, errors (non-200 answers, dropped sockets, frames missing), CPU seconds and peak memory of each
process, and at the end whether every watcher's view of each changed card equals the database.
"""

import argparse
import asyncio
import os
import random
import re
import secrets
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OWN_REDIS_PORT = 6391
for _name, _value in {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/pipeline_load",
    "REDIS_URL": f"redis://127.0.0.1:{OWN_REDIS_PORT}/0",
    "CHANNEL_PREFIX": "load",
    "SECRET_KEY": "benchmark-only-key-0123456789abcdef",
    "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
    "SECURE_COOKIES": "false",
}.items():
    os.environ.setdefault(_name, _value)

from bench.broadcast import percentile, post, stop_servers, wait_listening  # noqa: E402
from deploy.render_nginx import command as nginx_command  # noqa: E402
from deploy.render_nginx import render as render_nginx  # noqa: E402

CSRF = secrets.token_hex(16)
CARD = re.compile(
    r'<article id="lead-(\d+)"[^>]*?data-version="(\d+)" data-stage="([\w-]+)" data-position="(-?\d+)"', re.S
)
SEQ = re.compile(r'data-seq="(\d+)"')


# --- Data -----------------------------------------------------------------------------------------


def prepare(args) -> dict:
    """Fill the board; make agents (each owning its leads), watchers and managers, with sessions."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from bench.board import fill_board
    from crm.forms import LeadForm
    from crm.models import AGENTS_GROUP, MANAGERS_GROUP, Lead, Stage
    from realtime.models import BoardEvent, Presence

    call_command("migrate", verbosity=0)
    fill_board(args.leads)
    BoardEvent.objects.all().delete()
    Presence.objects.all().delete()
    users = get_user_model().objects

    def team(prefix: str, count: int, group: str) -> list:
        names = [f"{prefix}{i:03}" for i in range(count)]
        existing = set(users.filter(username__in=names).values_list("username", flat=True))
        users.bulk_create([users.model(username=n) for n in names if n not in existing])
        members = list(users.filter(username__in=names).order_by("username"))
        Group.objects.get_or_create(name=group)[0].user_set.add(*members)
        return members

    agents = team("load-agent", args.agents, AGENTS_GROUP)
    watchers = team("load-watcher", args.watchers, AGENTS_GROUP)
    managers = team("load-manager", args.managers, MANAGERS_GROUP)

    def session(user) -> str:
        client = Client()  # one each: logging another user in on the same client ends the first session
        client.force_login(user)
        return client.cookies["sessionid"].value

    # Open stages without a WIP limit: a full column would refuse moves (409), which is not what is measured.
    free = Stage.objects.filter(kind=Stage.Kind.OPEN, wip_limit__isnull=True)
    open_stages = dict(free.values_list("pk", "slug"))
    leads = list(Lead.objects.filter(stage_id__in=open_stages).order_by("pk")[: args.agents * 10])
    plans = []
    for i, agent in enumerate(agents):
        mine = leads[i :: len(agents)]
        Lead.objects.filter(pk__in=[lead.pk for lead in mine]).update(owner=agent)
        forms = {}
        for lead in Lead.objects.filter(pk__in=[lead.pk for lead in mine]):
            initial = LeadForm(instance=lead).initial
            forms[lead.pk] = {
                k: ("" if v is None else getattr(v, "pk", v))
                for k, v in initial.items()
                if k in LeadForm.Meta.fields
            }
            forms[lead.pk]["version"] = lead.version
            forms[lead.pk]["stage"] = open_stages[lead.stage_id]
        plans.append({"session": session(agent), "leads": forms})
    return {
        "agents": plans,
        "watchers": [session(u) for u in watchers],
        "managers": [session(u) for u in managers],
        "stages": sorted(open_stages.values()),
    }


def database_cards(lead_ids) -> dict[int, tuple[int, str]]:
    from django.db import connections

    from crm.models import Lead

    try:
        rows = Lead.objects.filter(pk__in=list(lead_ids)).values_list("pk", "version", "stage__slug")
        return {pk: (version, stage) for pk, version, stage in rows}
    finally:
        connections.close_all()


# --- Processes ------------------------------------------------------------------------------------


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's `web` line, with this port: the benchmark measures what `make prod` runs."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    words = line.split(":", 1)[1].replace("$PORT", str(port)).split()
    return [word for word in words if word != "exec"]


def start_web(ports: list[int]) -> list[subprocess.Popen]:
    env = dict(os.environ, LOG_LEVEL="ERROR", EMBEDDED_WORKER="0")
    return [
        subprocess.Popen(procfile_web_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for port in ports
    ]


def start_nginx(prefix: Path, listen: int, ports: list[int]) -> subprocess.Popen:
    from django.conf import settings

    static = prefix / "static"
    static.mkdir(parents=True, exist_ok=True)
    render_nginx(prefix, f"127.0.0.1:{listen}", [f"127.0.0.1:{p}" for p in ports], Path(settings.STATIC_ROOT))
    return subprocess.Popen(nginx_command(prefix), cwd=ROOT)


def process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid, *[q for kid in kids for q in process_tree(kid)]]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


# --- Clients --------------------------------------------------------------------------------------


class Floor:
    """What the watchers saw: per (lead, version) the arrival times; per watcher, its view and numbers."""

    def __init__(self, watchers: int):
        self.arrivals: dict[tuple[int, int], list[float]] = defaultdict(list)
        self.views: list[dict[int, tuple[int, str]]] = [{} for _ in range(watchers)]
        self.seqs: list[set[int]] = [set() for _ in range(watchers)]
        self.dropped = 0
        self.closed: dict[int, int] = defaultdict(int)  # close code -> sockets the server closed
        self.dashboard_frames = 0
        self.last_message = time.monotonic()

    async def quiet(self, seconds: float = 2, limit: float = 300) -> None:
        """Wait until no socket has had a frame for `seconds`: the arrivals' presence, or the last moves'."""
        deadline = time.monotonic() + limit
        while time.monotonic() - self.last_message < seconds and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    def saw(self, watcher: int, text: str, now: float) -> None:
        seq = SEQ.search(text, 0, 200)
        if seq:
            self.seqs[watcher].add(int(seq.group(1)))
        for lead, version, stage, _ in CARD.findall(text):
            key = (int(lead), int(version))
            view = self.views[watcher]
            if key[1] > view.get(key[0], (0, ""))[0]:
                view[key[0]] = (key[1], stage)
            self.arrivals[key].append(now)


async def watch(floor: Floor, index: int, url: str, origin: str, cookie: str, path: str, ready) -> None:
    from websockets.asyncio.client import connect

    headers = [("Cookie", f"sessionid={cookie}")]
    try:
        async with connect(url + path, origin=origin, additional_headers=headers, max_queue=None) as ws:
            ready.append(ws)
            async for text in ws:
                floor.last_message = time.monotonic()
                if path == "/ws/dashboard/":
                    floor.dashboard_frames += 1
                else:
                    floor.saw(index, text, time.perf_counter())
            floor.closed[ws.close_code] += 1
    except asyncio.CancelledError:
        raise
    except Exception:
        floor.dropped += 1


async def agent(
    plan: dict, stage_slugs: list[str], port: int, pace: float, until: float, log: dict, rng: random.Random
) -> None:
    headers = {
        "Cookie": f"sessionid={plan['session']}; csrftoken={CSRF}",
        "X-CSRFToken": CSRF,
        "X-Requested-With": "fetch",
        "Origin": f"http://127.0.0.1:{port}",
    }
    forms = plan["leads"]
    versions = {pk: form["version"] for pk, form in forms.items()}
    stages = {pk: form.pop("stage") for pk, form in forms.items()}
    next_at = time.perf_counter() + rng.random() * pace
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        next_at += pace
        pk = rng.choice(list(forms))
        edit = rng.random() < 0.2
        if edit:
            form = dict(forms[pk], version=versions[pk], expected_value=rng.randrange(1000, 90000))
            path, body = f"/leads/{pk}/", form
            headers_now = {**headers, "HX-Request": "true"}
        else:
            stage = rng.choice([s for s in stage_slugs if s != stages[pk]])
            path, body = f"/leads/{pk}/move/", {"stage": stage, "index": 0, "version": versions[pk]}
            headers_now = headers
        start = time.perf_counter()
        try:
            status, text = await post(port, path, urlencode(body).encode(), headers_now)
        except OSError as error:
            log["errors"].append(f"{path}: {error}")
            continue
        if status != 200:
            log["errors"].append(f"{path}: {status} {text[:120]!r}")
            continue
        found = CARD.search(text) or re.search(r'name="version" value="(\d+)"', text)
        if found is None:
            log["errors"].append(f"{path}: no version in the answer")
            continue
        version = int(found.group(2) if found.re is CARD else found.group(1))
        versions[pk] = version
        if not edit:
            stages[pk] = body["stage"]
        log["edits" if edit else "moves"].append((pk, version, start))


def cpu_of(trees: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(p) for p in pids) for name, pids in trees.items()}


async def run_floor(args, data: dict, listen: int, trees: dict[str, list[int]]) -> dict:
    """Connect the sockets, let them settle, run the agents; CPU is counted over the agents' run only."""
    url, origin = f"ws://127.0.0.1:{listen}", f"http://127.0.0.1:{listen}"
    floor = Floor(len(data["watchers"]))
    ready: list = []
    tasks = []
    connecting = time.perf_counter()
    for i, cookie in enumerate(data["watchers"]):
        tasks.append(asyncio.create_task(watch(floor, i, url, origin, cookie, "/ws/board/", ready)))
        if i % 20 == 19:
            await asyncio.sleep(0.2)  # arrivals in small waves, as a floor logs in
    for cookie in data["managers"]:
        tasks.append(asyncio.create_task(watch(floor, -1, url, origin, cookie, "/ws/dashboard/", ready)))
    deadline = time.monotonic() + 120
    while len(ready) < len(tasks) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    # Each arrival sends the presence list to every socket (200 x 200 frames): timing starts after that.
    await floor.quiet()
    settled = time.perf_counter()
    log = {"moves": [], "edits": [], "errors": []}
    pace = len(data["agents"]) / args.rate
    start = time.perf_counter()
    cpu_before = cpu_of(trees)
    until = start + args.duration
    rng = random.Random(7)
    await asyncio.gather(
        *(agent(plan, data["stages"], listen, pace, until, log, rng) for plan in data["agents"])
    )
    elapsed = time.perf_counter() - start
    cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_of(trees).items()}
    await floor.quiet()  # the last frames arrive
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "floor": floor,
        "log": log,
        "elapsed": elapsed,
        "connected": len(ready),
        "settle": settled - connecting,
        "cpu": cpu,
    }


def report(args, processes: int, result: dict, usage: list[tuple[str, float, float]], load: tuple) -> None:
    floor, log, elapsed = result["floor"], result["log"], result["elapsed"]
    watchers = len(floor.views)
    latencies, missing = [], 0
    for pk, version, start in log["moves"] + log["edits"]:
        times = floor.arrivals.get((pk, version), [])
        if len(times) < watchers:
            missing += watchers - len(times)
        if times:
            latencies.append((max(times) - start) * 1000)
    changed = {pk for pk, _, _ in log["moves"] + log["edits"]}
    truth = database_cards(changed)
    unequal = sum(1 for view in floor.views for pk in changed if view.get(pk) != truth.get(pk))
    gaps = 0
    for seqs in floor.seqs:
        if seqs:
            gaps += (max(seqs) - min(seqs) + 1) - len(seqs)
    print(
        f"\n== {processes} web process(es) [{args.server}] behind nginx:"
        f" {args.agents} agents at {args.rate}/s"
        f" for {elapsed:.0f} s, {watchers} board watchers, {args.managers} dashboards; load average"
        f" {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} cores"
    )
    closed = dict(floor.closed)
    print(
        f"sockets connected: {result['connected']}/{watchers + args.managers}, dropped: {floor.dropped},"
        f" closed by the server during the run (code: count): {closed or 'none'};"
        f" {result['settle']:.0f} s from the first connection to the last presence frame"
    )
    print(
        f"sustained: {len(log['moves']) / elapsed:.1f} moves/s + {len(log['edits']) / elapsed:.1f} edits/s;"
        f" errors: {len(log['errors'])}" + (f" (first: {log['errors'][0]})" if log["errors"] else "")
    )
    if latencies:
        p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
        print(
            f"POST to the last watcher (ms): p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}"
            f"  max {max(latencies):.0f}"
        )
    print(
        f"frames missing at watchers: {missing}; gaps in the numbers: {gaps};"
        f" dashboard frames: {floor.dashboard_frames}"
    )
    print(
        f"every watcher's view of the {len(changed)} changed cards equals the database: {unequal == 0}"
        f" ({unequal} differ)"
    )
    print(f"{'process':<22} {'CPU s':>7} {'CPU %':>6} {'peak RSS MB':>12}")
    for name, cpu, rss in usage:
        print(f"{name:<22} {cpu:>7.1f} {100 * cpu / elapsed:>6.0f} {rss:>12.0f}")


def own_redis(directory: Path) -> subprocess.Popen | None:
    """A redis-server of the benchmark's own, unless REDIS_URL points elsewhere."""
    if os.environ["REDIS_URL"] != f"redis://127.0.0.1:{OWN_REDIS_PORT}/0":
        return None
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        "redis-server",
        "--port",
        str(OWN_REDIS_PORT),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(directory),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    wait_listening([OWN_REDIS_PORT], [process])
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of activity")
    parser.add_argument("--processes", default="1,2", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--managers", type=int, default=5)
    parser.add_argument("--rate", type=float, default=20, help="actions a second, all agents together")
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8301, help="nginx's; web processes take the next ones")
    args = parser.parse_args()
    args.server = procfile_web_command(0)[0].rsplit("/", 1)[-1]
    work = Path("/tmp") / f"pipeline-load-{os.getpid()}"
    redis = own_redis(work / "redis")
    try:
        data = prepare(args)
        from django.db import connections

        connections.close_all()
        for processes in args.processes:
            ports = [args.port + 1 + i for i in range(processes)]
            web = start_web(ports)
            nginx = start_nginx(work / f"nginx-{processes}", args.port, ports)
            try:
                wait_listening([*ports, args.port], [*web, nginx])
                time.sleep(2)
                named = [(f"web {i + 1}", p.pid) for i, p in enumerate(web)] + [("nginx (all)", nginx.pid)]
                if redis:
                    named.append(("redis-server", redis.pid))
                named.append(("this load generator", os.getpid()))
                trees = {name: process_tree(pid) for name, pid in named}
                load = os.getloadavg()
                result = asyncio.run(run_floor(args, data, args.port, trees))
                usage = [
                    (name, result["cpu"][name], sum(peak_rss_mb(p) for p in pids))
                    for name, pids in trees.items()
                ]
                report(args, processes, result, usage, load)
            finally:
                stop_servers([nginx, *web])
            data = prepare(args)  # the next run starts from the same board
            connections.close_all()
    finally:
        if redis:
            stop_servers([redis])


if __name__ == "__main__":
    main()
