"""Sockets as a browser opens them: a logged-in session cookie and the page's Origin, on the real ASGI app."""

import asyncio
import contextlib
import re
from urllib.parse import urlparse

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from project.asgi import application

ORIGIN = "http://testserver"
# Generous: with Redis and Postgres a frame crosses threads, a database and a pub/sub round trip.
TIMEOUT = 5
# How long a socket must stay silent to show that no frame is coming: long enough for a frame that is late on
# a busy machine to arrive, which asgiref's default (0.1 s) is not.
QUIET = 1
SEQ = re.compile(r'^<div id="board-seq" hx-swap-oob="true" data-seq="(\d+)"[^>]*></div>')


class BoardSocket(WebsocketCommunicator):
    """A browser's socket with the waits these tests need: TIMEOUT for a frame that must come, QUIET for one
    that must not."""

    async def receive_from(self, timeout=TIMEOUT):
        return await super().receive_from(timeout)

    async def receive_nothing(self, timeout=QUIET, interval=0.01):
        return await super().receive_nothing(timeout, interval)

    async def disconnect(self, code=1000, timeout=TIMEOUT):
        return await super().disconnect(code, timeout)

    async def next_board_frame(self) -> str:
        """The next numbered frame, past the presence and drag notes that may arrive before it."""
        while True:
            text = await self.receive_from()
            if SEQ.match(text):
                return text

    async def next_presence(self) -> list[str]:
        """The usernames in the next presence frame (each shown by full name, named by username)."""
        while True:
            text = await self.receive_from()
            if text.startswith('<ul id="presence"'):
                return re.findall(r'<li [^>]*data-username="([^"]*)"', text)


@pytest.fixture
def seq_of():
    """`seq_of(frame)` -> the number of a board frame."""

    def seq_of_(frame: str) -> int:
        match = SEQ.match(frame)
        assert match, f"not a numbered board frame: {frame[:120]!r}"
        return int(match.group(1))

    return seq_of_


@pytest.fixture
def opening_tag():
    """`opening_tag(frame, element_id)` -> the attributes of the one element with that id in a frame."""

    def opening_tag_(frame: str, element_id: str) -> dict[str, str]:
        tags = re.findall(rf'<\w+\s[^>]*?\bid="{re.escape(element_id)}"[^>]*>', frame)
        assert len(tags) == 1, f"expected one #{element_id} in the frame, found {len(tags)}"
        return dict(re.findall(r'([\w-]+)="([^"]*)"', tags[0]))

    return opening_tag_


@pytest.fixture
def stated(opening_tag):
    """`stated(frame, "can-move" | "hidden")` -> the lead ids a frame lists under that name for its socket."""

    def stated_(frame: str, name: str) -> set[int]:
        return {int(pk) for pk in opening_tag(frame, "board-seq")[f"data-{name}"].split()}

    return stated_


async def closed_with(socket) -> int:
    """The close code the server sent, past any frames still queued before it."""
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]


def socket_headers(user, origin: str | None, host: str | None = None) -> list[tuple[bytes, bytes]]:
    """As a browser sends them: the page's Origin, the Host it connects to (the page's own by default)."""
    host = host or (urlparse(origin).netloc if origin else "testserver")
    headers = [(b"host", host.encode())] + ([] if origin is None else [(b"origin", origin.encode())])
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


@pytest.fixture
async def connect():
    """`await connect(alice)` -> (socket, accepted, close code); every socket is closed after the test."""
    opened: list[BoardSocket] = []

    async def connect_(user, path: str = "/ws/board/", origin: str | None = ORIGIN, host: str | None = None):
        headers = await database_sync_to_async(socket_headers)(user, origin, host)
        socket = BoardSocket(application, path, headers=headers)
        opened.append(socket)
        accepted, code = await socket.connect(timeout=TIMEOUT)
        return socket, accepted, code

    yield connect_
    for socket in opened:
        # Harmless when the test or the server closed it already; a socket a failed test left cancelled
        # raises, and must not keep the others open.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await socket.disconnect()
    # A fresh layer per test: no group member or pub/sub connection outlives its test's event loop.
    await get_channel_layer().flush()
    # The consumers' database thread keeps its connection (CONN_MAX_AGE); an open one blocks dropping the
    # test database at the end of the run.
    await sync_to_async(connections.close_all)()


@pytest.fixture
def open_socket(connect):
    """`await open_socket(alice)` -> an accepted socket, once the board has announced her arrival.

    The arrival is announced after the socket is accepted; waiting for it makes the frames every later socket
    sees deterministic (it cannot receive an earlier socket's late announcement).
    """

    async def open_(user, path: str = "/ws/board/"):
        socket, accepted, code = await connect(user, path)
        assert accepted, f"{user} was refused on {path} with code {code}"
        if path == "/ws/board/":
            arrival = await socket.receive_from()
            assert (
                arrival.startswith('<ul id="presence"') and f'data-username="{user.username}"' in arrival
            ), arrival
        return socket

    return open_
