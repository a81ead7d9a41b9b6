"""Who may see and change what: everyone on the team sees every lead; managers change any lead; agents change
leads they own or that nobody owns."""

from crm.models import MANAGERS_GROUP


def is_manager(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_pipeline_is_manager", None)
    if cached is None:
        cached = user.groups.filter(name=MANAGERS_GROUP).exists()
        user._pipeline_is_manager = cached
    return cached


def can_change(user, lead) -> bool:
    return user.is_authenticated and (lead.owner_id in (None, user.pk) or is_manager(user))


def can_see(user, lead) -> bool:
    """Whether the user may see this lead (its page, its live frames): every active member of the team."""
    return user.is_authenticated and user.is_active
