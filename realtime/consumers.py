"""Board and dashboard sockets: authenticated users only (origin is checked in project.asgi)."""

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from crm.permissions import is_manager
from realtime import broadcast

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class BoardConsumer(AsyncWebsocketConsumer):
    """Forwards numbered board frames, replays what a browser missed (`hello`), tracks presence and drags."""

    group = broadcast.BOARD_GROUP

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.dragging: int | None = None
        broadcast.remember_server_loop(asyncio.get_running_loop())
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await database_sync_to_async(broadcast.join)(self.channel_name, user)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.dragging is not None:
            await database_sync_to_async(broadcast.send_dragging)(
                self.channel_name, self.user, self.dragging, False
            )
        await database_sync_to_async(broadcast.leave)(self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            return  # a malformed frame from a browser changes nothing
        if kind == "hello":
            await self.catch_up(message.get("last_seq"))
        elif kind == "ping":
            await database_sync_to_async(broadcast.touch)(self.channel_name)
        elif kind in {"drag", "drop"}:
            await self.drag(message.get("lead"), kind == "drag")

    async def catch_up(self, last_seq) -> None:
        try:
            last_seq = int(last_seq)
        except (TypeError, ValueError):
            return
        missed = await database_sync_to_async(broadcast.missed_since)(last_seq)
        if missed is None:
            latest = await database_sync_to_async(broadcast.latest_seq)()
            html = await database_sync_to_async(broadcast.render_refresh)()
            await self.send(text_data=broadcast.frame(latest, html))
            return
        for seq, html in missed:
            await self.send(text_data=broadcast.frame(seq, html))

    async def drag(self, lead_id, dragging: bool) -> None:
        try:
            lead_id = int(lead_id)
        except (TypeError, ValueError):
            return
        self.dragging = lead_id if dragging else None
        await database_sync_to_async(broadcast.send_dragging)(self.channel_name, self.user, lead_id, dragging)

    async def board_event(self, message: dict) -> None:
        await self.send(text_data=broadcast.frame(message["seq"], message["html"]))

    async def board_ephemeral(self, message: dict) -> None:
        if message.get("exclude") != self.channel_name:
            await self.send(text_data=message["html"])


class DashboardConsumer(AsyncWebsocketConsumer):
    """Managers' live dashboard: forwards rendered dashboard fragments, and refreshes the page's figures
    when the pipeline changes, at most once per DASHBOARD_REFRESH_SECONDS.

    A change is only a note ("dashboard.changed"); the first one is answered at once, the ones that follow
    within the window wait for a single refresh at its end that shows them all. So a busy team costs each
    page one render a second, and a change is on screen within that second and a render.
    """

    refresh: asyncio.Task | None = None
    last_refresh = float("-inf")

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(is_manager)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(broadcast.DASHBOARD_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.refresh is not None:
            self.refresh.cancel()
        await self.channel_layer.group_discard(broadcast.DASHBOARD_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # A browser that reconnects asks for the figures it may have missed while it was away.
        try:
            wanted = json.loads(text_data or "").get("type") == "refresh"
        except (ValueError, AttributeError):
            return  # a malformed frame from a browser changes nothing
        if wanted:
            await self.dashboard_changed({})

    async def dashboard_fragment(self, message: dict) -> None:
        await self.send(text_data=message["html"])

    async def dashboard_changed(self, message: dict) -> None:
        if self.refresh is not None:
            return  # a refresh is already waiting: it will read this change too
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.last_refresh + settings.DASHBOARD_REFRESH_SECONDS - loop.time())
        self.refresh = asyncio.create_task(self._refresh_after(delay))

    async def _refresh_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        # Cleared before reading: a change committed during the render schedules the next refresh.
        self.refresh = None
        self.last_refresh = asyncio.get_running_loop().time()
        try:
            html = await database_sync_to_async(broadcast.render_dashboard)()
        except Exception:
            log.exception("dashboard refresh failed")
            return
        await self.send(text_data=html)
