"""Migration operations for PostgreSQL-only guards (triggers, partial indexes).

`make run` uses SQLite, where the same code runs with the application checks only; the test
suite and every concurrency claim run on PostgreSQL, where these guards apply (DESIGN §10).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


class PostgresSQL(migrations.RunSQL):
    """RunSQL that runs on PostgreSQL and is a no-op elsewhere."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def append_only(table: str) -> PostgresSQL:
    """A trigger refusing UPDATE and DELETE on `table` (TRUNCATE, used by test flushes, is
    unaffected). Corrections are new rows."""
    function = f"{table}_append_only"
    return PostgresSQL(
        sql=f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% on {table} is not allowed: the table is append-only', TG_OP
                USING ERRCODE = 'restrict_violation';
        END;
        $$ LANGUAGE plpgsql;
        CREATE TRIGGER {function}
            BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {function}();
        """,
        reverse_sql=f"DROP TRIGGER IF EXISTS {function} ON {table}; DROP FUNCTION IF EXISTS {function}();",
    )
