"""The pipeline's data: stages, sources, leads and what agents did with them."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
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

    def due_to_wake(self, now: datetime | None = None):
        return self.filter(wake_due_q(now))

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


def wake_due_q(now: datetime | None = None) -> Q:
    """Due to wake: snoozed until a time that has come (the wake job's work; `snoozed_q` is the rest)."""
    return Q(snoozed_until__lte=_now(now))


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
    expected_value = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    # Sortable key inside the stage: a move writes only this row (a value between its neighbours). Keys may
    # tie only transiently; (position, id) is the order, so it is always a strict total order.
    position = models.BigIntegerField(default=0)
    # Bumped by every change to the card; a move or edit carrying an older version is a conflict.
    version = models.PositiveIntegerField(default=1)
    lead_score = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    score_source = models.CharField(max_length=10, choices=ScoreSource.choices, blank=True, default="")
    engagement_level = models.PositiveSmallIntegerField(choices=Engagement.choices, default=Engagement.NONE)
    follow_up_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snooze_reason = models.CharField(max_length=200, blank=True)
    # Kept by services.log_interaction (the one door for interactions) so the analytics read a period's leads
    # alone, never their interactions: how many were logged and when the first one happened.
    interaction_count = models.PositiveIntegerField(default=0)
    first_contact_at = models.DateTimeField(
        null=True, blank=True, help_text="When the first interaction happened."
    )
    last_interaction_kind = models.CharField(max_length=10, blank=True)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When the lead was won or lost.")
    attributes = models.JSONField(default=dict, blank=True)
    # Not auto_now_add: an import or the demo says when a lead really came in (services.create_lead).
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["stage__order", "position", "id"]
        indexes = [
            models.Index(fields=["stage", "position", "id"], name="lead_board_order"),
            # The wake job's query (`due_to_wake`): only snoozed leads are in it, so it stays tiny.
            models.Index(
                fields=["snoozed_until"], name="lead_snoozed_until", condition=Q(snoozed_until__isnull=False)
            ),
            # Analytics: periods by creation; the dashboard's totals from the index alone (Postgres); its
            # insights' first ten by score, follow-up and wake-up time without reading every lead.
            # A period's figures (crm.analytics) from this index alone on Postgres: every column they group,
            # filter or count rides along, so a period reads its slice of the index, never the table.
            models.Index(
                fields=["created_at"],
                include=[
                    "stage",
                    "owner",
                    "source",
                    "first_contact_at",
                    "interaction_count",
                    "lead_score",
                    "closed_at",
                ],
                name="lead_period_figures",
            ),
            models.Index(
                fields=["stage", "owner"],
                include=["expected_value", "lead_score"],
                name="lead_stage_owner_totals",
            ),
            models.Index(fields=["lead_score"], name="lead_score"),
            # Overdue leads by owner (the performance page) from the index alone.
            models.Index(fields=["follow_up_at"], include=["owner"], name="lead_follow_up_owner"),
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

    @property
    def is_due_today(self) -> bool:
        """In the current time zone (the user's, activated by crm.middleware), like `due_today_q`."""
        if self.follow_up_at is None:
            return False
        start, end = local_day()
        return start <= self.follow_up_at < end


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
    # How many workers took it up: one that died is replaced once (the import is all-or-nothing), not forever.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import of {self.original_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}


class UserProfile(models.Model):
    """What a user sets for themselves: for now their time zone (times are entered and shown in it)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty: the site's TIME_ZONE.")

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or settings.TIME_ZONE}"


def user_zone(user) -> ZoneInfo:
    """The user's time zone, or the site's. Reads the profile through the cached relation when loaded."""
    try:
        name = user.profile.time_zone
    except (AttributeError, UserProfile.DoesNotExist):
        name = ""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


class FollowUpQuerySet(models.QuerySet):
    """The follow-ups' vocabulary; `Lead.follow_up_at` is the earliest of a lead's `open()` ones."""

    def open(self):
        return self.filter(state=FollowUp.State.OPEN)

    def past(self):
        return self.exclude(state=FollowUp.State.OPEN)

    def overdue(self, now: datetime | None = None):
        return self.open().filter(due_at__lt=_now(now))

    def due_today(self, now: datetime | None = None, tz=None):
        start, end = local_day(now, tz)
        return self.open().filter(due_at__gte=start, due_at__lt=end)

    def needing_attention(self, now: datetime | None = None, tz=None):
        """Overdue or due today: what the top bar counts and its list shows."""
        _, end = local_day(now, tz)
        return self.open().filter(due_at__lt=end)


class FollowUp(models.Model):
    """The next touch with a lead: when, what for, and the calendar invite that goes with it."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="follow_ups")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    due_at = models.DateTimeField()
    note = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(default=30)
    remind_minutes_before = models.PositiveIntegerField(default=15)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    # The invite's SEQUENCE: raised by every change a calendar must see (RFC 5546), so it replaces the old.
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()
    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # A lead's next open follow-up (kept in Lead.follow_up_at) and the top bar's count per owner.
            models.Index(fields=["lead", "due_at"], name="follow_up_open_lead", condition=Q(state="open")),
            models.Index(fields=["owner", "due_at"], name="follow_up_open_owner", condition=Q(state="open")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gte=1), name="follow_up_duration_positive"),
        ]

    def __str__(self) -> str:
        return f"follow-up with {self.lead} at {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at < timezone.now()

    @property
    def ends_at(self) -> datetime:
        return self.due_at + timedelta(minutes=self.duration_minutes)

    @property
    def remind_at(self) -> datetime:
        return self.due_at - timedelta(minutes=self.remind_minutes_before)


class DeliveryQuerySet(models.QuerySet):
    def due(self, now: datetime | None = None):
        """Pending and due: never tried, a backoff over, or a claim whose lease ran out (its worker died)."""
        return self.filter(state=Delivery.State.PENDING, attempt_at__lte=_now(now))


class Delivery(models.Model):
    """One email to send, claimed before it is sent so that it goes out once.

    A row is `pending` until sent; `attempt_at` is when it may next be tried: its due time, then the end of a
    claim's lease (so a worker that died mid-send lets it be retried), then a backoff after a failure. The
    send job claims due rows with a conditional update and only then sends. One row per follow-up, kind and
    sequence (a unique constraint): a rescheduled follow-up gets a new reminder, a retry never a second one.
    """

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Reminder"
        UPDATE = "update", "Updated invite"
        CANCEL = "cancel", "Cancellation"
        WOKE = "woke", "Lead woke"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent"
        SUPERSEDED = "superseded", "Superseded"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="deliveries")
    follow_up = models.ForeignKey(
        FollowUp, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    sequence = models.PositiveIntegerField(default=0)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    claim = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Exactly the send job's query: pending rows by attempt time. Sent rows (nearly all) stay out.
            models.Index(fields=["attempt_at"], name="delivery_due", condition=Q(state="pending")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["follow_up", "kind", "sequence"],
                name="one_delivery_per_follow_up_kind_sequence",
                condition=Q(follow_up__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.lead_id} ({self.state})"


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
