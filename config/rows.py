"""One-statement INSERTs for rows written on every money request (purchases, holds, journals,
audit records, purchase events).

`Model.objects.create()` rebuilds its INSERT through the SQL compiler on every call; on the
purchase path that compiler work was a large share of the application's CPU (see
docs/PERFORMANCE.md). Here the statement text is built once per model and process, and each
call only converts the values (the same `pre_save` / `get_db_prep_save` the ORM uses, so
defaults, `auto_now_add` and JSON encoding behave exactly as with `create()`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.db import connection, models

Execute = Callable[[Any, str, list[Any]], None]


def _plain_execute(cursor: Any, sql: str, params: list[Any]) -> None:
    cursor.execute(sql, params)


@cache
def _statement(model: type[models.Model], vendor: str, on_conflict_do_nothing: bool) -> tuple[list[Any], str]:
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    conflict = " ON CONFLICT DO NOTHING" if on_conflict_do_nothing else ""
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}){conflict} "  # noqa: S608 - identifiers from model metadata, values are parameters
        f"RETURNING {quote(meta.pk.column)}"
    )
    return fields, sql


def insert_row(obj: models.Model, *, on_conflict_do_nothing: bool = False, execute: Execute | None = None) -> bool:
    """INSERT `obj` in one round trip and set its primary key.

    Returns True when the row was inserted. With `on_conflict_do_nothing`, a UNIQUE
    constraint that already holds a row (after waiting for a concurrent inserter to commit
    or roll back) returns False instead of raising, and costs no savepoint. `execute` lets a
    caller send the statement its own way (the ledger prefixes its lock timeout)."""
    fields, sql = _statement(type(obj), connection.vendor, on_conflict_do_nothing)
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with connection.cursor() as cursor:
        (execute or _plain_execute)(cursor, sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True
