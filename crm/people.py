"""How people are named on every page: by their full name; the username only where nothing else exists.

The username is a log-in handle (and the CSV's owner column), not what a team calls each other. Pages, socket
frames and history all name users through `full_name` (or the `person` template filter), so one rule decides.
"""


def name_from(first: str | None, last: str | None, username: str | None) -> str:
    """The name from a row's parts (for `values()` reads that carry no User)."""
    full = f"{first or ''} {last or ''}".strip()
    return full or (username or "")


def full_name(user, default: str = "") -> str:
    """ "Alice Martin", or "alice" for an account with no name; `default` when there is no user."""
    if user is None:
        return default
    return name_from(user.first_name, user.last_name, user.get_username())


# For `values()` reads: add these to the fields and pass the row to `row_name`.
OWNER_NAME_FIELDS = ("owner__first_name", "owner__last_name", "owner__username")


def row_name(row: dict, prefix: str = "owner", default: str = "") -> str:
    return (
        name_from(
            row.get(f"{prefix}__first_name"), row.get(f"{prefix}__last_name"), row.get(f"{prefix}__username")
        )
        or default
    )
