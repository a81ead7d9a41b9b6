"""Sockets as a browser opens them: a logged-in session cookie and the page's Origin, on the real ASGI app."""

import asyncio
import contextlib
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
    opened: list[WebsocketCommunicator] = []

    async def connect_(user, path: str = "/ws/board/", origin: str | None = ORIGIN, host: str | None = None):
        headers = await database_sync_to_async(socket_headers)(user, origin, host)
        socket = WebsocketCommunicator(application, path, headers=headers)
        opened.append(socket)
        accepted, code = await socket.connect(timeout=TIMEOUT)
        return socket, accepted, code

    yield connect_
    for socket in opened:
        # Harmless when the test or the server closed it already; a socket a failed test left cancelled
        # raises, and must not keep the others open.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await socket.disconnect(timeout=TIMEOUT)
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
            arrival = await socket.receive_from(timeout=TIMEOUT)
            assert arrival.startswith('<ul id="presence"') and f">{user.username}</li>" in arrival, arrival
        return socket

    return open_
