"""Who is on the board, told to this process's board sockets at most once per PRESENCE_INTERVAL_SECONDS.

A join costs no query and no frame: the socket is noted here. Each tick writes the tick's arrivals, departures
and pings to the Presence table in one thread hop (a bulk insert, a delete, an update), reads who is on the
board (every process's sockets), and sends the list once rendered: to every socket of this process when the
set of people changed, and otherwise only to the sockets that arrived since the last tick (they have no list
yet). A thousand arrivals within a second so cost one write and one frame per socket, not a million frames;
a reconnect storm after a deploy or a Redis restart looks the same. Other processes' arrivals show within a
tick, since every process reads the table on its ticks.

The frame goes straight to the local sockets, not through the channel layer: each process tells its own.
"""

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from realtime import broadcast

log = logging.getLogger(__name__)


class Hub:
    """This process's board sockets and what the table has not yet been told about them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        ticker = getattr(self, "ticker", None)
        if ticker is not None and not ticker.done():
            with contextlib.suppress(RuntimeError):  # its loop is closed: the task went with it
                ticker.cancel()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sockets: dict[str, object] = {}  # channel name -> consumer
        self.arrived: dict[str, int] = {}  # channel name -> user id, not yet written
        self.departed: set[str] = set()
        self.touched: set[str] = set()
        self.unshown: set[str] = set()  # sockets that have not had a list yet
        self.shown: tuple | None = None  # the people in the last list this process sent
        self.ticker: asyncio.Task | None = None

    def _on_this_loop(self) -> None:
        # Sockets live on one loop per process; a new loop (a test's) starts from nothing.
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.reset()
            self.loop = loop

    def arrive(self, consumer, user_id: int) -> None:
        self._on_this_loop()
        name = consumer.channel_name
        self.sockets[name] = consumer
        self.arrived[name] = user_id
        self.unshown.add(name)
        self.departed.discard(name)
        self._start()

    def depart(self, channel_name: str) -> None:
        self._on_this_loop()
        self.sockets.pop(channel_name, None)
        self.unshown.discard(channel_name)
        self.touched.discard(channel_name)
        if self.arrived.pop(channel_name, None) is None:
            self.departed.add(channel_name)  # written already: the next tick deletes it
        self._start()

    def touch(self, channel_name: str) -> None:
        self._on_this_loop()
        if channel_name in self.sockets:
            self.touched.add(channel_name)

    def _start(self) -> None:
        if self.ticker is None or self.ticker.done():
            self.ticker = asyncio.create_task(self._tick_while_needed())

    async def _tick_while_needed(self) -> None:
        while True:
            await asyncio.sleep(settings.PRESENCE_INTERVAL_SECONDS)
            try:
                await self.tick()
            except Exception:
                log.exception("presence tick failed")  # the next tick writes what this one could not
            if not self.sockets and not self.departed:
                return

    async def tick(self) -> None:
        """Write what changed, read who is there, tell the sockets that need telling."""
        arrived, departed, touched, unshown = self.arrived, self.departed, self.touched, self.unshown
        self.arrived, self.departed, self.touched, self.unshown = {}, set(), set(), set()
        try:
            people = await database_sync_to_async(broadcast.record_presence)(arrived, departed, touched)
        except Exception:
            # Not lost: the next tick tries again.
            self.arrived = {**{n: u for n, u in arrived.items() if n in self.sockets}, **self.arrived}
            self.departed |= departed
            self.touched |= touched
            self.unshown |= unshown
            raise
        key = tuple(person.pk for person in people)
        targets = list(self.sockets) if key != self.shown else [n for n in unshown if n in self.sockets]
        self.shown = key
        if not targets:
            return
        html = broadcast.render_presence(people)
        for name in targets:
            consumer = self.sockets.get(name)
            if consumer is None:
                continue
            try:
                await consumer.send(text_data=html)
            except Exception:  # a socket closing under us: its disconnect will remove it; tell the rest
                log.debug("presence not sent to %s", name, exc_info=True)


hub = Hub()
