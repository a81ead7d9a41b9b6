"""The team: who may log in and in which role. The one door for adding, re-roling, deactivating people and
handing their leads over, so the rules (a manager does it, the last manager stays) live in one place.

Saving a user (deactivation, a new role) makes realtime.sessions ask that user's sockets to re-check their
log-in, so a deactivated agent's open boards close without anything here knowing about sockets.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from crm import emails, invites, services
from crm.models import AGENTS_GROUP, MANAGERS_GROUP, Lead, Stage
from crm.people import full_name
from crm.permissions import is_manager

User = get_user_model()
ROLES = {MANAGERS_GROUP: "Manager", AGENTS_GROUP: "Agent"}


def _forbid_unless_manager(actor) -> None:
    if actor is not None and not is_manager(actor):
        raise PermissionDenied("Only a manager can change the team.")


def split_name(full_name: str) -> tuple[str, str]:
    """ "Mary Ann Smith" -> ("Mary Ann", "Smith"): get_full_name() gives the name back as it was typed."""
    parts = " ".join((full_name or "").split()).rsplit(" ", 1)
    if not parts[0]:
        raise ValidationError({"full_name": "Give the person's name."})
    first, last = [*parts, ""][:2]
    if len(first) > 150 or len(last) > 150:
        raise ValidationError({"full_name": "That name is too long."})
    return first, last


def check_email(email: str, *, other_than=None) -> str:
    """An address of its own: set-password links and reminders go to it, so two people cannot share one."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": "Enter an email address like ana@example.com."}) from error
    taken = User.objects.filter(email__iexact=email)
    if other_than is not None:
        taken = taken.exclude(pk=other_than.pk)
    if taken.exists():
        raise ValidationError({"email": f"{email} belongs to someone else in the team."})
    return email


def role_of(user) -> str:
    return MANAGERS_GROUP if is_manager(user) else AGENTS_GROUP


def _check_role(role: str) -> Group:
    if role not in ROLES:
        raise ValidationError({"role": "Pick agent or manager."})
    return Group.objects.get_or_create(name=role)[0]


def _active_managers():
    return User.objects.filter(is_active=True, groups__name=MANAGERS_GROUP)


def _keep_a_manager(user, action: str) -> None:
    """Somebody must be able to reach these settings: the last active manager cannot leave the role."""
    if not _active_managers().exclude(pk=user.pk).exists():
        raise ValidationError(f"{full_name(user)} is the only manager; {action}.")


@transaction.atomic
def add_member(
    *, actor, username: str, full_name: str, email: str, role: str, password: str = "", staff: bool = False
):
    """A new account. Without a password it has none usable: `send_set_password_link` lets them choose one."""
    _forbid_unless_manager(actor)
    username = (username or "").strip()
    errors = {}
    try:
        User.username_validator(username)
        if not username:
            raise ValidationError("Give a user name to log in with.")
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(f"“{username}” is taken.")
    except ValidationError as error:
        errors["username"] = error.messages
    for check in (lambda: split_name(full_name), lambda: check_email(email), lambda: _check_role(role)):
        try:
            check()
        except ValidationError as error:
            errors.update(error.message_dict)
    first, last = split_name(full_name) if "full_name" not in errors else ("", "")
    user = User(username=username, first_name=first, last_name=last, email=(email or "").strip())
    if password and not errors:
        try:
            validate_password(password, user)
        except ValidationError as error:
            errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.is_staff = user.is_superuser = staff
    user.save()
    user.groups.add(_check_role(role))
    return user


def send_set_password_link(user) -> None:
    """Email a one-time link to choose a password (Django's password-reset token: it stops working once a
    password is set). Sent after the commit, so a rolled-back account is never announced."""
    url = invites.absolute(
        reverse(
            "set-password",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    )
    message = emails.make("set-password", {"user": user, "url": url}, to=[user.email])
    transaction.on_commit(message.send)


@transaction.atomic
def set_role(user_id: int, *, actor, role: str):
    _forbid_unless_manager(actor)
    group = _check_role(role)
    user = User.objects.select_for_update().get(pk=user_id)
    if role_of(user) == role:
        return user
    if role != MANAGERS_GROUP:
        _keep_a_manager(user, "make someone else a manager first")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(group)
    user._pipeline_is_manager = role == MANAGERS_GROUP
    return user


@transaction.atomic
def hand_over_leads(user_id: int, *, actor, to) -> int:
    """Give someone's open leads to `to` (None: unassigned), each through update_lead (history, live card)."""
    _forbid_unless_manager(actor)
    if to is not None and (not to.is_active or to.pk == user_id):
        raise ValidationError({"hand_to": "Hand the leads to another active member of the team."})
    lead_ids = list(Lead.objects.open().filter(owner_id=user_id).values_list("pk", flat=True))
    for lead_id in lead_ids:
        services.update_lead(lead_id, actor=actor, version=None, changes={"owner": to})
    return len(lead_ids)


@transaction.atomic
def deactivate(user_id: int, *, actor, hand_to=None, hand_over: bool = False) -> int:
    """They can no longer log in and their open sockets close; their history stays. With `hand_over`, their
    open leads go to `hand_to` (or nobody) in the same step. Returns how many leads changed hands."""
    _forbid_unless_manager(actor)
    user = User.objects.select_for_update().get(pk=user_id)
    if actor is not None and user.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself; another manager can.")
    if not user.is_active:
        raise ValidationError(f"{full_name(user)} is already deactivated.")
    if is_manager(user):
        _keep_a_manager(user, "make someone else a manager first")
    handed = hand_over_leads(user.pk, actor=actor, to=hand_to) if hand_over else 0
    user.is_active = False
    user.save(update_fields=["is_active"])
    return handed


@transaction.atomic
def reactivate(user_id: int, *, actor):
    _forbid_unless_manager(actor)
    user = User.objects.select_for_update().get(pk=user_id)
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def members():
    """The team as the settings list it: active first, by name, with their role and open leads counted."""
    managers = User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=MANAGERS_GROUP)
    return User.objects.annotate(
        manager=Exists(managers),
        open_leads=Count("leads", filter=Q(leads__stage__kind=Stage.Kind.OPEN)),
    ).order_by("-is_active", "first_name", "last_name", "username")
