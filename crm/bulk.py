"""Bulk INSERTs that keep a 45,000-row import to seconds: Postgres COPY, or SQLite multi-row INSERTs.

Only `crm.services` writes through this (its bulk lead creation owns the rows' and history rows' shape).
"""

from collections.abc import Callable

from django.db import connection, models


class BulkTable:
    """Bulk INSERTs for one model, from dicts of column values.

    Not Model.objects.bulk_create: it compiles every value through several layers, about 1 ms for a lead and
    its history row, so 30-40 s for 45,000 leads. Here only the types the driver cannot take as they are
    (dates, decimals, JSON) go through their field's conversion, repeated values (the import's timestamp) are
    converted once, and rows go in as Postgres COPY or SQLite multi-row INSERTs.
    """

    CONVERTED = (models.DateTimeField, models.DecimalField, models.JSONField)

    def __init__(self, model):
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.defaults = [None if f.null else f.get_default() for f in self.fields]
        self.converters = [_converter(f) if isinstance(f, self.CONVERTED) else None for f in self.fields]
        quote = connection.ops.quote_name
        self.table = quote(model._meta.db_table)
        self.pk = quote(model._meta.pk.column)
        self.columns = ", ".join(quote(f.column) for f in self.fields)

    def values(self, row: dict) -> list:
        values = [row.get(f.attname, default) for f, default in zip(self.fields, self.defaults, strict=True)]
        for i, convert in enumerate(self.converters):
            if convert is not None and values[i] is not None:
                values[i] = convert(values[i])
        return values

    def insert(self, rows: list[dict]) -> None:
        if connection.vendor == "postgresql":
            self._copy(self.columns, [self.values(row) for row in rows])
        else:
            self._insert_many([self.values(row) for row in rows], returning=False)

    def insert_returning_ids(self, rows: list[dict]) -> list[int]:
        """Insert and return the new ids, in the rows' order."""
        if connection.vendor != "postgresql":
            return self._insert_many([self.values(row) for row in rows], returning=True)
        # COPY returns nothing, so take the ids from the table's sequence first.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [self.table, self.pk.strip('"'), len(rows)],
            )
            ids = sorted(pk for (pk,) in cursor.fetchall())
        self._copy(
            f"{self.pk}, {self.columns}", [[pk, *self.values(row)] for pk, row in zip(ids, rows, strict=True)]
        )
        return ids

    def _copy(self, columns: str, params: list[list]) -> None:
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy,
        ):
            for values in params:
                copy.write_row(values)

    def _insert_many(self, params: list[list], returning: bool) -> list[int]:
        """SQLite: many rows a statement, within the parameter limit Django assumes (999).

        RETURNING gives the ids in VALUES order, as Django's own bulk_create relies on.
        """
        row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        per_statement = max(1, (connection.features.max_query_params or 999) // len(self.fields))
        suffix = f" RETURNING {self.pk}" if returning else ""
        ids: list[int] = []
        with connection.cursor() as cursor:
            for start in range(0, len(params), per_statement):
                chunk = params[start : start + per_statement]
                rows = ", ".join([row] * len(chunk))
                sql = f"INSERT INTO {self.table} ({self.columns}) VALUES {rows}{suffix}"
                cursor.execute(sql, [value for values in chunk for value in values])
                if returning:
                    ids += [pk for (pk,) in cursor.fetchall()]
        return ids


def _converter(field) -> Callable:
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    converted: dict = {}

    def convert(value):
        if value not in converted:
            converted[value] = field.get_db_prep_save(value, connection)
        return converted[value]

    return convert
