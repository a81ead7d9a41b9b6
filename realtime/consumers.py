"""Board and dashboard sockets: authenticated users only (origin is checked in project.asgi)."""

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from crm.permissions import is_manager
from realtime import broadcast

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_POLICY_VIOLATION = 1008


class RateLimit:
    """A token bucket for one socket's incoming messages: `rate` a second, bursts up to `burst`.

    A browser sends a hello, a ping every 30 s and a drag note per drag; anything near the limit is a script.
    Over it, messages are dropped; `strikes` drops in a row mean the client will not stop, and it is closed.
    """

    def __init__(self, rate: float = 5.0, burst: int = 20, strikes: int = 50, clock=time.monotonic):
        self.rate, self.burst, self.strikes, self.clock = rate, burst, strikes, clock
        self.tokens, self.stamp, self.dropped = float(burst), clock(), 0

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.dropped = 0
            return True
        self.dropped += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.dropped >= self.strikes


class BoardConsumer(AsyncWebsocketConsumer):
    """Forwards numbered board frames stated for its viewer, replays what a browser missed (`hello`), follows
    the page's filters (`hello`, `filters`), tracks presence and drags."""

    group = broadcast.BOARD_GROUP

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.viewer = await database_sync_to_async(broadcast.Viewer.of)(user)
        self.dragging: int | None = None
        self.limit = RateLimit()
        broadcast.server_loop.remember(asyncio.get_running_loop())
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
        if not self.limit.allow():
            if self.limit.exhausted:
                log.warning("closing a flooding board socket of %s", self.user.get_username())
                await self.close(code=CLOSE_POLICY_VIOLATION)
            return
        try:
            message = json.loads(text_data or "")
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            return  # a malformed frame from a browser changes nothing
        if kind == "hello":
            self.filter_by(message.get("filters"))
            await self.catch_up(message.get("last_seq"))
        elif kind == "filters":
            self.filter_by(message.get("filters"))
        elif kind == "ping":
            await database_sync_to_async(broadcast.touch)(self.channel_name)
        elif kind in {"drag", "drop"}:
            await self.drag(message.get("lead"), kind == "drag")

    def filter_by(self, query) -> None:
        """The page says which filters it shows (its query string): frames say which cards they hide."""
        if isinstance(query, str):
            self.viewer.filter_by(query)

    async def catch_up(self, last_seq) -> None:
        try:
            last_seq = int(last_seq)
        except (TypeError, ValueError):
            return
        missed = await database_sync_to_async(broadcast.missed_since)(last_seq)
        if missed is None:
            latest = await database_sync_to_async(broadcast.latest_seq)()
            html = await database_sync_to_async(broadcast.render_refresh)()
            await self.send(text_data=self.viewer.frame(latest, html))
            return
        for seq, html, cards in missed:
            await self.send(text_data=self.viewer.frame(seq, html, cards))

    async def drag(self, lead_id, dragging: bool) -> None:
        try:
            lead_id = int(lead_id)
        except (TypeError, ValueError):
            return
        self.dragging = lead_id if dragging else None
        await database_sync_to_async(broadcast.send_dragging)(self.channel_name, self.user, lead_id, dragging)

    async def board_event(self, message: dict) -> None:
        cards = message.get("cards", ())  # none from a server of the release before
        await self.send(text_data=self.viewer.frame(message["seq"], message["html"], cards))

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


class UserConsumer(AsyncWebsocketConsumer):
    """Every page of a logged-in user: their reminders as they fall due and their count of due follow-ups."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = broadcast.user_group(user.pk)
        broadcast.server_loop.remember(asyncio.get_running_loop())
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def user_fragment(self, message: dict) -> None:
        await self.send(text_data=message["html"])
