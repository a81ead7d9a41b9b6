from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    """Keyset pages by id: a card moved or edited while a script pages through is neither skipped nor repeated
    (board order changes with every drag; ids never do)."""

    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 200


class NewestFirst(Cursor):
    ordering = ("-occurred_at", "-id")


class Latest(Cursor):
    ordering = "-created_at"
