"""The only code that sends to socket groups. It renders each fragment once, numbers board events, and sends.

Board frames are HTML fragments that htmx swaps by id (`hx-swap-oob`): the card (`#lead-<pk>`) and the
affected column headers. Each is stored as a BoardEvent first, so a browser that reconnects can catch up.
Each socket heads a frame with what differs per viewer (see Viewer); the rendering is shared.
"""

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils import timezone

from crm import dashboard, events, follow_up_queries, lead_page, queries, scoring
from crm.models import FollowUp, Lead, Stage, user_zone
from crm.permissions import can_change, can_see, is_manager
from realtime.models import BoardEvent, Presence

log = logging.getLogger(__name__)

BOARD_GROUP = "board"
LEAD_PAGES_GROUP = "lead-pages"
DASHBOARD_GROUP = "dashboard"
PRESENCE_TTL = timedelta(seconds=90)
# Past this many cards in one event (a bulk rescore), browsers reload the board instead of swapping cards.
BULK_CARD_LIMIT = 50


handlers = events.Handlers("realtime")


@handlers.on(events.LeadMoved)
def _moved(event: events.LeadMoved) -> None:
    send_cards("moved", [event.lead_id], {event.from_stage_id, event.to_stage_id})
    send_lead_changed([event.lead_id])
    send_dashboard_changed()


@handlers.on(events.LeadCreated, events.LeadChanged)
def _card_changed(event: events.LeadCreated | events.LeadChanged) -> None:
    send_cards(type(event).__name__, [event.lead_id], None)
    send_lead_changed([event.lead_id])
    send_dashboard_changed()


@handlers.on(events.InteractionLogged)
def _interaction(event: events.InteractionLogged) -> None:
    send_cards("interaction", [event.lead_id], None)
    send_lead_changed([event.lead_id])
    send_dashboard_changed()


@handlers.on(events.ScoresChanged)
def _scores(event: events.ScoresChanged) -> None:
    send_cards("scores", list(event.lead_ids), set())
    send_lead_changed(list(event.lead_ids), scores=True)
    send_dashboard_changed()


@handlers.on(events.ColumnRebalanced)
def _rebalanced(event: events.ColumnRebalanced) -> None:
    send_board_refresh("rebalanced")


@handlers.on(events.LeadsImported)
def _imported(event: events.LeadsImported) -> None:
    send_board_refresh("imported")
    send_lead_changed(list(event.lead_ids))
    send_dashboard_changed()


@handlers.on(events.StagesChanged)
def _stages(event: events.StagesChanged) -> None:
    send_board_refresh("stages")


@handlers.on(events.TrainingUpdated)
def _training(event: events.TrainingUpdated) -> None:
    send_training_status()


@handlers.on(events.LeadSnoozed)
def _snoozed(event: events.LeadSnoozed) -> None:
    # The card carries its snoozed state: boards hiding snoozed cards drop it, and take it back on waking.
    send_cards("snoozed" if event.until else "woke", [event.lead_id], None)
    send_lead_changed([event.lead_id])


@handlers.on(events.FollowUpChanged)
def _follow_up(event: events.FollowUpChanged) -> None:
    send_cards("follow-up", [event.lead_id], None)
    send_lead_changed([event.lead_id])
    if event.owner_id is not None:
        send_due_count(event.owner_id)


@handlers.on(events.ReminderDue)
def _reminder_due(event: events.ReminderDue) -> None:
    send_reminder_notice(event.owner_id, event.follow_up_id)


# The task queue's business: nothing to show until their results are published as events of their own.
handlers.ignore(events.ImportRequested, events.TrainingRequested)


def send_cards(kind: str, lead_ids: list[int], stage_ids: set[int] | None) -> None:
    """Render the cards and their columns' headers once, number the frame, send it to every board."""
    if len(lead_ids) > BULK_CARD_LIMIT:
        send_board_refresh(kind)
        return
    cards = list(queries.card_queryset().filter(pk__in=lead_ids))
    if stage_ids is None:
        stage_ids = {lead.stage_id for lead in cards}
    # The headers of a board without filters (which hides snoozed cards); a filtered board fetches its own
    # (Viewer.frame says so), and every board counts the whole stage against its WIP limit.
    stats = queries.column_stats(stage_ids, queries.BoardFilter())
    every = queries.column_stats(stage_ids)
    stages = Stage.objects.filter(pk__in=stage_ids)
    html = render_to_string(
        "crm/partials/board_event.html",
        {
            "cards": cards,
            "headers": [(s, *stats.get(s.pk, (0, 0)), every.get(s.pk, (0,))[0]) for s in stages],
            "now": timezone.now(),
            "oob": True,
        },
    )
    send_board_frame(kind, html, [queries.card_facts(lead) for lead in cards])


def send_training_status() -> None:
    html = render_to_string("crm/partials/model_panel.html", {"status": scoring.model_status(), "oob": True})
    _group_send(DASHBOARD_GROUP, {"type": "dashboard.fragment", "html": html})


def send_dashboard_changed() -> None:
    """A note, not a fragment: each dashboard page coalesces the notes and re-reads its figures (see
    consumers.DashboardConsumer), so a burst of moves costs one render per page a second, not one per move."""
    _group_send(DASHBOARD_GROUP, {"type": "dashboard.changed"})


def render_dashboard() -> str:
    """The dashboard's live part (tiles, chart data, activity) as out-of-band swaps: what a change moves;
    the insights stay as the page drew them (analytics.dashboard says why)."""
    return render_to_string(dashboard.LIVE_TEMPLATE, {**dashboard.live_context(insights=False), "oob": True})


def render_refresh() -> str:
    return render_to_string("crm/partials/board_refresh.html")


def send_board_refresh(kind: str) -> None:
    send_board_frame(kind, render_refresh())


def send_board_frame(kind: str, html: str, cards: list[dict] | None = None) -> int:
    """Number and send a frame; `cards` are the facts of the cards in it, from which each socket says what
    its viewer may do with them (see Viewer)."""
    cards = cards or []
    seq = _numbered(kind, html, cards)
    if seq % 500 == 0:
        BoardEvent.objects.filter(pk__lte=seq - settings.BOARD_EVENT_RETENTION).delete()
    _group_send(BOARD_GROUP, {"type": "board.event", "seq": seq, "html": html, "cards": cards})
    return seq


def _numbered(kind: str, html: str, cards: list[dict]) -> int:
    """Store the frame for catch-up; its id is its number.

    On Postgres, outside a transaction (as handlers run, on commit), the insert does not wait for its commit
    to reach the disk: `synchronous_commit` off for this one statement's own transaction. The change the frame
    shows is durable already, and the frame is a replay copy of it. A crash could lose the last fraction of a
    second of frames, never a number (sequences skip ahead after a crash, so none is handed out twice), and
    `missed_since` answers a gap with a reload. One round trip and no disk flush on the path of every move.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return BoardEvent.objects.create(kind=kind, html=html, cards=cards).pk
    table = BoardEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true))"
            f' INSERT INTO "{table}" (created_at, kind, html, cards)'
            " SELECT %s, %s, %s, %s::jsonb FROM unflushed RETURNING id",
            [timezone.now(), kind, html, json.dumps(cards)],
        )
        return cursor.fetchone()[0]


def latest_seq() -> int:
    return BoardEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def missed_since(seq: int) -> list[tuple[int, str, list[dict]]] | None:
    """Frames after `seq`, with their cards' facts, oldest first; None when too many were missed (or pruned)
    to replay, or when the numbers after `seq` have a gap."""
    # Pruning keeps far more events than a catch-up replays, so a pruned gap always shows up as "too many".
    limit = settings.BOARD_CATCHUP_LIMIT
    rows = BoardEvent.objects.filter(pk__gt=seq).order_by("pk").values_list("pk", "html", "cards")
    rows = list(rows[: limit + 1])
    if len(rows) > limit or any(row[0] != seq + i for i, row in enumerate(rows, start=1)):
        return None  # too many, or a number is missing (not yet committed, or lost): the board reloads
    return rows


@dataclass
class Viewer:
    """One board socket's user and filter. The frame is rendered once for every board; what differs per
    viewer (which of its cards they may move, which their filter hides, whether its headers count for them) is
    decided here, by the domain's own rules, and stated at the head of the frame for the browser to obey.

    A thousand sockets run this for every frame: it makes no query (`of` caches whether the user is a
    manager) and only reads the frame's few card facts.
    """

    user: object
    board_filter: queries.BoardFilter = field(default_factory=queries.BoardFilter)

    @classmethod
    def of(cls, user) -> "Viewer":
        is_manager(user)  # cached on the user: can_change asks it again for every card of every frame
        return cls(user)

    def filter_by(self, query: str) -> None:
        """The filters of the board page this socket serves, as its query string (`mine=1&q=ana`)."""
        self.board_filter = queries.BoardFilter.from_query(QueryDict(query[:1000]), self.user)

    def frame(self, seq: int, html: str, cards: Sequence[dict] = ()) -> str:
        """The text a socket sends: the event's number first, so the browser knows where it is, then which of
        the frame's cards this viewer may move and which their filter hides."""
        movable, hidden = [], []
        for facts in cards:
            card = SimpleNamespace(**facts)
            if not self.board_filter.matches(card):
                hidden.append(card.id)
            elif can_change(self.user, card):
                movable.append(card.id)
        can_move, hides = " ".join(map(str, movable)), " ".join(map(str, hidden))
        # The frame's headers count the unfiltered board: a filtered one keeps its own and re-reads them.
        headers = "filtered" if self.board_filter != queries.BoardFilter() else "shared"
        return (
            f'<div id="board-seq" hx-swap-oob="true" data-seq="{seq}" data-can-move="{can_move}"'
            f' data-hidden="{hides}" data-headers="{headers}"></div>{html}'
        )


# --- Lead pages: one note per change, a frame rendered per viewer ----------------------------------


def send_lead_changed(lead_ids: list[int], scores: bool = False) -> None:
    """Tell the open lead pages which leads changed: one message for all of them, whatever the count (each
    page's socket keeps what concerns its lead). Past BULK_CARD_LIMIT leads (a nightly rescore) the note
    says "any lead", and every open page re-reads itself once."""
    ids = None if len(lead_ids) > BULK_CARD_LIMIT else list(lead_ids)
    _group_send(LEAD_PAGES_GROUP, {"type": "lead.changed", "lead_ids": ids, "scores": scores})


def may_see_lead(user, lead_id: int) -> bool:
    """Whether this user may have this lead's page open (the lead exists and they may see it)."""
    lead = Lead.objects.filter(pk=lead_id).only("pk", "owner_id").first()
    return lead is not None and can_see(user, lead)


def render_lead_page(lead_id: int, user, scores: bool = False) -> str | None:
    """The lead page's read-only parts as `user` sees them now, in their time zone, as out-of-band swaps;
    None when the lead is gone or they may no longer see it. Rendered per viewer, unlike board frames: a
    lead has few viewers, and what they see differs (the form or its read-only twin, their zone). The
    score's reasons cost a model run, so they come only with a rescore."""
    lead = queries.card_queryset().filter(pk=lead_id).first()
    if lead is None or not can_see(user, lead):
        return None
    with timezone.override(user_zone(user)):
        context = {**lead_page.parts(user, lead), "oob": True}
        if scores and lead.lead_score is not None:
            context["explanation"] = scoring.explain(lead)
        return render_to_string("crm/partials/lead_live.html", context)


# --- Presence and dragging: ephemeral, not numbered -----------------------------------------------


def record_presence(arrived: dict[str, int], departed: set[str], touched: set[str]) -> list:
    """Write one presence tick (see realtime.presence) and return who is on the board, by username."""
    now = timezone.now()
    if departed:
        Presence.objects.filter(channel_name__in=departed).delete()
    if arrived:
        Presence.objects.bulk_create(
            [Presence(channel_name=name, user_id=pk, seen_at=now) for name, pk in arrived.items()],
            update_conflicts=True,
            unique_fields=["channel_name"],
            update_fields=["user", "seen_at"],
        )
    if touched:
        Presence.objects.filter(channel_name__in=touched).update(seen_at=now)
    return present_users()


def present_users() -> list:
    fresh = Presence.objects.filter(seen_at__gte=timezone.now() - PRESENCE_TTL).values("user_id")
    return list(get_user_model().objects.filter(pk__in=fresh).order_by("username"))


def render_presence(people: list) -> str:
    return render_to_string("crm/partials/presence.html", {"present": people, "oob": True})


def send_dragging(channel_name: str, user, lead_id: int, dragging: bool) -> None:
    """Tell the other boards who is moving a card: only a card that user may move (the note is a claim)."""
    lead = Lead.objects.filter(pk=lead_id).only("pk", "owner_id").first()
    if lead is None or not can_change(user, lead):
        return
    html = render_to_string(
        "crm/partials/dragging.html", {"lead_id": lead_id, "who": user if dragging else None, "oob": True}
    )
    _group_send(BOARD_GROUP, {"type": "board.ephemeral", "html": html, "exclude": channel_name})


class ServerLoop:
    """The event loop the sockets (and the in-memory layer's queues) live on, remembered by the consumers:
    the module's only state, in one object that tests can reset.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def remember(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def reset(self) -> None:
        self.loop = None

    def elsewhere(self) -> asyncio.AbstractEventLoop | None:
        """The server's loop when it runs and this thread is not running it; None otherwise."""
        loop = self.loop
        if loop is None or not loop.is_running():
            return None
        try:
            return None if asyncio.get_running_loop() is loop else loop
        except RuntimeError:
            return loop


server_loop = ServerLoop()


def _group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = server_loop.elsewhere() if isinstance(layer, InMemoryChannelLayer) else None
    if loop is not None:
        # An embedded worker thread is not a child of the server loop: async_to_sync would run the send on a
        # loop of its own and touch the layer's asyncio queues from the wrong thread. Hand it over instead.
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(timeout=10)
        return
    async_to_sync(layer.group_send)(group, message)


# --- One user's pages: reminders and the top bar's count ------------------------------------------


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def session_group(user_id: int) -> str:
    """Every socket of a user, whatever page: told to re-check its session (realtime.sessions)."""
    return f"sessions-{user_id}"


def check_sessions(user_id: int) -> None:
    _group_send(session_group(user_id), {"type": "session.check"})


def send_due_count(user_id: int) -> None:
    user = get_user_model().objects.select_related("profile").filter(pk=user_id).first()
    if user is None:
        return
    context = {"due_count": follow_up_queries.due_count(user), "oob": True}
    html = render_to_string("crm/partials/due_count.html", context)
    _group_send(user_group(user_id), {"type": "user.fragment", "html": html})


def send_reminder_notice(user_id: int, follow_up_id: int) -> None:
    follow_up = FollowUp.objects.select_related("lead", "owner__profile").filter(pk=follow_up_id).first()
    if follow_up is None or follow_up.owner is None:
        return
    with timezone.override(user_zone(follow_up.owner)):
        html = render_to_string(
            "crm/partials/reminder_notice.html",
            {"follow_up": follow_up, "due_count": follow_up_queries.due_count(follow_up.owner), "oob": True},
        )
    _group_send(user_group(user_id), {"type": "user.fragment", "html": html})
