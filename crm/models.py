"""The pipeline's data: stages, sources, leads and what agents did with them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
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


class LeadSource(models.Model):
    name = models.CharField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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

    class Meta:
        ordering = ["stage__order", "position", "id"]
        indexes = [models.Index(fields=["stage", "position", "id"], name="lead_board_order")]
        constraints = [
            models.CheckConstraint(condition=Q(lead_score__lte=100), name="lead_score_0_100"),
        ]

    def __str__(self) -> str:
        return self.name


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
