"""Calendar invites for follow-ups (iCalendar, RFC 5545/5546), built with the icalendar package.

One VEVENT per follow-up with a UID that never changes, so a calendar updates the event it has: a change
raises SEQUENCE and is sent as METHOD:REQUEST again; a cancellation is METHOD:CANCEL with the same UID.
"""

from datetime import UTC, datetime
from email.mime.text import MIMEText
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from crm.models import FollowUp
from crm.people import full_name

REQUEST = "REQUEST"
CANCEL = "CANCEL"


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def lead_url(lead_id: int) -> str:
    return absolute(reverse("lead-detail", args=[lead_id]))


def uid(follow_up: FollowUp) -> str:
    return f"follow-up-{follow_up.pk}@{site_host()}"


def method_for(follow_up: FollowUp) -> str:
    return CANCEL if follow_up.state == FollowUp.State.CANCELLED else REQUEST


def _address(email: str, name: str = "") -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["cn"] = vText(name)
    return address


def build(follow_up: FollowUp, method: str | None = None, now: datetime | None = None) -> bytes:
    method = method or method_for(follow_up)
    lead, owner = follow_up.lead, follow_up.owner
    calendar = Calendar()
    calendar.add("prodid", "-//Pipeline CRM//Follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid(follow_up))
    event.add("sequence", follow_up.sequence)
    event.add("dtstamp", (now or timezone.now()).astimezone(UTC))
    event.add("dtstart", follow_up.due_at.astimezone(UTC))
    event.add("dtend", follow_up.ends_at.astimezone(UTC))
    event.add("summary", f"Follow up: {lead.name}" + (f" ({lead.company})" if lead.company else ""))
    url = lead_url(lead.pk)
    event.add("description", "\n".join(filter(None, [follow_up.note, f"Lead: {url}"])))
    event.add("url", url)
    event.add("status", "CANCELLED" if method == CANCEL else "CONFIRMED")
    sender_name, sender_email = _parse_sender(settings.DEFAULT_FROM_EMAIL)
    event.add("organizer", _address(sender_email, sender_name))
    if owner is not None and owner.email:
        attendee = _address(owner.email, full_name(owner))
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical()


def _parse_sender(value: str) -> tuple[str, str]:
    from email.utils import parseaddr

    name, address = parseaddr(value)
    return name, address or "pipeline@localhost"


def attachment(follow_up: FollowUp, method: str, now: datetime | None = None) -> MIMEText:
    """The invite as a mail part calendars recognise: text/calendar with its METHOD, as invite.ics."""
    part = MIMEText(build(follow_up, method, now).decode(), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    return part
