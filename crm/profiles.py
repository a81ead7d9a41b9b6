"""A user's own settings (name, email, time zone, password): the one door for writing them."""

from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from crm import team
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


@transaction.atomic
def update_profile(user, *, full_name: str, email: str, time_zone: str):
    """Name, email and zone in one save; every problem at once, keyed by field, nothing saved if any."""
    errors, first, last = {}, user.first_name, user.last_name
    try:
        first, last = team.split_name(full_name)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        email = team.check_email(email, other_than=user)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        set_time_zone(user, time_zone)
    except ValidationError as error:
        errors["time_zone"] = error.messages
    if errors:
        raise ValidationError(errors)
    user.first_name, user.last_name, user.email = first, last, email
    user.save(update_fields=["first_name", "last_name", "email"])
    return user


@transaction.atomic
def set_password(user, password: str):
    """A new password, checked by the site's validators. The caller keeps its own session (Django's
    update_session_auth_hash); other sessions and their sockets end, as a changed password should."""
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def zone_of(user) -> ZoneInfo:
    return user_zone(user) if hasattr(user, "profile") else ZoneInfo(settings.TIME_ZONE)
