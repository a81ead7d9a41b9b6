"""Read models: what the pages show, in a constant number of queries."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.http import QueryDict
from django.utils import timezone
from django.utils.timesince import timesince

from crm.models import Interaction, Lead, LeadSource, Stage

# What the board's filters test about a card, by the name a Lead has for it. A board socket gets these with
# each frame and asks `BoardFilter.matches` about them, so no socket queries the database per frame; they
# travel through the channel layer and are stored for catch-up, so they must be plain JSON values.
CARD_FACTS = (
    "id",
    "owner_id",
    "source_id",
    "name",
    "company",
    "email",
    "is_snoozed",
    "is_overdue",
    "is_due_today",
)


def card_facts(lead: Lead) -> dict:
    return {name: getattr(lead, name) for name in CARD_FACTS}


@dataclass(frozen=True)
class BoardFilter:
    """The board's filters, parsed from the query string: mine/all, source, free text.

    A filter is stated twice here, side by side and nowhere else: `apply` for the database, `matches` for one
    card in memory (a Lead, or a card's facts, which is how board sockets ask); tests hold the two to the same
    answers. A new filter is a field, its parameter in `from_query`, a clause in `apply` and in `matches`,
    and the Lead attribute `matches` reads named in CARD_FACTS.
    """

    owner_id: int | None = None
    source_id: int | None = None
    text: str = ""
    # Snoozed cards: True shows only them, False hides them (the board's default), None shows all (exports).
    snoozed: bool | None = False
    overdue: bool = False
    due_today: bool = False  # "today" in the current time zone: the user's, on their requests

    @classmethod
    def from_request(cls, request) -> "BoardFilter":
        return cls.from_query(request.GET, request.user)

    @classmethod
    def from_query(cls, query: QueryDict, user) -> "BoardFilter":
        """The filter of the board page whose query string this is, as `user` sees it ("mine" is theirs)."""
        mine = query.get("mine") in {"1", "true", "on"}
        source = query.get("source", "")
        return cls(
            owner_id=user.pk if mine else None,
            source_id=int(source) if source.isascii() and source.isdigit() and len(source) < 19 else None,
            text=query.get("q", "").strip()[:100],
            **time_filters(query),
        )

    def apply(self, leads: QuerySet) -> QuerySet:
        if self.owner_id is not None:
            leads = leads.filter(owner_id=self.owner_id)
        if self.source_id is not None:
            leads = leads.filter(source_id=self.source_id)
        if self.text:
            leads = leads.filter(
                Q(name__icontains=self.text) | Q(company__icontains=self.text) | Q(email__icontains=self.text)
            )
        return self.apply_time(leads)

    def apply_time(self, leads: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.snoozed is not None:
            leads = leads.snoozed(now) if self.snoozed else leads.awake(now)
        if self.overdue:
            leads = leads.overdue(now)
        if self.due_today:
            leads = leads.due_today(now)
        return leads

    def matches(self, card) -> bool:
        """Whether `apply` would keep this card: anything with the attributes CARD_FACTS names."""
        if self.owner_id is not None and card.owner_id != self.owner_id:
            return False
        if self.source_id is not None and card.source_id != self.source_id:
            return False
        if self.text:
            text = self.text.lower()
            if not any(text in (value or "").lower() for value in (card.name, card.company, card.email)):
                return False
        if self.snoozed is not None and card.is_snoozed != self.snoozed:
            return False
        if self.overdue and not card.is_overdue:
            return False
        return not (self.due_today and not card.is_due_today)

    @property
    def active(self) -> bool:
        return bool(
            self.owner_id or self.source_id or self.text or self.snoozed or self.overdue or self.due_today
        )


def time_filters(params) -> dict:
    """The board's time filters from a query string: ?snoozed=1, ?overdue=1, ?due=today."""
    return {
        "snoozed": params.get("snoozed") in {"1", "true", "on"},
        "overdue": params.get("overdue") in {"1", "true", "on"},
        "due_today": params.get("due") == "today",
    }


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total_value: Decimal = Decimal(0)
    cards: list = field(default_factory=list)
    has_more: bool = False

    @property
    def full(self) -> bool:
        return self.stage.wip_limit is not None and self.count >= self.stage.wip_limit


def card_queryset() -> QuerySet:
    return Lead.objects.select_related("owner", "source", "stage")


def column_stats(stage_ids: Iterable[int] | None = None) -> dict[int, tuple[int, Decimal]]:
    """(count, expected value) per stage; only the given stages when a move touched just those."""
    leads = Lead.objects.all() if stage_ids is None else Lead.objects.filter(stage_id__in=stage_ids)
    rows = leads.values("stage_id").annotate(n=Count("id"), total=Sum("expected_value"))
    return {row["stage_id"]: (row["n"], row["total"] or Decimal(0)) for row in rows.order_by()}


def board(board_filter: BoardFilter, page_size: int | None = None) -> list[Column]:
    """Every column with its count, value and first cards: three queries, whatever the board's size."""
    page_size = page_size or settings.BOARD_PAGE_SIZE
    stages = list(Stage.objects.all())
    stats = column_stats()
    columns = {s.pk: Column(s, *stats.get(s.pk, (0, Decimal(0)))) for s in stages}
    for lead in _first_cards(board_filter.apply(card_queryset()), stages, page_size + 1):
        column = columns[lead.stage_id]
        if len(column.cards) == page_size:
            column.has_more = True
        else:
            column.cards.append(lead)
    return list(columns.values())


def _first_cards(leads: QuerySet, stages: list[Stage], per_stage: int) -> list[Lead]:
    """Each column's first `per_stage` cards, column by column in board order.

    Where the database can LIMIT inside a compound query (Postgres), one index scan per column joined by
    UNION ALL: it reads what it returns, however big the board. Elsewhere (SQLite) a window query ranks
    every card and keeps the first ones.
    """
    if not stages:
        return []
    if connection.features.supports_slicing_ordering_in_compound:
        parts = [leads.filter(stage=stage).board_order()[:per_stage] for stage in stages]
        order = {stage.pk: i for i, stage in enumerate(stages)}
        rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        return sorted(rows, key=lambda lead: (order[lead.stage_id], lead.position, lead.pk))
    ranked = leads.annotate(
        rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=[F("position").asc(), F("id").asc()])
    )
    return list(ranked.filter(rank__lte=per_stage).order_by("stage_id", "rank"))


def column_page(stage: Stage, board_filter: BoardFilter, after: tuple[int, int] | None) -> tuple[list, bool]:
    """The next page of one column after the card at (position, id): keyset pagination, no OFFSET."""
    leads = board_filter.apply(card_queryset().filter(stage=stage)).board_order()
    if after is not None:
        leads = leads.after(*after)
    page = list(leads[: settings.BOARD_PAGE_SIZE + 1])
    return page[: settings.BOARD_PAGE_SIZE], len(page) > settings.BOARD_PAGE_SIZE


def card(lead_id: int) -> Lead:
    return card_queryset().get(pk=lead_id)


def sources() -> QuerySet:
    return LeadSource.objects.all()


def describe_last_change(lead: Lead) -> str:
    record = lead.history.select_related("history_user").order_by("-history_date", "-history_id").first()
    if record is None:
        return "it changed a moment ago"
    who = record.history_user.get_username() if record.history_user else "someone"
    what = record.history_change_reason or "changed"
    # "logged a call", "scheduled a follow-up" have their object already
    it = (
        " on it"
        if what.startswith(("logged ", "scheduled ", "rescheduled ", "edited a ", "completed ", "cancelled "))
        else " it"
    )
    where = f" to {lead.stage.name}" if what == "moved" else ""
    return f"{who} {what}{it}{where} {timesince(record.history_date)} ago"


@dataclass(frozen=True)
class Change:
    when: object
    who: str
    reason: str
    fields: list[tuple[str, str, str]]


HIDDEN_HISTORY_FIELDS = {"position", "version", "updated_at"}


def lead_history(lead: Lead, limit: int = 100) -> list[Change]:
    """Who changed which field from what to what, newest first, from one history query."""
    records = list(
        lead.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1]
    )
    labels = {f.name: f.verbose_name for f in Lead._meta.fields}
    stage_names = dict(Stage.objects.values_list("pk", "name"))
    changes = []
    for newer, older in zip(records, [*records[1:], None], strict=True):
        if len(changes) == limit:
            break
        fields = []
        if older is not None:
            delta = newer.diff_against(
                older, excluded_fields=HIDDEN_HISTORY_FIELDS, foreign_keys_are_objs=False
            )
            for change in delta.changes:
                old, new = change.old, change.new
                if change.field == "stage":
                    old, new = stage_names.get(old, old), stage_names.get(new, new)
                fields.append((str(labels.get(change.field, change.field)), _show(old), _show(new)))
        who = newer.history_user.get_username() if newer.history_user else "system"
        reason = newer.history_change_reason or ("created" if older is None else "changed")
        changes.append(Change(newer.history_date, who, reason, fields))
    return changes


def _show(value) -> str:
    return "—" if value in (None, "") else str(value)


def interactions(lead: Lead, limit: int = 50) -> QuerySet:
    return Interaction.objects.filter(lead=lead).select_related("agent")[:limit]
