"""The floor for bench/broadcast.py: the least a Channels app can do to push one frame to every socket.

One consumer joins a group and forwards what the group sends; one HTTP endpoint (`POST /send/?n=N`) does a
single `group_send` of an HTML payload the size of a board frame, marked with N. No database, no auth, no
templates, no Django views: what is left is the server, the channel layer and the fan-out, configured from
the same settings (REDIS_URL, CHANNEL_PREFIX) as the product.

    daphne -p 8202 bench.bare_app:application
"""

import os
from urllib.parse import parse_qs

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()  # settings only: the channel layer comes from CHANNEL_LAYERS, as the product's does

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

GROUP = "bare"
# A board frame for a move (a card and two column headers) is about 1.7 kB.
PAYLOAD_BYTES = int(os.environ.get("BARE_PAYLOAD_BYTES", "1650"))
FILLER = '<div class="pad">' + "x" * PAYLOAD_BYTES + "</div>"


def payload(n: int) -> str:
    return f'<article id="bare" data-n="{n}">{FILLER}</article>'


class BareConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def bare_event(self, message: dict) -> None:
        await self.send(text_data=message["html"])


async def send_endpoint(scope, receive, send) -> None:
    """POST /send/?n=N: one group_send, then 200."""
    while (await receive()).get("more_body"):
        pass
    n = int(parse_qs(scope["query_string"].decode()).get("n", ["0"])[0])
    await get_channel_layer().group_send(GROUP, {"type": "bare.event", "html": payload(n)})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"sent"})


application = ProtocolTypeRouter(
    {
        "http": send_endpoint,
        "websocket": URLRouter([path("ws/bare/", BareConsumer.as_asgi())]),
    }
)
