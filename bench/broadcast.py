"""How long a move takes to reach every agent's board, beside the floor a bare Channels app sets.

    .venv/bin/python bench/broadcast.py [--agents 1,50,200] [--moves 30] [--processes 1] [--floor channels]

--floor channels measures beside ../shared/bench/channels_floor.py (a minimal Django Channels app: an async
view doing one group_send, a consumer forwarding it), run from where it is on the same Redis pub/sub layer;
the default, --floor bare, beside bench/bare_app.py. Each app's arrivals are timed on their own (50 sockets
at a time), and sockets refused at the handshake or closed by the end are counted.

Runs against Postgres and Redis (defaults: database `pipeline_bench`, Redis db 9, channel prefix `bench`;
override with DATABASE_URL / REDIS_URL / CHANNEL_PREFIX). It replaces the leads in that database.

It starts daphne twice on 127.0.0.1 (ports 8201+ for the product, 8211+ for bench/bare_app.py), logs N agents
into both (session cookie + Origin, as a browser), then for each move: POSTs /leads/<id>/move/ to the product
and times until the LAST agent has the card's new version; then POSTs /send/ to the bare app (one
group_send of a payload the size of a board frame) and times until the last agent has it. The two alternate
move by move, so a busy machine slows both alike. Before that, one move is taken apart in this process
(Django's test client, same database and layer) to show where the product's own time goes.
"""

import argparse
import asyncio
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/pipeline_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "CHANNEL_PREFIX": "bench",
    "SECRET_KEY": "benchmark-only-key-0123456789abcdef",
    # Plain HTTP on 127.0.0.1, as a proxy would hand it over: no redirect to https, cookies sent over http.
    "SECURE_SSL_REDIRECT": "false",
    "SECURE_COOKIES": "false",
}
for _name, _value in DEFAULT_ENV.items():
    os.environ.setdefault(_name, _value)
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmark-only")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,testserver")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

# The minimal Channels app the lead keeps beside the repository (run from there, not copied in).
CHANNELS_FLOOR_DIR = ROOT.parent / "shared" / "bench"
CSRF = secrets.token_hex(16)  # 32 characters: Django accepts an unmasked secret equal to the cookie
VERSION = re.compile(r'data-version="(\d+)"')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- Data -----------------------------------------------------------------------------------------


def prepare(leads: int, agents: int) -> dict:
    """Migrate, fill the board, make the agents and a manager with sessions; return what the run needs."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from bench.board import fill_board
    from crm.models import AGENTS_GROUP, Lead
    from realtime.models import BoardEvent, Presence

    call_command("migrate", verbosity=0)
    fill_board(leads)
    BoardEvent.objects.all().delete()
    Presence.objects.all().delete()
    group = Group.objects.get_or_create(name=AGENTS_GROUP)[0]
    users = get_user_model().objects
    existing = set(users.filter(username__startswith="bench-agent").values_list("username", flat=True))
    names = [f"bench-agent{i:03}" for i in range(agents)]
    users.bulk_create([users.model(username=n) for n in names if n not in existing])
    agent_users = list(users.filter(username__in=names).order_by("username"))
    group.user_set.add(*agent_users)

    def session(user) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    lead = Lead.objects.filter(stage__slug="new").order_by("position").first()
    return {
        "agent_sessions": [session(u) for u in agent_users],
        "manager_session": session(users.get(username="manager")),
        "lead_id": lead.pk,
        "version": lead.version,
    }


# --- Where one move's time goes (in this process) -------------------------------------------------


@contextmanager
def timing(module, name: str, totals: dict):
    original = getattr(module, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name].append((time.perf_counter() - start) * 1000)

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, original)


def breakdown(moves: int, lead_id: int) -> list[tuple[str, float]]:
    """Median ms of each part of a move's POST, timed by wrapping the product's functions in this process.

    The view runs in a worker thread under a running event loop, as daphne runs it, so the broadcast's
    async_to_sync hops onto that loop and reuses its Redis connection instead of opening one per send.
    """
    from asgiref.sync import sync_to_async
    from django.db import connections

    def in_thread():
        try:
            return _breakdown(moves, lead_id)
        finally:
            connections.close_all()

    async def under_loop():
        return await sync_to_async(in_thread)()

    return asyncio.run(under_loop())


def _breakdown(moves: int, lead_id: int) -> list[tuple[str, float]]:
    from contextlib import ExitStack

    from django.contrib.auth import get_user_model
    from django.test import Client

    from crm import services, views
    from crm.models import Lead
    from realtime import broadcast

    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    totals: dict[str, list[float]] = defaultdict(list)
    stages = ["contacted", "new"]
    with ExitStack() as stack:
        for module, name in [
            (services, "move_lead"),
            (broadcast, "send_cards"),
            (broadcast, "render_to_string"),
            (broadcast, "send_board_frame"),
            (broadcast, "_group_send"),
            (views, "card_response"),
        ]:
            stack.enter_context(timing(module, name, totals))
        for i in range(moves + 3):
            version = Lead.objects.get(pk=lead_id).version
            start = time.perf_counter()
            response = client.post(
                f"/leads/{lead_id}/move/", {"stage": stages[i % 2], "index": 0, "version": version}
            )
            assert response.status_code == 200, response.status_code
            totals["POST"].append((time.perf_counter() - start) * 1000)
            if i < 3:  # warm-up
                totals.clear()
    m = {name: statistics.median(values) for name, values in totals.items()}
    group_send, frame, send_cards = m["_group_send"], m["send_board_frame"], m["send_cards"]
    return [
        ("whole POST, in-process (test client, no server)", m["POST"]),
        ("  move_lead's transaction (lock, place, save, history)", m["move_lead"] - send_cards),
        ("  on commit: card + column-header queries", send_cards - m["render_to_string"] - frame),
        ("  on commit: render the frame", m["render_to_string"]),
        ("  on commit: BoardEvent insert (numbering)", frame - group_send),
        ("  on commit: group_send (async_to_sync + PUBLISH)", group_send),
        ("  response: render the mover's card", m["card_response"]),
        ("  the rest (middleware, session, user, form)", m["POST"] - m["move_lead"] - m["card_response"]),
    ]


# --- Servers --------------------------------------------------------------------------------------


def server_command(server: str, port: int, app: str) -> list[str]:
    """daphne, or uvicorn with its `websockets` implementation (httptools, uvloop), as in the Procfile."""
    if server == "uvicorn":
        uvicorn = Path(sys.executable).with_name("uvicorn")
        options = ["--ws", "websockets", "--http", "httptools", "--loop", "uvloop", "--lifespan", "off"]
        options += ["--log-level", "error"]
        return [str(uvicorn), "--host", "127.0.0.1", "--port", str(port), *options, app]
    daphne = Path(sys.executable).with_name("daphne")
    return [str(daphne), "-b", "127.0.0.1", "-p", str(port), "--verbosity", "0", app]


@dataclass(frozen=True)
class Floor:
    """The app a move is measured beside: how to start it, where its sockets go, how to make it send."""

    label: str
    app: str
    socket_path: str
    env: dict
    pythonpath: str = ""

    def send(self, port: int, n: int):
        if self.label == "bare app":
            return post(port, f"/send/?n={n}")
        return post(port, "/move", floor_payload(n))


FLOORS = {
    # A raw-ASGI-like Channels app built on the product's settings (bench/bare_app.py).
    "bare": Floor("bare app", "bench.bare_app:application", "/ws/bare/", {}),
    # The fairer floor: a minimal Django Channels app, async view + forwarding consumer, same Redis layer.
    "channels": Floor(
        "channels app",
        "channels_floor:application",
        "/ws/board",
        {"FLOOR_LAYER": "pubsub"},
        str(CHANNELS_FLOOR_DIR),
    ),
}


def floor_payload(n: int) -> bytes:
    """What the Channels floor sends on: as big as a move's frame (1.7 kB), marked with its number."""
    return (f'<div data-n="{n}">' + "x" * 1650 + "</div>").encode()


def start_servers(
    app: str, ports: list[int], server: str = "daphne", extra_env: dict | None = None, pythonpath: str = ""
) -> list:
    # LOG_LEVEL: the 4xx of the floor measurements are expected
    env = dict(os.environ, LOG_LEVEL="ERROR", **(extra_env or {}))
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH", "")]))
    return [
        subprocess.Popen(
            server_command(server, port, app),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]


def wait_listening(ports: list[int], processes: list[subprocess.Popen], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    for port in ports:
        while True:
            if any(p.poll() is not None for p in processes):
                raise SystemExit("a daphne process exited at start; see its output above")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {seconds}s")
            time.sleep(0.2)


def stop_servers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Clients --------------------------------------------------------------------------------------


class Round:
    """One broadcast being timed: which frame to wait for, and when each agent got it."""

    def __init__(self, markers: tuple[str, ...], agents: int):
        self.markers = markers
        self.arrivals: list[float] = []
        self.agents = agents
        self.done = asyncio.Event()

    def offer(self, text: str) -> bool:
        if all(marker in text for marker in self.markers):
            self.arrivals.append(time.perf_counter())
            if len(self.arrivals) == self.agents:
                self.done.set()
            return True
        return False


class Audience:
    """Many sockets on one app; each reader reports the frame of the current round once."""

    def __init__(self, name: str):
        self.name = name
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []
        self.round: Round | None = None
        self.tried = 0
        self.refused: list[str] = []
        self.last_message = time.monotonic()

    async def add(self, url: str, origin: str, cookie: str | None) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake

        headers = [("Cookie", f"sessionid={cookie}")] if cookie else []
        self.tried += 1
        try:
            ws = await connect(url, origin=origin, additional_headers=headers, proxy=None, max_queue=None)
        except (InvalidHandshake, TimeoutError, OSError) as error:
            self.refused.append(f"{type(error).__name__}: {error}")  # reported, never retried
            return
        self.sockets.append(ws)
        self.tasks.append(asyncio.create_task(self.read(ws)))

    async def read(self, ws) -> None:
        seen: Round | None = None
        async for text in ws:
            self.last_message = time.monotonic()
            current = self.round
            if current is not None and current is not seen and current.offer(text):
                seen = current

    async def quiet(self, seconds: float = 1.5, limit: float = 120) -> None:
        """Wait until arrivals and their presence frames have died down."""
        deadline = time.monotonic() + limit
        while time.monotonic() - self.last_message < seconds and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


async def post(port: int, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, str]:
    """A bare HTTP/1.1 POST on a fresh connection (no client library's overhead in the timing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), content.decode("utf-8", "replace")


async def timed_round(audience: Audience, markers: tuple[str, ...], send) -> tuple[float, float, str]:
    """(ms to the last agent, ms to the POST's answer, the answer's body)."""
    audience.round = current = Round(markers, len(audience.sockets))
    start = time.perf_counter()
    status, body = await send()
    answered = time.perf_counter()
    try:
        await asyncio.wait_for(current.done.wait(), timeout=30)
    except TimeoutError:
        raise SystemExit(f"{audience.name}: {len(current.arrivals)}/{current.agents} agents got it") from None
    finally:
        audience.round = None
    if status != 200:
        raise SystemExit(f"{audience.name}: POST answered {status}: {body[:200]}")
    return (max(current.arrivals) - start) * 1000, (answered - start) * 1000, body


async def run(args, data: dict, product_ports: list[int], bare_ports: list[int]) -> list[dict]:
    floor = FLOORS[args.floor]
    product, bare = Audience("product"), Audience(floor.label)
    lead_id, version = data["lead_id"], data["version"]
    mover = {
        "Cookie": f"sessionid={data['manager_session']}; csrftoken={CSRF}",
        "X-CSRFToken": CSRF,
        "Origin": f"http://127.0.0.1:{product_ports[0]}",
        "HX-Request": "true",  # as htmx sends it: errors come back as plain text, not a page
    }
    stages = ["contacted", "new"]
    moves_made = 0

    async def move():
        nonlocal moves_made
        stage = stages[moves_made % 2]
        moves_made += 1
        body = urlencode({"stage": stage, "index": 0, "version": version}).encode()
        return await post(product_ports[0], f"/leads/{lead_id}/move/", body, mover)

    sends = 0

    async def bare_send():
        return await floor.send(bare_ports[0], sends)

    floors = await request_floors(floor, product_ports[0], bare_ports[0], lead_id, mover)
    results = []
    for count in args.agents:
        # Each app's arrivals on their own clock, 50 at a time, as a reconnect storm comes in.
        arrivals = {}
        for audience, ports, path, cookies in (
            (product, product_ports, "/ws/board/", data["agent_sessions"]),
            (bare, bare_ports, floor.socket_path, None),
        ):
            start = time.perf_counter()
            while audience.tried < count:
                batch = range(audience.tried, min(count, audience.tried + 50))
                await asyncio.gather(
                    *(
                        audience.add(
                            f"ws://127.0.0.1:{ports[i % len(ports)]}{path}",
                            f"http://127.0.0.1:{ports[i % len(ports)]}",
                            cookies[i] if cookies else None,
                        )
                        for i in batch
                    )
                )
            arrivals[audience.name] = time.perf_counter() - start
        await product.quiet()
        product_ms, bare_ms, post_ms = [], [], []
        for i in range(args.warmup + args.moves):
            last, answered, body = await timed_round(
                product, (f'id="lead-{lead_id}"', f'data-version="{version + 1}"'), move
            )
            version = int(VERSION.search(body).group(1))
            sends += 1
            bare_last, _, _ = await timed_round(bare, (f'data-n="{sends}"',), bare_send)
            if i >= args.warmup:
                product_ms.append(last)
                post_ms.append(answered)
                bare_ms.append(bare_last)
        dropped = {a.name: sum(ws.close_code is not None for ws in a.sockets) for a in (product, bare)}
        dropped = {a.name: dropped[a.name] + len(a.refused) for a in (product, bare)}
        for a in (product, bare):
            if a.refused:
                print(f"  {a.name}: {len(a.refused)} refused, e.g. {a.refused[0]}", file=sys.stderr)
        results.append(
            {
                "agents": count,
                "product": product_ms,
                "bare": bare_ms,
                "post": post_ms,
                "connect": arrivals,
                "dropped": dropped,
            }
        )
        print(
            f"  {count} agents: p50 product {statistics.median(product_ms):.1f} ms,"
            f" {floor.label} {statistics.median(bare_ms):.1f} ms, connect {arrivals}, lost {dropped},"
            f" load {os.getloadavg()[0]:.1f}",
            file=sys.stderr,
            flush=True,
        )
    await product.close()
    await bare.close()
    return results, floors


async def request_floors(
    floor: Floor, product_port: int, bare_port: int, lead_id: int, mover: dict
) -> list[tuple[str, float]]:
    """What a request costs each server before any move or socket: the floor under the numbers above."""

    async def median_ms(send, expected: int, n: int = 25) -> float:
        times = []
        for _ in range(n + 3):
            start = time.perf_counter()
            status, body = await send()
            times.append((time.perf_counter() - start) * 1000)
            assert status == expected, (status, body[:200])
        return statistics.median(times[3:])

    invalid = urlencode({"stage": "new"}).encode()  # no index or version: 400 before any write
    return [
        (
            f"{floor.label}: POST (one group_send, nobody listening)",
            await median_ms(lambda: floor.send(bare_port, 0), 200),
        ),
        (
            "product: POST to a missing URL (404: middleware only)",
            await median_ms(lambda: post(product_port, "/nowhere/", b"", mover), 404),
        ),
        (
            "product: POST a move with a bad form (400: + session, user)",
            await median_ms(lambda: post(product_port, f"/leads/{lead_id}/move/", invalid, mover), 400),
        ),
    ]


def versions() -> str:
    from importlib.metadata import version

    packages = ["Django", "channels", "channels-redis", "daphne", "uvicorn", "redis", "psycopg", "websockets"]
    return ", ".join(f"{name} {version(name)}" for name in packages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="1,50,200", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1, help="daphne processes per app")
    parser.add_argument("--leads", type=int, default=1000, help="open leads on the board")
    parser.add_argument("--floor", choices=sorted(FLOORS), default="bare", help="the app to measure beside")
    parser.add_argument("--port", type=int, default=8201, help="first product port; the bare app's is +10")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne", help="of both apps")
    args = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL"):
        host = re.search(r"@?([\w.-]+):\d+", os.environ[name].split("//", 1)[1])
        assert host and host.group(1) in {"127.0.0.1", "localhost"}, f"{name} must point at this machine"

    data = prepare(args.leads, max(args.agents))
    parts = breakdown(args.moves, data["lead_id"])
    from crm.models import Lead

    data["version"] = Lead.objects.get(pk=data["lead_id"]).version
    from django.db import connections

    connections.close_all()

    product_ports = [args.port + i for i in range(args.processes)]
    bare_ports = [args.port + 10 + i for i in range(args.processes)]
    servers = start_servers("project.asgi:application", product_ports, args.server)
    floor = FLOORS[args.floor]
    servers += start_servers(floor.app, bare_ports, args.server, floor.env, floor.pythonpath)
    try:
        wait_listening(product_ports + bare_ports, servers)
        results, floors = asyncio.run(run(args, data, product_ports, bare_ports))
    finally:
        stop_servers(servers)

    print(
        f"broadcast: {args.moves} moves per row after {args.warmup} warm-up, {args.processes} {args.server}"
        f" process(es) per app, {args.leads} open leads, layer {os.environ['REDIS_URL'].rsplit('/', 1)[0]}"
        f" pub/sub, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"versions: Python {sys.version.split()[0]}, {versions()}")
    print("ms from the POST to the LAST agent having the frame (p50 / p95); POST = the mover's answer")
    header = (
        f"{'agents':>6} | {'product':>15} | {floor.label:>15} | {'ratio p50':>9} {'p95':>5} | {'POST p50':>8}"
    )
    print(header)
    for r in results:
        p50, p95 = percentile(r["product"], 50), percentile(r["product"], 95)
        b50, b95 = percentile(r["bare"], 50), percentile(r["bare"], 95)
        print(
            f"{r['agents']:>6} | {p50:>6.1f} / {p95:>6.1f} | {b50:>6.1f} / {b95:>6.1f} |"
            f" {p50 / b50:>8.2f}x {p95 / b95:>4.2f}x | {percentile(r['post'], 50):>8.1f}"
        )
    print("connecting (s, each app's new sockets on its own, 50 at a time) and sockets dropped by the end:")
    for r in results:
        times = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in r["connect"].items())
        lost = ", ".join(f"{name} {n}" for name, n in r["dropped"].items())
        print(f"  {r['agents']:>6} agents: {times}; refused or dropped: {lost}")
    print(f"request floors through {args.server} (median ms, no sockets connected):")
    for label, ms in floors:
        print(f"  {label:<58} {ms:>6.1f}")
    print("one move's POST taken apart (median ms, in-process, no sockets connected):")
    for label, ms in parts:
        print(f"  {label:<58} {ms:>6.1f}")


if __name__ == "__main__":
    main()
