"""Snooze and follow-ups: every write of their life, as in crm.services (validate, one transaction, history
with the acting user, an event on commit).

The services keep `Lead.follow_up_at` equal to the lead's next open due time, so the board sorts and filters
on one indexed column, and they plan the emails (`Delivery` rows) that crm.reminders sends: a reminder per
follow-up and schedule, an updated invite after a change once an invite went out, a cancellation.
"""

from datetime import datetime, timedelta, tzinfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm import events, services
from crm.models import Delivery, FollowUp, Interaction, Lead, wake_due_q

SNOOZE_PRESETS = {"1h": "1 hour", "4h": "4 hours", "tomorrow": "Tomorrow 9:00", "monday": "Monday 9:00"}
MORNING = 9  # presets that name a day wake the lead at 9:00 in the user's zone
MAX_REASON = 200
MAX_MINUTES = 7 * 24 * 60  # a follow-up lasts, or is reminded of, at most a week ahead
WAKE_BATCH = 500


# --- Reading times --------------------------------------------------------------------------------


def parse_moment(value: str, tz: tzinfo) -> datetime:
    """ISO 8601 as a person or a script sends it: with an offset or `Z` it is absolute, without one it is
    a wall-clock time in `tz` (the user's zone). Raises ValidationError with a readable message."""
    text = (value or "").strip()
    if not text:
        raise ValidationError("Give a date and time.")
    try:
        moment = parse_datetime(text)
        if moment is None:
            moment = datetime.fromisoformat(text)  # a bare date: midnight
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError(f"“{text[:40]}” is not a date and time (use ISO 8601, like 2026-12-03T09:30).")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, tz)
    return moment


def preset_moment(preset: str, now: datetime, tz: tzinfo) -> datetime:
    """1h and 4h from now; tomorrow and next Monday at 9:00 in the user's zone (wall clock, DST or not)."""
    local = timezone.localtime(now, tz)
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "4h":
        return now + timedelta(hours=4)
    if preset == "tomorrow":
        day = local.date() + timedelta(days=1)
    elif preset == "monday":
        day = local.date() + timedelta(days=7 - local.weekday())  # on a Monday: the next one
    else:
        raise ValidationError(
            {"preset": f"“{preset[:20]}” is not a snooze preset (use {', '.join(SNOOZE_PRESETS)})."}
        )
    return datetime(day.year, day.month, day.day, MORNING, tzinfo=tz)


def _require_future(moment: datetime, now: datetime, what: str, field: str) -> None:
    """Refusals name their `field`, so the API answers with a message per field (pages join them)."""
    if moment <= now:
        shown = timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
        raise ValidationError({field: f"{what} must be in the future; {shown} has passed."})


def _minutes(value, name: str, default: int, field: str) -> int:
    if value in (None, ""):
        return default
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"{name} must be a whole number of minutes."}) from None
    if not 0 <= minutes <= MAX_MINUTES:
        raise ValidationError({field: f"{name} must be between 0 and {MAX_MINUTES} minutes."})
    return minutes


# --- Snooze ---------------------------------------------------------------------------------------


@transaction.atomic
def snooze_lead(
    lead_id: int, *, actor, until: datetime, reason: str = "", now: datetime | None = None
) -> Lead:
    now = now or timezone.now()
    lead = services._locked(lead_id)
    services._forbid_unless_can_change(actor, lead)
    _require_future(until, now, "The snooze", "until")
    lead.snoozed_until = until
    lead.snoozed_by = actor
    lead.snooze_reason = (reason or "").strip()[:MAX_REASON]
    services._save(lead, actor, "snoozed", ["snoozed_until", "snoozed_by", "snooze_reason"])
    events.publish(events.LeadSnoozed(actor_id=actor.pk, lead_id=lead.pk, until=until.isoformat()))
    return lead


def _clear_snooze(lead: Lead, actor, reason: str) -> None:
    lead.snoozed_until = None
    lead.snoozed_by = None
    lead.snooze_reason = ""
    services._save(lead, actor, reason, ["snoozed_until", "snoozed_by", "snooze_reason"])
    events.publish(events.LeadSnoozed(actor_id=getattr(actor, "pk", None), lead_id=lead.pk, until=None))


@transaction.atomic
def unsnooze_lead(lead_id: int, *, actor) -> Lead:
    lead = services._locked(lead_id)
    services._forbid_unless_can_change(actor, lead)
    if lead.snoozed_until is not None:
        _clear_snooze(lead, actor, "unsnoozed")
    return lead


def wake_snoozed(now: datetime | None = None, batch: int = WAKE_BATCH) -> list[int]:
    """Wake every lead whose snooze has run out; returns their ids. Safe to run twice at once.

    Each lead wakes in a transaction of its own that re-reads it locked: a lead another run woke, or that
    someone snoozed again meanwhile, no longer matches and is left alone, so its owner gets one email.
    """
    now = now or timezone.now()
    woken = []
    due = Lead.objects.due_to_wake(now).order_by("snoozed_until")
    candidates = list(due.values_list("pk", flat=True)[:batch])
    for pk in candidates:
        with transaction.atomic():
            lead = (
                Lead.objects.select_for_update(of=("self",))
                .select_related("owner")
                .filter(wake_due_q(now), pk=pk)
                .first()
            )
            if lead is None:
                continue
            recipient_id = lead.owner_id or lead.snoozed_by_id
            _clear_snooze(lead, None, "woke")
            if recipient_id is not None:
                Delivery.objects.create(
                    kind=Delivery.Kind.WOKE, lead=lead, recipient_id=recipient_id, attempt_at=now
                )
            woken.append(pk)
    return woken


# --- Follow-ups -----------------------------------------------------------------------------------


def _sync_next_due(lead: Lead) -> None:
    """Lead.follow_up_at := the lead's next open due time (the board's sort and filters read it)."""
    lead.follow_up_at = FollowUp.objects.filter(lead=lead).open().aggregate(next=Min("due_at"))["next"]


def _save_lead(lead: Lead, actor, reason: str) -> None:
    _sync_next_due(lead)
    services._save(lead, actor, reason, ["follow_up_at"])


def _announce(follow_up: FollowUp, actor) -> None:
    events.publish(
        events.FollowUpChanged(
            actor_id=getattr(actor, "pk", None),
            lead_id=follow_up.lead_id,
            follow_up_id=follow_up.pk,
            owner_id=follow_up.owner_id,
        )
    )


def _plan(follow_up: FollowUp, kind: str, at: datetime) -> Delivery:
    return Delivery.objects.create(
        kind=kind,
        lead_id=follow_up.lead_id,
        follow_up=follow_up,
        sequence=follow_up.sequence,
        recipient_id=follow_up.owner_id,
        attempt_at=at,
    )


def _supersede_pending(follow_up: FollowUp, kinds: tuple[str, ...]) -> None:
    """Pending emails that a change made pointless. A claimed one being sent right now still goes out; its
    sender then finds the row superseded and leaves it so."""
    follow_up.deliveries.filter(state=Delivery.State.PENDING, kind__in=kinds).update(
        state=Delivery.State.SUPERSEDED, claim=""
    )


def _invite_went_out(follow_up: FollowUp) -> bool:
    return follow_up.deliveries.filter(
        state=Delivery.State.SENT, kind__in=(Delivery.Kind.REMINDER, Delivery.Kind.UPDATE)
    ).exists()


def _locked_follow_up(follow_up_id: int, actor) -> tuple[FollowUp, Lead]:
    """Lock the lead row, then the follow-up (the order every write here takes, so none deadlock)."""
    lead_id = FollowUp.objects.values_list("lead_id", flat=True).get(pk=follow_up_id)
    lead = services._locked(lead_id)
    services._forbid_unless_can_change(actor, lead)
    follow_up = FollowUp.objects.select_for_update(of=("self",)).select_related("owner").get(pk=follow_up_id)
    return follow_up, lead


def _require_open(follow_up: FollowUp) -> None:
    if not follow_up.is_open:
        raise ValidationError(f"This follow-up is {follow_up.get_state_display().lower()} already.")


@transaction.atomic
def schedule_follow_up(
    lead_id: int,
    *,
    actor,
    due_at: datetime,
    note: str = "",
    duration_minutes=None,
    remind_minutes_before=None,
    now: datetime | None = None,
) -> FollowUp:
    now = now or timezone.now()
    lead = services._locked(lead_id)
    services._forbid_unless_can_change(actor, lead)
    _require_future(due_at, now, "The follow-up", "due_at")
    follow_up = FollowUp(
        lead=lead,
        # The lead's owner follows up; an agent scheduling on an unassigned lead does it themselves.
        owner=lead.owner or actor,
        due_at=due_at,
        note=(note or "").strip(),
        duration_minutes=_minutes(duration_minutes, "The duration", 30, "duration_minutes") or 30,
        remind_minutes_before=_minutes(remind_minutes_before, "The reminder", 15, "remind_minutes_before"),
    )
    follow_up._history_user = actor
    follow_up.full_clean(exclude=["lead", "owner"])
    follow_up.save()
    _plan(follow_up, Delivery.Kind.REMINDER, follow_up.remind_at)
    _save_lead(lead, actor, "scheduled a follow-up")
    _announce(follow_up, actor)
    return follow_up


@transaction.atomic
def edit_follow_up(
    follow_up_id: int,
    *,
    actor,
    due_at: datetime | None = None,
    note: str | None = None,
    duration_minutes=None,
    remind_minutes_before=None,
    now: datetime | None = None,
) -> FollowUp:
    """Edit or reschedule. A new time gets a new reminder (also when the old one went out); a change a
    calendar shows raises SEQUENCE, and when an invite went out already, the updated invite is sent now."""
    now = now or timezone.now()
    follow_up, lead = _locked_follow_up(follow_up_id, actor)
    _require_open(follow_up)
    changes = {}
    if due_at is not None and due_at != follow_up.due_at:
        _require_future(due_at, now, "The follow-up", "due_at")
        changes["due_at"] = due_at
    if note is not None and note.strip() != follow_up.note:
        changes["note"] = note.strip()
    if duration_minutes not in (None, ""):
        changes["duration_minutes"] = _minutes(duration_minutes, "The duration", 30, "duration_minutes") or 30
    if remind_minutes_before not in (None, ""):
        changes["remind_minutes_before"] = _minutes(
            remind_minutes_before, "The reminder", 15, "remind_minutes_before"
        )
    changes = {name: value for name, value in changes.items() if getattr(follow_up, name) != value}
    if not changes:
        return follow_up
    old_remind_at, invite_out = follow_up.remind_at, _invite_went_out(follow_up)
    for name, value in changes.items():
        setattr(follow_up, name, value)
    follow_up.sequence += 1
    follow_up._history_user = actor
    follow_up.full_clean(exclude=["lead", "owner"])
    follow_up.save()
    if "due_at" in changes or follow_up.remind_at != old_remind_at:
        _supersede_pending(follow_up, (Delivery.Kind.REMINDER,))
        _plan(follow_up, Delivery.Kind.REMINDER, follow_up.remind_at)
    if invite_out and changes.keys() - {"remind_minutes_before"}:
        _supersede_pending(follow_up, (Delivery.Kind.UPDATE,))
        _plan(follow_up, Delivery.Kind.UPDATE, now)
    _save_lead(lead, actor, "rescheduled a follow-up" if "due_at" in changes else "edited a follow-up")
    _announce(follow_up, actor)
    return follow_up


@transaction.atomic
def complete_follow_up(follow_up_id: int, *, actor, log_kind: str = "", notes: str = "") -> FollowUp:
    """Done; optionally logging what happened as an interaction, in the same transaction."""
    follow_up, lead = _locked_follow_up(follow_up_id, actor)
    _require_open(follow_up)
    if log_kind:
        if log_kind not in Interaction.Kind.values:
            raise ValidationError({"log_kind": f"“{log_kind[:20]}” is not a kind of interaction."})
        services.log_interaction(lead.pk, actor=actor, kind=log_kind, notes=notes or follow_up.note)
        lead.refresh_from_db()
    _close(follow_up, lead, actor, FollowUp.State.DONE, "completed a follow-up")
    return follow_up


@transaction.atomic
def cancel_follow_up(follow_up_id: int, *, actor, now: datetime | None = None) -> FollowUp:
    """Cancelled; a calendar that got the invite gets METHOD:CANCEL for the same UID."""
    follow_up, lead = _locked_follow_up(follow_up_id, actor)
    _require_open(follow_up)
    invite_out = _invite_went_out(follow_up)
    cancelled = FollowUp.State.CANCELLED
    _close(follow_up, lead, actor, cancelled, "cancelled a follow-up", raise_sequence=invite_out)
    if invite_out:
        _plan(follow_up, Delivery.Kind.CANCEL, now or timezone.now())
    return follow_up


def _close(follow_up: FollowUp, lead: Lead, actor, state: str, reason: str, raise_sequence=False) -> None:
    follow_up.state = state
    follow_up.closed_at = timezone.now()
    follow_up.sequence += int(raise_sequence)
    follow_up._history_user = actor
    follow_up.save()
    _supersede_pending(follow_up, (Delivery.Kind.REMINDER, Delivery.Kind.UPDATE))
    _save_lead(lead, actor, reason)
    _announce(follow_up, actor)
