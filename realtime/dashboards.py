"""The dashboard's live figures, rendered once per refresh for every dashboard socket of this process.

A change is only a note ("dashboard.changed") that reaches every dashboard socket; each socket hands it to
this process's feed. The first note is answered at once, the ones that follow within DASHBOARD_REFRESH_SECONDS
wait for a single refresh at the window's end that shows them all. The figures are the same for every manager
(broadcast.render_dashboard takes no user), so one render serves every socket: a busy team costs each
process one render a second, whatever the number of managers watching.

Like presence, the frame goes straight to the local sockets, not through the channel layer.
"""

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from realtime import broadcast

log = logging.getLogger(__name__)


class Feed:
    """This process's dashboard sockets and the one refresh that may be waiting for them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        refresh = getattr(self, "refresh", None)
        if refresh is not None and not refresh.done():
            with contextlib.suppress(RuntimeError):  # its loop is closed: the task went with it
                refresh.cancel()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sockets: dict[str, object] = {}  # channel name -> consumer
        self.refresh: asyncio.Task | None = None
        self.last_refresh = float("-inf")

    def _on_this_loop(self) -> asyncio.AbstractEventLoop:
        # Sockets live on one loop per process; a new loop (a test's) starts from nothing.
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.reset()
            self.loop = loop
        return loop

    def join(self, consumer) -> None:
        self._on_this_loop()
        self.sockets[consumer.channel_name] = consumer

    def leave(self, channel_name: str) -> None:
        self._on_this_loop()
        self.sockets.pop(channel_name, None)

    def changed(self) -> None:
        """Schedule the refresh that will show this change, unless one is already waiting (it will)."""
        loop = self._on_this_loop()
        if self.refresh is not None and not self.refresh.done():
            return
        delay = max(0.0, self.last_refresh + settings.DASHBOARD_REFRESH_SECONDS - loop.time())
        self.refresh = asyncio.create_task(self._refresh_after(delay))

    async def _refresh_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        # Cleared before reading: a change committed during the render schedules the next refresh.
        self.refresh = None
        self.last_refresh = asyncio.get_running_loop().time()
        if not self.sockets:
            return
        try:
            html = await database_sync_to_async(broadcast.render_dashboard)()
        except Exception:
            log.exception("dashboard refresh failed")  # the next change tries again
            return
        for name, consumer in list(self.sockets.items()):
            if name not in self.sockets:
                continue  # closed while the others were sent to
            try:
                await consumer.send(text_data=html)
            except Exception:  # a socket closing under us: its disconnect removes it; tell the rest
                log.debug("dashboard not sent to %s", name, exc_info=True)


feed = Feed()
