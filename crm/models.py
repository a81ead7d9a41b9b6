"""The pipeline's data: stages, sources, leads and what agents did with them."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

MANAGERS_GROUP = "managers"
AGENTS_GROUP = "agents"


class Stage(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    name = models.CharField(max_length=60)
    slug = models.SlugField(max_length=60, unique=True)
    order = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.OPEN)
    wip_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most open cards this column takes."
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != self.Kind.OPEN


CLOSED_KINDS = (Stage.Kind.WON, Stage.Kind.LOST)


class LeadSource(models.Model):
    name = models.CharField(max_length=80, unique=True)
    # What a manager edits about a source (in the admin): what it costs and whether it is still in use.
    monthly_cost = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="What the source costs a month."
    )
    active = models.BooleanField(
        default=True, help_text="Still bringing leads in; only active sources get advice."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Score bands, highest first: a score at or above the floor is in the band (the card's colour, filters).
SCORE_BANDS = ((70, "hot"), (40, "warm"), (0, "cold"))


def score_band(score: int | None) -> str:
    if score is None:
        return "none"
    return next(band for floor, band in SCORE_BANDS if score >= floor)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def local_day(now: datetime | None = None, tz=None) -> tuple[datetime, datetime]:
    """[start, end) of the day holding `now` in `tz` (default: the current time zone), as aware times."""
    local = timezone.localtime(_now(now), tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Aware arithmetic with zoneinfo is wall-clock: the next midnight, however long a DST day is.
    return start, start + timedelta(days=1)


class LeadQuerySet(models.QuerySet):
    """The pipeline's vocabulary, defined once: every page, job, export and test says `open()`, `overdue()`.

    Each rule also has a `*_q()` form for use inside `filter()`, `Count(filter=...)` and `Case(When(...))`.
    """

    # --- by stage kind -----------------------------------------------------------------------------
    def open(self):
        return self.filter(open_q())

    def closed(self):
        return self.filter(closed_q())

    def won(self):
        return self.filter(won_q())

    def lost(self):
        return self.filter(lost_q())

    # --- time-based rules ---------------------------------------------------------------------------
    def snoozed(self, now: datetime | None = None):
        return self.filter(snoozed_q(now))

    def awake(self, now: datetime | None = None):
        return self.exclude(snoozed_q(now))

    def overdue(self, now: datetime | None = None):
        return self.filter(overdue_q(now))

    def due_today(self, now: datetime | None = None, tz=None):
        return self.filter(due_today_q(now, tz))

    def untouched(self, since: datetime):
        return self.filter(untouched_q(since))

    def created_between(self, start: datetime | None, end: datetime | None):
        return self.filter(created_between_q(start, end))

    # --- the board's order --------------------------------------------------------------------------
    def board_order(self):
        return self.order_by("position", "id")

    def after(self, position: int, pk: int):
        """Cards after (position, id) in board order: the keyset condition of a column's next page."""
        return self.filter(Q(position__gt=position) | Q(position=position, pk__gt=pk))

    def before(self, position: int, pk: int):
        return self.filter(Q(position__lt=position) | Q(position=position, pk__lt=pk))


def open_q() -> Q:
    return Q(stage__kind=Stage.Kind.OPEN)


def closed_q() -> Q:
    return Q(stage__kind__in=CLOSED_KINDS)


def won_q() -> Q:
    return Q(stage__kind=Stage.Kind.WON)


def lost_q() -> Q:
    return Q(stage__kind=Stage.Kind.LOST)


def snoozed_q(now: datetime | None = None) -> Q:
    """Snoozed: put aside until a time still to come."""
    return Q(snoozed_until__gt=_now(now))


def overdue_q(now: datetime | None = None) -> Q:
    """Overdue: the lead's next open follow-up (`follow_up_at`, kept by the services) is past due."""
    return Q(follow_up_at__lt=_now(now))


def due_today_q(now: datetime | None = None, tz=None) -> Q:
    """Due today: the next open follow-up falls on today in `tz` (the user's zone), earlier today included."""
    start, end = local_day(now, tz)
    return Q(follow_up_at__gte=start, follow_up_at__lt=end)


def untouched_q(since: datetime) -> Q:
    """Untouched since `since`: older than that, and no interaction logged after it (read from the
    interactions themselves: leads loaded in bulk do not keep `last_interaction_at`)."""
    recent = Interaction.objects.filter(lead=OuterRef("pk"), occurred_at__gte=since)
    return Q(created_at__lt=since) & ~Exists(recent)


def created_between_q(start: datetime | None, end: datetime | None, prefix: str = "") -> Q:
    """Created in [start, end); None leaves that side open (an analytics period). `prefix` ("lead__") applies
    it from a related model."""
    q = Q()
    if start is not None:
        q &= Q(**{f"{prefix}created_at__gte": start})
    if end is not None:
        q &= Q(**{f"{prefix}created_at__lt": end})
    return q


class Lead(models.Model):
    class Priority(models.IntegerChoices):
        LOW = 1, "Low"
        NORMAL = 2, "Normal"
        HIGH = 3, "High"
        URGENT = 4, "Urgent"

    class Engagement(models.IntegerChoices):
        NONE = 0, "None"
        LOW = 1, "Low"
        MEDIUM = 2, "Medium"
        HIGH = 3, "High"

    class ScoreSource(models.TextChoices):
        NONE = "", "Not scored"
        HEURISTIC = "heuristic", "Heuristic"
        MODEL = "model", "Model"

    name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    source = models.ForeignKey(
        LeadSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="leads")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    expected_value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Sortable key inside the stage: a move writes only this row (a value between its neighbours). Keys may
    # tie only transiently; (position, id) is the order, so it is always a strict total order.
    position = models.BigIntegerField(default=0)
    # Bumped by every change to the card; a move or edit carrying an older version is a conflict.
    version = models.PositiveIntegerField(default=1)
    lead_score = models.PositiveSmallIntegerField(null=True, blank=True)
    score_source = models.CharField(max_length=10, choices=ScoreSource.choices, blank=True, default="")
    engagement_level = models.PositiveSmallIntegerField(choices=Engagement.choices, default=Engagement.NONE)
    follow_up_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    interaction_count = models.PositiveIntegerField(default=0)
    last_interaction_kind = models.CharField(max_length=10, blank=True)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When the lead was won or lost.")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["stage__order", "position", "id"]
        indexes = [
            models.Index(fields=["stage", "position", "id"], name="lead_board_order"),
            # Analytics: periods by creation; the dashboard's totals from the index alone (Postgres); its
            # insights' first ten by score, follow-up and wake-up time without reading every lead.
            models.Index(fields=["created_at"], name="lead_created_at"),
            models.Index(
                fields=["stage", "owner"],
                include=["expected_value", "lead_score"],
                name="lead_stage_owner_totals",
            ),
            models.Index(fields=["lead_score"], name="lead_score"),
            models.Index(fields=["follow_up_at"], name="lead_follow_up_at"),
            models.Index(fields=["snoozed_until"], name="lead_snoozed_until"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(lead_score__lte=100), name="lead_score_0_100"),
        ]

    def __str__(self) -> str:
        return self.name

    # The same rules for one lead in memory (cards, emails), read by templates and sockets alike.
    @property
    def score_band(self) -> str:
        return score_band(self.lead_score)

    @property
    def is_snoozed(self) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > timezone.now()

    @property
    def is_overdue(self) -> bool:
        return self.follow_up_at is not None and self.follow_up_at < timezone.now()


class Interaction(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="interactions")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    notes = models.TextField(blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "-occurred_at"], name="interaction_lead_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.lead}"


class ImportJob(models.Model):
    """A CSV import started in the browser: the stored file, the mapping chosen, and how it went.

    The job exists from the upload on (status "uploaded") so the preview and the mapping form can read the
    stored file; Start queues it for the background worker.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for the mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="imports/", max_length=255)
    original_name = models.CharField(max_length=255)
    # {CSV column: known field, "attribute" or "ignore"}, in the file's column order.
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    imported_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # The first bad rows, [{"line": n, "message": "..."}]; error_count says how many there were in all.
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import of {self.original_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}


class AgentPerformance(models.Model):
    """An agent's figures (crm.analytics definitions, over the performance page's default period) as of an
    hour: one row per agent and hour, rewritten by a rerun for the same hour, kept for 400 days."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="performance")
    hour = models.DateTimeField(help_text="The hour (start, UTC) the figures stand as of.")
    assigned = models.PositiveIntegerField(default=0)
    contacted = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    median_hours_to_first_contact = models.FloatField(null=True, blank=True)
    interactions_per_lead = models.FloatField(null=True, blank=True)
    overdue = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["hour", "agent_id"]
        constraints = [models.UniqueConstraint(fields=["agent", "hour"], name="agent_performance_hour")]
        indexes = [models.Index(fields=["hour"], name="agent_performance_by_hour")]

    def __str__(self) -> str:
        return f"{self.agent} at {self.hour:%Y-%m-%d %H:00}"
