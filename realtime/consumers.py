"""Board and dashboard sockets: authenticated users only (origin is checked in project.asgi)."""

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from crm.permissions import is_manager
from realtime import broadcast, sessions
from realtime.dashboards import feed as dashboards
from realtime.presence import hub as presence

log = logging.getLogger(__name__)
security_log = logging.getLogger("pipeline.security")

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


class SessionBound(AsyncWebsocketConsumer):
    """A socket that closes when its log-in ends: on a `session.check` (logout, a deleted session, a changed
    user) and every SOCKET_SESSION_RECHECK_SECONDS (expiry). `allowed(user)` says whether the fresh user may
    keep this socket; `still_allowed(user)` lets a socket follow a change (a new role) that does not close it.
    """

    session_timer: asyncio.Task | None = None

    def allowed(self, user) -> bool:
        return True

    async def still_allowed(self, user) -> None:
        return None

    async def bind_session(self, user) -> None:
        self.session_user_id = user.pk
        await self.channel_layer.group_add(broadcast.session_group(user.pk), self.channel_name)
        every = settings.SOCKET_SESSION_RECHECK_SECONDS
        self.session_timer = asyncio.create_task(self._recheck_every(every))

    async def unbind_session(self) -> None:
        if self.session_timer is not None:
            self.session_timer.cancel()
        if hasattr(self, "session_user_id"):
            await self.channel_layer.group_discard(
                broadcast.session_group(self.session_user_id), self.channel_name
            )

    async def _recheck_every(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        while await self.recheck():
            await asyncio.sleep(seconds)

    async def session_check(self, message: dict) -> None:
        await self.recheck()

    async def recheck(self) -> bool:
        """Close the socket if its log-in no longer holds; True while it does."""
        if getattr(self, "session_closed", False):
            return False
        user = await database_sync_to_async(sessions.current_user)(self.scope)
        if user is None or not await database_sync_to_async(self.allowed)(user):
            self.session_closed = True
            client = (self.scope.get("client") or ("?",))[0]
            security_log.info(
                "closed a socket of user #%s from %s: log-in ended", self.session_user_id, client
            )
            await self.close(code=CLOSE_UNAUTHENTICATED if user is None else CLOSE_FORBIDDEN)
            return False
        await self.still_allowed(user)
        return True


class BoardConsumer(SessionBound):
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
        self.seq = 0  # the newest numbered frame this socket sent (0: none yet, the page knows where it is)
        self.early: dict[int, dict] = {}  # frames that came before one with a lower number (board_event)
        self.gap_timer: asyncio.Task | None = None
        self.limit = RateLimit()
        broadcast.server_loop.remember(asyncio.get_running_loop())
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.bind_session(user)
        presence.arrive(self, user.pk)  # no query: told to the table and the boards on the next tick

    async def still_allowed(self, user) -> None:
        self.user, self.viewer = user, await database_sync_to_async(broadcast.Viewer.of)(user)  # a new role

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        if self.gap_timer is not None:
            self.gap_timer.cancel()
        await self.unbind_session()
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.dragging is not None:
            await database_sync_to_async(broadcast.send_dragging)(
                self.channel_name, self.user, self.dragging, False
            )
        presence.depart(self.channel_name)

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
            await self.ping()
        elif kind in {"drag", "drop"}:
            await self.drag(message.get("lead"), kind == "drag")

    def filter_by(self, query) -> None:
        """The page says which filters it shows (its query string): frames say which cards they hide."""
        if isinstance(query, str):
            self.viewer.filter_by(query)

    async def ping(self) -> None:
        """A browser's ping every 30 s: keeps its presence fresh, and fills any gap the layer left (frames
        sent while Redis restarted reach no socket: they wait in the database for this or the next frame)."""
        presence.touch(self.channel_name)
        try:
            if self.seq and await database_sync_to_async(broadcast.latest_seq)() > self.seq:
                await self.catch_up(self.seq)
        except DatabaseError as error:  # the database is away: the socket stays, the next ping tries again
            log.warning("board ping without the database: %s", error)

    async def catch_up(self, last_seq) -> None:
        try:
            last_seq = int(last_seq)
        except (TypeError, ValueError):
            return
        self.seq = before = max(self.seq, last_seq)  # where the page is
        missed = await database_sync_to_async(broadcast.missed_since)(last_seq)
        if missed is None:
            latest = await database_sync_to_async(broadcast.latest_seq)()
            html = await database_sync_to_async(broadcast.render_refresh)()
            await self.send_frame(latest, html)
            return
        for seq, html, cards in missed:
            if not before < seq <= self.seq:  # not sent meanwhile by board_event (the next in line only)
                await self.send_frame(seq, html, cards)
        await self.send_early()

    async def send_frame(self, seq: int, html: str, cards=()) -> None:
        self.seq = max(self.seq, seq)
        await self.send(text_data=self.viewer.frame(seq, html, cards))

    async def drag(self, lead_id, dragging: bool) -> None:
        try:
            lead_id = int(lead_id)
        except (TypeError, ValueError):
            return
        self.dragging = lead_id if dragging else None
        await database_sync_to_async(broadcast.send_dragging)(self.channel_name, self.user, lead_id, dragging)

    async def board_event(self, message: dict) -> None:
        """Send frames in their numbers' order. Frames of concurrent moves often arrive out of order (each
        is numbered, then published, by its own request): one that comes early waits here for those before
        it, in memory, for BOARD_GAP_GRACE_SECONDS. Only a gap that outlasts it is a loss (frames sent while
        Redis restarted), filled from the database. Before, every socket of the floor asked the database at
        every early frame, and one that asked before the frame in between was committed reloaded its board."""
        seq = message["seq"]
        if seq <= self.seq:
            return  # sent already, by a replay
        if self.seq and seq > self.seq + 1:
            self.early[seq] = message
            if self.gap_timer is None:
                self.gap_timer = asyncio.create_task(self.fill_gap_after(settings.BOARD_GAP_GRACE_SECONDS))
            return
        await self.send_message(message)
        await self.send_early()

    async def send_message(self, message: dict) -> None:
        # No cards from a server of the release before.
        await self.send_frame(message["seq"], message["html"], message.get("cards", ()))

    async def send_early(self) -> None:
        """Send the early frames that are next in line now; forget those a replay has sent."""
        for seq in [seq for seq in self.early if seq <= self.seq]:
            del self.early[seq]
        while self.seq + 1 in self.early:
            await self.send_message(self.early.pop(self.seq + 1))
        if not self.early and self.gap_timer is not None:
            self.gap_timer.cancel()
            self.gap_timer = None

    async def fill_gap_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.gap_timer = None
        if self.early:
            self.early.clear()  # committed before they were sent: the replay has them
            await self.catch_up(self.seq)

    async def board_ephemeral(self, message: dict) -> None:
        if message.get("exclude") != self.channel_name:
            await self.send(text_data=message["html"])


class LeadConsumer(SessionBound):
    """One open lead page: after anyone's change to its lead, the page's read-only parts rendered for this
    viewer (broadcast.render_lead_page). A `hello` (sent on every connect and reconnect) asks for them at
    once, so a page catches up on what it missed while it loaded or was away."""

    def allowed(self, user) -> bool:
        return broadcast.may_see_lead(user, self.lead_id)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.lead_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await database_sync_to_async(self.allowed)(user):
            await self.close(code=CLOSE_FORBIDDEN)  # a lead they may not see, or one that does not exist
            return
        self.user = user
        self.limit = RateLimit()
        broadcast.server_loop.remember(asyncio.get_running_loop())
        await self.channel_layer.group_add(broadcast.LEAD_PAGES_GROUP, self.channel_name)
        await self.accept()
        await self.bind_session(user)

    async def still_allowed(self, user) -> None:
        self.user = user  # a new role changes what the frames offer (the form or its read-only twin)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        if self.gap_timer is not None:
            self.gap_timer.cancel()
        await self.unbind_session()
        await self.channel_layer.group_discard(broadcast.LEAD_PAGES_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.limit.allow():
            if self.limit.exhausted:
                await self.close(code=CLOSE_POLICY_VIOLATION)
            return
        try:
            wanted = json.loads(text_data or "").get("type") == "hello"
        except (ValueError, AttributeError):
            return  # a malformed frame from a browser changes nothing
        if wanted:
            await self.send_page(scores=False)

    async def lead_changed(self, message: dict) -> None:
        ids = message.get("lead_ids")
        # Re-checked on every change, not only every few minutes: a user who lost the lead (or their log-in)
        # gets no frame of it, and their socket closes.
        if (ids is None or self.lead_id in ids) and await self.recheck():
            await self.send_page(scores=bool(message.get("scores")))

    async def send_page(self, scores: bool) -> None:
        html = await database_sync_to_async(broadcast.render_lead_page)(self.lead_id, self.user, scores)
        if html is not None:
            await self.send(text_data=html)


class DashboardConsumer(SessionBound):
    """Managers' live dashboard: forwards rendered dashboard fragments, and refreshes the page's figures
    when the pipeline changes, at most once per DASHBOARD_REFRESH_SECONDS, through this process's feed
    (realtime.dashboards): one render for every dashboard socket of the process.
    """

    def allowed(self, user) -> bool:
        return is_manager(user)  # a manager who lost the role loses the managers' figures at once

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
        dashboards.join(self)
        await self.bind_session(user)

    async def disconnect(self, code: int) -> None:
        dashboards.leave(self.channel_name)  # a refresh already rendering does not send to a closed socket
        await self.unbind_session()
        await self.channel_layer.group_discard(broadcast.DASHBOARD_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # A browser that reconnects asks for the figures it may have missed while it was away.
        try:
            wanted = json.loads(text_data or "").get("type") == "refresh"
        except (ValueError, AttributeError):
            return  # a malformed frame from a browser changes nothing
        if wanted:
            dashboards.changed()

    async def dashboard_fragment(self, message: dict) -> None:
        await self.send(text_data=message["html"])

    async def dashboard_changed(self, message: dict) -> None:
        dashboards.changed()


class UserConsumer(SessionBound):
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
        await self.bind_session(user)

    async def disconnect(self, code: int) -> None:
        await self.unbind_session()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def user_fragment(self, message: dict) -> None:
        await self.send(text_data=message["html"])
