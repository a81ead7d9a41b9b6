from django import template

from crm import permissions

register = template.Library()


@register.filter
def can_change(lead, user) -> bool:
    """`{{ lead|can_change:user }}`: the card says whether its viewer may move it; the browser only obeys."""
    return permissions.can_change(user, lead)
