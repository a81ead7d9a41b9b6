"""A real HTTP receiver on 127.0.0.1 (a free port, a thread), and endpoints pointing at it."""

import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dramatiq
import pytest

from tests.api.conftest import api  # noqa: F401  (the API client fixture)
from webhooks import services


@dataclass
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """Answers each POST with the next planned answer (default 200): a status code, or "hang" to wait until
    the test ends without answering (a receiver slower than our timeout)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    plan: queue.Queue = field(default_factory=queue.Queue)
    release: threading.Event = field(default_factory=threading.Event)

    def answer(self, *answers) -> None:
        for item in answers:
            self.plan.put(item)


def serve(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            receiver.requests.append(Received(dict(self.headers), body))
            planned = 200 if receiver.plan.empty() else receiver.plan.get()
            if planned == "hang":
                receiver.release.wait(timeout=30)
                return
            self.send_response(planned)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if planned < 300 else b"receiver is broken today")

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/pipeline?source=test")
    server.RequestHandlerClass = serve(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(receiver, manager):
    endpoint, secret = services.register_endpoint(
        actor=manager, url=receiver.url, events=["lead.moved", "lead.won", "interaction.logged"]
    )
    endpoint.shown_secret = secret
    return endpoint


def queued(broker, queue_name: str = "default") -> list[dramatiq.Message]:
    """The messages waiting on a stub queue (read without taking them)."""
    return [dramatiq.Message.decode(data) for data in list(broker.queues[queue_name].queue)]
