"""One-statement INSERTs for rows written on every money request (purchases, holds, journals,
audit records, purchase events).

`Model.objects.create()` rebuilds its INSERT through the SQL compiler on every call; on the
purchase path that compiler work was a large share of the application's CPU (see
docs/PERFORMANCE.md). Here the statement text is built once per model and process, and each
call only converts the values (the same `pre_save` / `get_db_prep_save` the ORM uses, so
defaults, `auto_now_add` and JSON encoding behave exactly as with `create()`).

Deferred statements: inside `deferring()`, `insert_row(obj, defer=True)` does not go to the
database at once; it rides in the same round trip as the next statement sent through
`execute_with_deferred()` (the ledger's statements use it), and is sent on its own at the
latest when the `deferring()` block ends. A purchase's INSERT so travels with its hold's, a
hold's audit row with the wallet UPDATE: two round trips fewer per purchase. Only where the
driver takes several statements in one execute (PostgreSQL with client-side binding, Django's
default for psycopg 3); elsewhere `defer=True` executes at once. A deferred INSERT's errors
(a UNIQUE violation) surface at the statement that carries it, inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models, transaction

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


def insert_row(
    obj: models.Model, *, on_conflict_do_nothing: bool = False, execute: Execute | None = None, defer: bool = False
) -> bool:
    """INSERT `obj` in one round trip and set its primary key.

    Returns True when the row was inserted. With `on_conflict_do_nothing`, a UNIQUE
    constraint that already holds a row (after waiting for a concurrent inserter to commit
    or roll back) returns False instead of raising, and costs no savepoint. `execute` lets a
    caller send the statement its own way (the ledger prefixes its lock timeout). `defer`:
    see the module docstring; the primary key is set when the statement has run."""
    fields, sql = _statement(type(obj), connection.vendor, on_conflict_do_nothing)
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    if defer and not on_conflict_do_nothing and defer_statement(sql, values, lambda row: _inserted(obj, row)):
        return True
    with connection.cursor() as cursor:
        (execute or _plain_execute)(cursor, sql, values)
        row = cursor.fetchone()
    return _inserted(obj, row)


def _inserted(obj: models.Model, row: tuple[Any, ...] | None) -> bool:
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


# --- deferred statements ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Deferred:
    sql: str
    params: list[Any]
    on_row: Callable[[tuple[Any, ...] | None], Any]


def _deferring() -> bool:
    return getattr(connection, "rows_deferred", None) is not None


def defer_statement(sql: str, params: list[Any], on_row: Callable[[tuple[Any, ...] | None], Any]) -> bool:
    """Queue one statement (its RETURNING row, or None, goes to `on_row` once it has run) in a
    `deferring()` block; False, and nothing queued, outside one (the caller runs it itself)."""
    if not _deferring():
        return False
    connection.rows_deferred.append(_Deferred(sql, list(params), on_row))  # type: ignore[attr-defined]
    return True


@contextmanager
def deferring() -> Iterator[None]:
    """A block in which `insert_row(..., defer=True)` may wait for the next statement. What is
    still waiting when the block ends normally is sent then; when it ends with an exception,
    the transaction is marked for rollback (a queued INSERT that never ran must not commit
    silently without it)."""
    if _deferring() or connection.vendor != "postgresql" or not client_side_binding():
        yield
        return
    connection.rows_deferred = []  # type: ignore[attr-defined]
    try:
        yield
    except BaseException:
        if connection.rows_deferred and connection.in_atomic_block:  # type: ignore[attr-defined]
            transaction.set_rollback(True)
        raise
    else:
        if connection.rows_deferred:  # type: ignore[attr-defined]
            with connection.cursor() as cursor:
                execute_with_deferred(cursor, None, [])
    finally:
        connection.rows_deferred = None  # type: ignore[attr-defined]


def client_side_binding() -> bool:
    return not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")


def execute_relaxed(cursor: Any, sql: str, params: list[Any] | dict[str, Any]) -> None:
    """Run one statement in autocommit without waiting for its commit's WAL flush:
    `SET LOCAL synchronous_commit TO OFF` sent in the same round trip, which PostgreSQL runs as
    one implicit transaction, so the setting ends with it. Only for writes whose loss in a
    database crash loses nothing and fails safe (a stored idempotent answer, the reset of a
    PIN's failed-attempt count). Inside a transaction the setting would leak into the caller's
    commit, so there, and off PostgreSQL or without client-side binding, it runs plainly. The
    cursor is left on `sql`'s result."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block and client_side_binding():
        cursor.execute("SET LOCAL synchronous_commit TO OFF; " + sql, params)
        cursor.nextset()
        return
    cursor.execute(sql, params)


def execute_with_deferred(cursor: Any, sql: str | None, params: list[Any] | tuple[Any, ...]) -> None:
    """Execute `sql` (None: only what waits) after the deferred statements, in one round trip;
    each deferred statement's row goes to its callback, and the cursor is left on `sql`'s
    result. `sql` may itself be several statements: the cursor is on the first of them."""
    waiting = getattr(connection, "rows_deferred", None) or []
    if not waiting:
        if sql is not None:
            cursor.execute(sql, params)
        return
    connection.rows_deferred = []  # type: ignore[attr-defined]
    statements = [item.sql for item in waiting] + ([sql] if sql is not None else [])
    cursor.execute("; ".join(statements), [p for item in waiting for p in item.params] + list(params))
    for index, item in enumerate(waiting):
        if index:
            cursor.nextset()
        item.on_row(cursor.fetchone())
    if sql is not None:
        cursor.nextset()
