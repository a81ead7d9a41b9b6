"""The lead page's snooze and follow-up sections, loaded by the template itself (the page's view stays as
it is)."""

from django import template

from crm import follow_up_queries, follow_ups
from crm.models import Interaction
from crm.permissions import can_change

register = template.Library()


@register.inclusion_tag("crm/partials/snooze_section.html", takes_context=True)
def snooze_section(context, lead):
    user = context["request"].user
    return {
        "lead": lead,
        "can_change": can_change(user, lead),
        "presets": follow_ups.SNOOZE_PRESETS,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("crm/partials/follow_ups_section.html", takes_context=True)
def follow_ups_section(context, lead):
    user = context["request"].user
    return {
        "lead": lead,
        "follow_ups": follow_up_queries.for_lead(lead),
        "can_change": can_change(user, lead),
        "kinds": Interaction.Kind.choices,
        "csrf_token": context.get("csrf_token"),
    }
