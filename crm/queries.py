"""Read models: what the pages show, in a constant number of queries."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.http import QueryDict
from django.utils import timezone
from django.utils.timesince import timesince

from crm.models import Interaction, Lead, LeadSource, Stage
from crm.people import full_name

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


def _or(value, missing):
    return missing if value is None else value


@dataclass(frozen=True)
class BoardSort:
    """The order of the board's columns: by position (the default, and the only order a drag changes) or,
    highest first, by score, expected value or last activity. A missing score or activity sorts last.

    Sorted otherwise than by position, a column pages on (key, id) as it does on (position, id): keyset,
    never OFFSET, so a card moving above the fold neither repeats nor skips one below it.
    """

    name: str = "position"

    # name -> (label, field, what a missing value counts as)
    CHOICES = {
        "position": ("Position", "position", 0),
        "score": ("Score", "lead_score", -1),
        "value": ("Value", "expected_value", Decimal(0)),
        "activity": ("Last activity", "last_interaction_at", datetime(1970, 1, 1, tzinfo=UTC)),
    }

    @classmethod
    def from_query(cls, query) -> "BoardSort":
        name = query.get("sort", "")
        return cls(name if name in cls.CHOICES else "position")

    @property
    def label(self) -> str:
        return self.CHOICES[self.name][0]

    @property
    def by_position(self) -> bool:
        return self.name == "position"

    def key(self):
        _, name, missing = self.CHOICES[self.name]
        field = Lead._meta.get_field(name)
        return Coalesce(F(name), Value(missing, output_field=field), output_field=field)

    def order(self) -> list:
        if self.by_position:
            return [F("position").asc(), F("id").asc()]
        return [self.key().desc(), F("id").asc()]

    def apply(self, leads: QuerySet) -> QuerySet:
        return leads.order_by(*self.order())

    def after(self, leads: QuerySet, after: tuple[str, int]) -> QuerySet:
        """The cards after the one with this (key, id), in this order."""
        key, pk = after
        if self.by_position:
            return leads.after(int(key), pk)
        value = self.parse(key)
        leads = leads.annotate(sort_key=self.key())
        return leads.filter(Q(sort_key__lt=value) | Q(sort_key=value, pk__gt=pk))

    def parse(self, key: str):
        """A page key from a URL, as its field's value: ValueError when it is not one."""
        missing = self.CHOICES[self.name][2]
        try:
            if isinstance(missing, Decimal):
                return Decimal(key)
            if isinstance(missing, datetime):
                return datetime.fromisoformat(key)
            return int(key)
        except InvalidOperation as error:
            raise ValueError(key) from error

    def sorted(self, leads) -> list[Lead]:
        """Cards already read, in this order (for rows a compound query returns unordered)."""
        if self.by_position:
            return sorted(leads, key=lambda lead: (lead.position, lead.pk))
        _, name, missing = self.CHOICES[self.name]
        by_id = sorted(leads, key=lambda lead: lead.pk)
        return sorted(by_id, key=lambda lead: _or(getattr(lead, name), missing), reverse=True)  # stable

    def page_key(self, lead: Lead) -> str:
        """Where the next page starts after this card: `key:id` for the "load more" URL."""
        _, name, missing = self.CHOICES[self.name]
        value = getattr(lead, name)
        value = missing if value is None else value
        return f"{value.isoformat() if isinstance(value, datetime) else value}:{lead.pk}"


def parse_after(text: str, board_sort: BoardSort) -> tuple[str, int]:
    """`key:id` (the key may hold colons: a time) checked against the sort: ValueError when malformed."""
    key, pk = text.rsplit(":", 1)
    board_sort.parse(key)
    return key, int(pk)


@dataclass
class Column:
    stage: Stage
    count: int = 0  # the cards the filters keep, and their value: what the header shows
    total_value: Decimal = Decimal(0)
    cards: list = field(default_factory=list)
    has_more: bool = False
    all_count: int = 0  # every card in the stage, filtered or not: what its WIP limit counts
    after: str = ""  # the key of the last card shown, where "load more" continues

    @property
    def full(self) -> bool:
        return self.stage.wip_limit is not None and self.all_count >= self.stage.wip_limit


def card_queryset() -> QuerySet:
    return Lead.objects.select_related("owner", "source", "stage")


def column_stats(
    stage_ids: Iterable[int] | None = None, board_filter: "BoardFilter | None" = None
) -> dict[int, tuple[int, Decimal]]:
    """(count, expected value) per stage of the leads the filter keeps (all of them without one); only the
    given stages when a move touched just those."""
    leads = Lead.objects.all() if stage_ids is None else Lead.objects.filter(stage_id__in=stage_ids)
    if board_filter is not None:
        leads = board_filter.apply(leads)
    rows = leads.values("stage_id").annotate(n=Count("id"), total=Sum("expected_value"))
    return {row["stage_id"]: (row["n"], row["total"] or Decimal(0)) for row in rows.order_by()}


def board(
    board_filter: BoardFilter, page_size: int | None = None, board_sort: BoardSort | None = None
) -> list[Column]:
    """Every column with its counts, value and first cards: four queries, whatever the board's size.

    The header's count and value follow the filters; the WIP limit counts every card in the stage.
    """
    page_size = page_size or settings.BOARD_PAGE_SIZE
    board_sort = board_sort or BoardSort()
    stages = list(Stage.objects.all())
    matching, every = column_stats(board_filter=board_filter), column_stats()
    columns = {}
    for stage in stages:
        count, total = matching.get(stage.pk, (0, Decimal(0)))
        columns[stage.pk] = Column(stage, count, total, all_count=every.get(stage.pk, (0,))[0])
    for lead in _first_cards(board_filter.apply(card_queryset()), stages, page_size + 1, board_sort):
        column = columns[lead.stage_id]
        if len(column.cards) == page_size:
            column.has_more = True
        else:
            column.cards.append(lead)
    for column in columns.values():
        if column.cards:
            column.after = board_sort.page_key(column.cards[-1])
    return list(columns.values())


def _first_cards(leads: QuerySet, stages: list[Stage], per_stage: int, board_sort: BoardSort) -> list[Lead]:
    """Each column's first `per_stage` cards, column by column in board order.

    Where the database can LIMIT inside a compound query (Postgres), one index scan per column joined by
    UNION ALL: it reads what it returns, however big the board. Elsewhere (SQLite) a window query ranks
    every card and keeps the first ones.
    """
    if not stages:
        return []
    if connection.features.supports_slicing_ordering_in_compound:
        parts = [board_sort.apply(leads.filter(stage=stage))[:per_stage] for stage in stages]
        order = {stage.pk: i for i, stage in enumerate(stages)}
        rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        # sorted() is stable: each column keeps its order
        return sorted(board_sort.sorted(rows), key=lambda lead: order[lead.stage_id])
    ranked = leads.annotate(
        rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=board_sort.order())
    )
    return list(ranked.filter(rank__lte=per_stage).order_by("stage_id", "rank"))


def column_page(
    stage: Stage, board_filter: BoardFilter, after: tuple | None, board_sort: BoardSort | None = None
) -> tuple[list, bool]:
    """The next page of one column after the card at (key, id): keyset pagination, no OFFSET."""
    board_sort = board_sort or BoardSort()
    leads = board_filter.apply(card_queryset().filter(stage=stage))
    if after is not None:
        leads = board_sort.after(leads, after)
    page = list(board_sort.apply(leads)[: settings.BOARD_PAGE_SIZE + 1])
    return page[: settings.BOARD_PAGE_SIZE], len(page) > settings.BOARD_PAGE_SIZE


def card(lead_id: int) -> Lead:
    return card_queryset().get(pk=lead_id)


def sources() -> QuerySet:
    return LeadSource.objects.all()


def describe_last_change(lead: Lead) -> str:
    record = lead.history.select_related("history_user").order_by("-history_date", "-history_id").first()
    if record is None:
        return "it changed a moment ago"
    return f"{describe_change(record, lead)} {timesince(record.history_date)} ago"


def describe_change(record, lead: Lead) -> str:
    """ "Alice Martin moved it to Won", "Bob Nguyen logged a call on it": one history row, in a sentence."""
    who = full_name(record.history_user, "someone")
    what = record.history_change_reason or "changed"
    # "logged a call", "scheduled a follow-up" have their object already
    it = (
        " on it"
        if what.startswith(("logged ", "scheduled ", "rescheduled ", "edited a ", "completed ", "cancelled "))
        else " it"
    )
    where = f" to {lead.stage.name}" if what == "moved" else ""
    return f"{who} {what}{it}{where}"


def interactions(lead: Lead, limit: int = 50) -> QuerySet:
    return Interaction.objects.filter(lead=lead).select_related("agent")[:limit]
