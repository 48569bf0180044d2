"""config.rows: precompiled INSERTs and statements deferred to ride with the next one."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from audit.services import Actor, audit_record
from config.rows import deferring, execute_relaxed, execute_with_deferred, insert_row

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor.system("test")


def _row(action: str = "wallet.open") -> AuditLog:
    return AuditLog(actor_kind="system", actor_label="test", action=action, changes={"n": 1})


def test_a_deferred_insert_rides_with_the_next_statement_in_one_round_trip():
    first, second = _row(), _row()
    with transaction.atomic(), deferring(), CaptureQueriesContext(connection) as sent:
        insert_row(first, defer=True)
        insert_row(second, defer=True)
        assert first.pk is None and len(sent) == 0  # nothing has gone yet
        with connection.cursor() as cursor:
            execute_with_deferred(cursor, "SELECT 42", [])
            assert cursor.fetchone() == (42,)  # the cursor is left on the carrier's result
    assert len(sent) == 1  # one execute carried all three statements
    assert first.pk is not None and second.pk == first.pk + 1
    assert AuditLog.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_what_still_waits_is_sent_when_the_block_ends():
    row = _row()
    with transaction.atomic(), deferring():
        insert_row(row, defer=True)
    assert row.pk is not None and AuditLog.objects.filter(pk=row.pk).exists()


def test_an_error_in_the_block_never_lets_the_transaction_commit_without_the_waiting_insert():
    caught = []
    with transaction.atomic():
        try:
            with deferring():
                audit_record(action="wallet.open", actor=ACTOR, target_type="test", target_id=1, defer=True)
                raise RuntimeError("the service failed after queueing its audit row")
        except RuntimeError as error:
            caught.append(error)  # a caller that swallows the error still cannot commit
        assert transaction.get_rollback()
    assert caught and not AuditLog.objects.filter(target_type="test").exists()


def test_outside_a_deferring_block_defer_writes_at_once():
    row = _row()
    with CaptureQueriesContext(connection) as sent:
        insert_row(row, defer=True)
    assert row.pk is not None and len(sent) == 1


def _synchronous_commit(cursor) -> str:
    cursor.execute("SELECT current_setting('synchronous_commit')")
    return cursor.fetchone()[0]


def test_a_relaxed_statement_skips_the_flush_wait_for_its_own_transaction_only():
    with connection.cursor() as cursor:
        execute_relaxed(cursor, "SELECT current_setting('synchronous_commit')", [])
        assert cursor.fetchone()[0] == "off"
        assert _synchronous_commit(cursor) == "on"  # ended with its implicit transaction
        with transaction.atomic():  # inside a caller's transaction it would leak: plain there
            execute_relaxed(cursor, "SELECT current_setting('synchronous_commit')", [])
            assert cursor.fetchone()[0] == "on"
            assert _synchronous_commit(cursor) == "on"
