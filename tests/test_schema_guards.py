"""The database really has every unique key, constraint and index the models declare.

The money guarantees live in these (one journal per key, one open attempt per purchase, one
capture per reference...). A migration can lose one silently: Django drops every
single-column index on a column whose own index it removes, partial unique ones included.
This test compares the models with PostgreSQL's catalogue, so that cannot pass unnoticed.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

PROJECT_APPS = {"platform", "audit", "accounts", "wallets", "pricing", "vtu", "payments", "backoffice"}


def _models():
    for model in apps.get_models():
        if model._meta.app_label in PROJECT_APPS and model._meta.managed and not model._meta.proxy:
            yield model


def test_every_declared_constraint_and_index_exists():
    missing = []
    with connection.cursor() as cursor:
        for model in _models():
            table = model._meta.db_table
            found = connection.introspection.get_constraints(cursor, table)
            for item in [*model._meta.constraints, *model._meta.indexes]:
                if item.name not in found:
                    missing.append(f"{table}.{item.name}")
            unique_columns = [info["columns"] for info in found.values() if info["unique"]]
            for field in model._meta.local_fields:
                if field.unique and not field.primary_key and [field.column] not in unique_columns:
                    missing.append(f"{table}.{field.column} (unique)")
    assert missing == []


def test_the_money_guards_are_partial_unique_indexes():
    """Spot-check the shape of the guards the ledger and the purchase flow rely on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
            "('journal_one_capture_per_reference', 'journal_one_refund_per_reference', "
            "'attempt_one_open_per_purchase', 'purchase_idempotency_key_unique')"
        )
        definitions = dict(cursor.fetchall())
    assert len(definitions) == 4
    for name, definition in definitions.items():
        assert definition.startswith("CREATE UNIQUE INDEX"), name
        assert " WHERE " in definition, name
