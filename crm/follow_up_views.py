"""Thin views for snooze and follow-ups: parse, call crm.follow_ups, render the card or a fragment.

Times in forms are read in the user's zone (activated by crm.middleware) unless they carry an offset.
Refusals answer as moves do (crm.views.domain_errors): 403, 404, 400 with the reason, never a 500.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap

from crm import follow_up_queries, follow_ups, invites, profiles, queries
from crm.models import FollowUp, Interaction
from crm.permissions import can_change
from crm.views import card_response, domain_errors, message_response, notify

SNOOZE_DIALOG = "crm/partials/snooze_dialog.html"
FOLLOW_UP_DIALOG = "crm/partials/follow_up_dialog.html"


def follow_up_errors(view):
    """domain_errors, and a 404 for a follow-up that does not exist."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except FollowUp.DoesNotExist:
            return message_response(request, 404, "That follow-up does not exist.")

    return domain_errors(wrapper)


def _where(request: HttpRequest) -> str:
    """Which screen asked: the board's dialog (`dialog`), the lead page (`page`) or a script (``)."""
    return request.POST.get("in") or request.GET.get("in") or ""


def _moment(request: HttpRequest, name: str, required: bool):
    value = request.POST.get(name, "")
    if not value.strip():
        if required:
            raise ValidationError(f"Give “{name}”: a date and time (ISO 8601, like 2026-12-03T09:30).")
        return None
    return follow_ups.parse_moment(value, timezone.get_current_timezone())


def _shown(moment) -> str:
    return timezone.localtime(moment).strftime("%a %d %b, %H:%M")


# --- Snooze ---------------------------------------------------------------------------------------


def _snooze_section(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = queries.card(lead_id)
    context = {
        "lead": lead,
        "can_change": can_change(request.user, lead),
        "presets": follow_ups.SNOOZE_PRESETS,
        "refresh_version": True,  # the lead page's edit form must not turn stale (a false conflict)
    }
    return render(request, "crm/partials/snooze_section.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def snooze(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "GET":  # the card's quick action opens this in the board's dialog
        lead = get_object_or_404(queries.card_queryset(), pk=pk)
        return render(request, SNOOZE_DIALOG, {"lead": lead, "presets": follow_ups.SNOOZE_PRESETS})
    preset = request.POST.get("preset", "").strip()
    if preset:
        until = follow_ups.preset_moment(preset, timezone.now(), timezone.get_current_timezone())
    else:
        until = _moment(request, "until", required=False)
        if until is None:
            raise ValidationError("Say until when: a preset (1h, 4h, tomorrow, monday) or a date and time.")
    lead = follow_ups.snooze_lead(pk, actor=request.user, until=until, reason=request.POST.get("reason", ""))
    message = f"Snoozed {lead.name} until {_shown(lead.snoozed_until)}."
    return _snooze_answer(request, lead.pk, message)


@login_required
@require_POST
@domain_errors
def unsnooze(request: HttpRequest, pk: int) -> HttpResponse:
    lead = follow_ups.unsnooze_lead(pk, actor=request.user)
    return _snooze_answer(request, lead.pk, f"{lead.name} is back on the board.")


def _snooze_answer(request: HttpRequest, lead_id: int, message: str) -> HttpResponse:
    where = _where(request)
    if where == "page":
        return notify(_snooze_section(request, lead_id), message)
    response = card_response(request, queries.card(lead_id))
    if where == "dialog":
        # The board's own socket frame moves the card (off the board, or back): nothing to swap here.
        return notify(reswap(response, "none"), message)
    return response


# --- Follow-ups -----------------------------------------------------------------------------------


def _fields(request: HttpRequest, due_required: bool) -> dict:
    return {
        "due_at": _moment(request, "due_at", required=due_required),
        "note": request.POST.get("note"),
        "duration_minutes": request.POST.get("duration_minutes"),
        "remind_minutes_before": request.POST.get("remind_minutes_before"),
    }


def _follow_up_response(request: HttpRequest, follow_up_id: int, status: int = 200, message: str = ""):
    follow_up = follow_up_queries.one(follow_up_id)
    context = {
        "follow_up": follow_up,
        "can_change": can_change(request.user, follow_up.lead),
        "kinds": Interaction.Kind.choices,
        # The lead's version moved on: the lead page's edit form must not turn stale (a false conflict).
        "refresh_version": _where(request) == "page",
        "lead": follow_up.lead,
    }
    response = render(request, "crm/partials/follow_up.html", context, status=status)
    if _where(request) == "dialog":
        response = reswap(response, "none")  # the card changes through the board's socket
    return notify(response, message) if message else response


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def follow_up_create(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "GET":  # the card's quick action
        lead = get_object_or_404(queries.card_queryset(), pk=pk)
        return render(request, FOLLOW_UP_DIALOG, {"lead": lead})
    fields = _fields(request, due_required=True)
    fields["note"] = fields["note"] or ""
    follow_up = follow_ups.schedule_follow_up(pk, actor=request.user, **fields)
    message = f"Follow-up with {follow_up.lead.name} on {_shown(follow_up.due_at)}."
    return _follow_up_response(request, follow_up.pk, status=201, message=message)


@login_required
@require_POST
@follow_up_errors
def follow_up_edit(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = follow_ups.edit_follow_up(pk, actor=request.user, **_fields(request, due_required=False))
    return _follow_up_response(request, follow_up.pk, message=f"Follow-up on {_shown(follow_up.due_at)}.")


@login_required
@require_POST
@follow_up_errors
def follow_up_complete(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = follow_ups.complete_follow_up(
        pk, actor=request.user, log_kind=request.POST.get("log_kind", ""), notes=request.POST.get("notes", "")
    )
    return _follow_up_response(request, follow_up.pk, message="Follow-up done.")


@login_required
@require_POST
@follow_up_errors
def follow_up_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = follow_ups.cancel_follow_up(pk, actor=request.user)
    return _follow_up_response(request, follow_up.pk, message="Follow-up cancelled.")


@login_required
@require_GET
@follow_up_errors
def follow_up_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Add to calendar": the same invite the reminder carries (a cancelled one as METHOD:CANCEL)."""
    follow_up = FollowUp.objects.select_related("lead", "owner").get(pk=pk)
    response = HttpResponse(invites.build(follow_up), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="follow-up-{follow_up.pk}.ics"'
    return response


@login_required
@require_GET
def due_list(request: HttpRequest) -> HttpResponse:
    """What the top bar's count opens: the user's overdue and due-today follow-ups."""
    follow_ups_due = list(follow_up_queries.needing_attention(request.user))
    return render(request, "crm/follow_ups_due.html", {"follow_ups": follow_ups_due, "now": timezone.now()})


@login_required
@require_GET
def due_count(request: HttpRequest) -> HttpResponse:
    """The top bar's count, loaded after the page (no query on every page) and then kept live by socket."""
    context = {"due_count": follow_up_queries.due_count(request.user)}
    return render(request, "crm/partials/due_count.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def time_zone(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        profiles.set_time_zone(request.user, request.POST.get("time_zone", ""))
        timezone.activate(profiles.zone_of(request.user))
    context = {
        "zones": profiles.ZONES,
        "current": timezone.get_current_timezone_name(),
        "saved": request.method == "POST",
        "next": reverse("board"),
    }
    return render(request, "crm/time_zone.html", context)
