"""Real daphne processes on the pytest-django test database, and clients that talk to them over the network.

System and browser tests check what only real processes show: a move crossing from one server to another
through Redis, row locks taken by two servers at once, a browser's socket dropping and coming back. Tests
that use these servers need `transactional_db`, so the rows they make are committed and the servers see them.
"""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import STDOUT
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.utils.crypto import get_random_string

requires_services = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")),
    reason="needs DATABASE_URL (Postgres) and REDIS_URL, as CI sets them",
)
BASE_DIR = Path(settings.BASE_DIR)
PORTS = range(8100, 8200)  # kept for test servers: development servers on a shared machine use 8000
START_TIMEOUT = 60
APPLICATION = "project.asgi:application"
SERVER_SESSIONS = "pipeline-live-server"


def server_database_url() -> str:
    """DATABASE_URL of the database pytest-django made, for processes that are not pytest."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError(
                "Servers need the test database in a file: see DATABASES TEST in project/test_settings.py."
            )
        return f"sqlite:///{name}"
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    name = f"{db['NAME']}?application_name={SERVER_SESSIONS}"  # so that we can wait for them to end
    return f"postgres://{db['USER']}{password}@{host}{port}/{name}"


def listening_socket() -> socket.socket:
    """A socket listening on the first free port of PORTS.

    The port is held from the probe on: a probe that let go before the server bound it lost ports to the
    servers of other test runs on the machine, and then talked to them.
    """
    for port in PORTS:
        try:
            return socket.create_server(("127.0.0.1", port))
        except OSError:
            continue
    raise RuntimeError(f"No free port in {PORTS.start}-{PORTS.stop - 1}.")


@dataclass
class Server:
    """One daphne process serving project.asgi on 127.0.0.1:<port>."""

    name: str
    log_path: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/board/"

    def launch(self, listener: socket.socket, extra_env: dict | None = None) -> None:
        """Serve on `listener`, which daphne takes over (`--fd`); our copy is closed."""
        self.port = listener.getsockname()[1]
        env = {
            **{name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DATABASE_URL": server_database_url(),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            # Deterministic boards: no in-process worker or scheduler rescoring cards under the test.
            "EMBEDDED_WORKER": "0",
            "SECRET_KEY": settings.SECRET_KEY,  # the test's own: sessions made here are valid there
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # Plain HTTP on loopback, no TLS anywhere: production's settings otherwise.
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            **(extra_env or {}),
        }
        command = [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), APPLICATION]
        with listener, self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=log, stderr=STDOUT, pass_fds=[listener.fileno()]
            )

    def serving(self) -> bool:
        """Wait until the server answers; False if it exited first."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if get(self, "/accounts/login/").status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} was not serving after {START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # daphne takes a few seconds to shut down: see stop_all
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_all(servers: list[Server]) -> None:
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        server.stop()


@contextmanager
def servers(count: int, log_dir: Path, env: dict | None = None) -> Iterator[list[Server]]:
    """Start `count` servers on the test database (and on REDIS_URL's channel layer when it is set);
    `env` overrides their environment (another DATABASE_URL or REDIS_URL, say)."""
    names = "ABCDEFGH"[:count]
    started = [Server(name=f"server {name}", log_path=log_dir / f"server-{name}.log") for name in names]
    with ExitStack() as stack:
        stack.callback(stop_all, started)
        for server in started:  # all at once: each takes seconds to import Django
            server.launch(listening_socket(), env)
        for server in started:
            if not server.serving():
                raise RuntimeError(f"{server.name} did not start:\n{server.log_tail()}")
        yield started


# --- Sharing the test database with them ----------------------------------------------------------


def let_flush_win_deadlocks() -> None:
    """Make the servers' statements, not pytest-django's flush, give way if the two deadlock.

    After each test the flush truncates every table while a server may still be answering a socket that
    just closed (presence: one query over two tables). When the two deadlock, Postgres cancels the statement
    of whoever waited `deadlock_timeout` first: the flush waits the longest. Harmless to the servers. The
    setting lasts as long as the test's connection, which Django closes after the flush.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET deadlock_timeout = '60s'")


LIVE_SESSIONS = """
    SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s
"""


def release_database() -> None:
    """Wait for the stopped servers' sessions to end, so that the test database can be dropped."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute(LIVE_SESSIONS, [SERVER_SESSIONS])
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
    connection.close()  # ours too: this may run in a context whose connections nothing else closes


def elsewhere(write, *args, **kwargs):
    """Run a service in a thread of its own, as another server's request would, and wait for it.

    Playwright keeps an event loop running in the test's thread, and the broadcast after the commit
    (`async_to_sync`) refuses to run in such a thread.
    """

    def run():
        try:
            return write(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


# --- Clients ------------------------------------------------------------------------------------------


def session_cookie(user) -> str:
    """A session for `user` in the test database, which the servers read: a login without the form."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@dataclass
class Response:
    status: int
    text: str
    headers: dict = field(default_factory=dict)  # names in lower case


def _request(server: Server, method: str, path: str, body: str | None, headers: dict) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        headers = {name.lower(): value for name, value in reply.getheaders()}
        return Response(reply.status, reply.read().decode(), headers)
    finally:
        conn.close()


def get(server: Server, path: str, session: str | None = None) -> Response:
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"} if session else {}
    return _request(server, "GET", path, None, headers)


def post(server: Server, path: str, data: dict, session: str) -> Response:
    """A POST as the board's script makes it: session cookie, CSRF cookie and header, fetch marker."""
    token = get_random_string(32)
    headers = {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={token}",
        "X-CSRFToken": token,
        "X-Requested-With": "fetch",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return _request(server, "POST", path, urlencode(data), headers)


def board_socket(server: Server, session: str | None = None, origin: str | None = None):
    """A WebSocket to /ws/board/ as a browser on the server's own page would open it."""
    from websockets.sync.client import connect

    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"} if session else {}
    return connect(server.ws_url, origin=origin or server.url, additional_headers=headers, open_timeout=15)


def receive_until(ws, wanted: Callable[[str], bool], timeout: float = 20) -> str:
    """The first frame `wanted` accepts; frames before it are skipped."""
    seen = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            text = ws.recv(timeout=left)
        except TimeoutError:
            break
        if wanted(text):
            return text
        seen.append(text[:200])
    raise AssertionError(f"No wanted frame within {timeout}s; saw: {seen}")


# --- A TCP proxy whose connections the test can cut ------------------------------------------------


class Proxy:
    """Forwards 127.0.0.1:<port> to a server; `cut()` drops every connection as a failing network would.

    Closing the TCP connection without a WebSocket close frame is what a browser sees when Wi-Fi drops or a
    load balancer restarts (close code 1006), so its socket reconnects, which is the path under test.
    """

    def __init__(self, target):
        """`target`: anything with a `port` on 127.0.0.1 (a Server, a RedisServer, Postgres's port)."""
        self.target = target
        self.listener = listening_socket()
        self.port = self.listener.getsockname()[1]
        self.refusing = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.refusing.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target.port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True, name="proxy-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with self.lock:
                self.sockets.discard(sock)
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv(); close() alone does not
            sock.close()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until `restore()`."""
        self.refusing.set()
        with self.lock:
            socks = list(self.sockets)
        self._close(*socks)

    def restore(self) -> None:
        self.refusing.clear()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def free_port() -> int:
    """A port nothing listens on now, for a program that binds it itself (redis-server)."""
    with listening_socket() as probe:
        return probe.getsockname()[1]


@dataclass
class Port:
    """A bare address for Proxy: a service on 127.0.0.1 that is not one of ours (Postgres)."""

    port: int


class RedisServer:
    """A throwaway redis-server of the test's own, which it may stop and restart: never the machine's."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def kill(self) -> None:
        """As a crash or a restart does: every connection drops, nothing is saved."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def process_env(**extra: str) -> dict:
    """The environment of a manage.py process (worker, scheduler) on the test database, as production runs."""
    return {
        **{name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": server_database_url(),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def start_command(args: list[str], log_path: Path, env: dict) -> subprocess.Popen:
    """`manage.py <args>` in a process group of its own (rundramatiq forks), output to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen, sig: int = 9) -> None:
    """Stop a process started by start_command and the processes it forked; SIGKILL by default (a crash)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=10)


def wait_for(condition: Callable[[], object], timeout: float = 30, what: str = "condition") -> object:
    """Poll `condition` until it returns something true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout}s")


@contextmanager
def nginx_in_front(targets: list[Server], directory: Path) -> Iterator[Server]:
    """nginx from Debian's package, configured by deploy/nginx.conf.template as production is, in front of
    `targets`, run unprivileged under `directory`; yields it as a Server (its port, its log)."""
    sys.path.insert(0, str(BASE_DIR / "deploy"))
    from render_nginx import command, render

    static = directory / "static"
    static.mkdir(parents=True, exist_ok=True)
    front = Server(name="nginx", log_path=directory / "error.log", port=free_port())
    render(directory, f"127.0.0.1:{front.port}", [f"127.0.0.1:{t.port}" for t in targets], static)
    with (directory / "nginx.out").open("ab") as out:
        front.process = subprocess.Popen(command(directory), stdout=out, stderr=STDOUT)
    try:
        wait_for(lambda: _answers(front), timeout=START_TIMEOUT, what="nginx answered")
        yield front
    finally:
        front.stop()


def _answers(server: Server) -> bool:
    if server.process.poll() is not None:
        raise RuntimeError(f"nginx exited:\n{server.log_tail()}")
    try:
        return get(server, "/accounts/login/").status == 200
    except OSError:
        return False
