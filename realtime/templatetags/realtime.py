from django import template

from realtime.broadcast import latest_seq

register = template.Library()


@register.simple_tag
def board_seq() -> int:
    """The newest board event number, for the page's socket to resume from."""
    return latest_seq()
