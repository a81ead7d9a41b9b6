from django import template

from crm import people

register = template.Library()


@register.filter
def person(user, default: str = "") -> str:
    """`{{ lead.owner|person:"unassigned" }}`: a user's full name (username if they have none)."""
    return people.full_name(user or None, default)
