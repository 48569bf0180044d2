"""The audit log: what audit_record stores, that the table refuses changes, and the helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction

from accounts import services as account_services
from accounts.tests.factories import UserFactory
from audit.actions import ACTIONS
from audit.models import AuditLog
from audit.selectors import actions_for_target, audit_for_target
from audit.services import Actor, UnknownAuditAction, audit_record
from config import request_context

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_audit_record_stores_actor_target_changes_reason_and_request_context():
    staff, customer = UserFactory(is_staff=True, pin=""), UserFactory()
    token = request_context.set_current(
        request_context.RequestInfo(request_id="req-123", ip="203.0.113.9", user_agent="pytest-agent")
    )
    try:
        row = audit_record(
            action="user.kyc_tier_change", actor=Actor.for_user(staff), target=customer,
            changes={"kyc_tier": [0, 2]}, reason="documents checked",
        )
    finally:
        request_context.reset(token)
    row.refresh_from_db()
    assert (row.actor_kind, row.actor_user_id, row.actor_label) == ("staff", staff.pk, staff.email)
    assert (row.target_type, row.target_id, row.target_repr) == ("accounts.user", str(customer.pk), customer.email)
    assert row.changes == {"kyc_tier": [0, 2]}
    assert row.reason == "documents checked"
    assert (row.ip, row.user_agent, row.request_id) == ("203.0.113.9", "pytest-agent", "req-123")


def test_secret_looking_values_in_changes_are_redacted():
    customer = UserFactory()
    row = audit_record(
        action="user.update", actor=Actor.system("test"), target=customer,
        changes={"pin": ["1234", "9876"], "password": [None, "hunter2-hunter2"]},
    )
    assert "1234" not in str(row.changes) and "hunter2" not in str(row.changes)


def test_an_unknown_action_is_refused_and_nothing_is_written():
    with pytest.raises(UnknownAuditAction):
        audit_record(action="user.teleport", actor=Actor.system())
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize("statement", ["UPDATE audit_auditlog SET reason = 'edited'", "DELETE FROM audit_auditlog"])
def test_the_table_refuses_update_and_delete(statement):
    row = audit_record(action="user.update", actor=Actor.system("test"), target_type="accounts.user", target_id=1, reason="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(statement)
    row.refresh_from_db()
    assert row.reason == "x"
    assert AuditLog.objects.count() == 1


def test_actions_for_target_lists_a_users_staff_changes_in_order():
    staff, customer, other = UserFactory(is_staff=True, pin=""), UserFactory(), UserFactory()
    actor = Actor.for_user(staff)
    account_services.user_suspend(staff=actor, user_id=customer.pk, reason="chargeback pattern")
    account_services.user_activate(staff=actor, user_id=customer.pk, reason="cleared by the bank")
    account_services.user_kyc_tier_set(staff=actor, user_id=customer.pk, tier=2, reason="BVN verified")
    account_services.user_suspend(staff=actor, user_id=other.pk, reason="other user")

    expected = ["user.suspend", "user.activate", "user.kyc_tier_change"]
    assert actions_for_target(target=customer) == expected
    assert actions_for_target(target_type="accounts.user", target_id=customer.pk) == expected
    reasons = list(audit_for_target(target=customer).values_list("reason", flat=True))
    assert reasons == ["chargeback pattern", "cleared by the bank", "BVN verified"]


def test_a_refused_staff_change_audits_nothing():
    staff, customer = UserFactory(is_staff=True, pin=""), UserFactory()
    with pytest.raises(Exception, match="REASON_REQUIRED"):
        account_services.user_suspend(staff=Actor.for_user(staff), user_id=customer.pk, reason="   ")
    customer.refresh_from_db()
    assert customer.suspended_at is None
    assert actions_for_target(target=customer) == []


def test_actions_for_target_needs_a_target():
    with pytest.raises(ValueError):
        actions_for_target(target_type="accounts.user")


_ACTION_LITERAL = re.compile(r"""\baction\s*=\s*["']([a-z_]+\.[a-z_]+)["']""")


def test_every_action_named_in_the_code_is_in_the_fixed_list():
    """audit_record refuses unknown actions at run time; this finds them before a money path
    that is rarely taken does."""
    found: dict[str, str] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", "node_modules") or "migrations" in parts or "tests" in parts:
            continue
        for action in _ACTION_LITERAL.findall(path.read_text(errors="replace")):
            found.setdefault(action, str(path.relative_to(ROOT)))
    assert "user.suspend" in found  # the walk sees the code
    assert {action: where for action, where in found.items() if action not in ACTIONS} == {}
