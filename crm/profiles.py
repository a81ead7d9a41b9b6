"""A user's own settings (for now their time zone): the one door for writing them."""

from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.models import UserProfile, user_zone

ZONES = sorted(available_timezones() - {"localtime"})


@transaction.atomic
def set_time_zone(user, name: str) -> UserProfile:
    name = (name or "").strip()
    if name and name not in ZONES:
        raise ValidationError(f"“{name[:60]}” is not a time zone (like Europe/Paris or America/New_York).")
    profile, _ = UserProfile.objects.update_or_create(user=user, defaults={"time_zone": name})
    user.profile = profile  # the cached relation: the rest of this request sees the new zone
    return profile


def zone_of(user) -> ZoneInfo:
    return user_zone(user) if hasattr(user, "profile") else ZoneInfo(settings.TIME_ZONE)
