"""`manage.py check_ledger` and the periodic task: they name what is wrong, exit non-zero,
freeze the wallets involved, alert, and never correct."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from config.models import Alert
from wallets.invariants import assert_ledger_invariants, ledger_findings
from wallets.models import Entry, LedgerAccount, LedgerCheck
from wallets.selectors import ledger_check_latest
from wallets.services import hold_place, wallet_get_or_create
from wallets.tasks import ledger_check
from wallets.tests.factories import fund_wallet


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _wallet(user) -> LedgerAccount:
    return LedgerAccount.objects.get(pk=wallet_get_or_create(user_id=user.pk).pk)


@pytest.mark.django_db
def test_a_clean_ledger_passes_and_the_result_is_stored(user, capsys):
    fund_wallet(user, 1000)
    call_command("check_ledger")
    check = ledger_check_latest()
    assert check.ok and check.finding_count == 0 and check.stats["wallets"] == 1
    assert "ledger ok" in capsys.readouterr().out
    assert ledger_check() == 0


@pytest.mark.django_db
def test_a_corrupted_balance_is_named_frozen_alerted_and_not_corrected(user, capsys):
    fund_wallet(user, 1000)
    healthy = UserFactory()
    fund_wallet(healthy, 1000)
    wallet = _wallet(user)
    _sql("UPDATE wallets_ledgeraccount SET balance_kobo = balance_kobo + 7 WHERE id = %s", [wallet.pk])
    with pytest.raises(SystemExit) as exit_info:
        call_command("check_ledger")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert f"balance_mismatch: account {wallet.code}: balance 1007 but entries sum to 1000" in out
    wallet.refresh_from_db()
    assert wallet.status == "frozen" and wallet.balance_kobo == 1007  # frozen, never corrected
    assert _wallet(healthy).status == "active"
    check = LedgerCheck.objects.latest("id")
    assert not check.ok and check.frozen_account_ids == [wallet.pk]
    assert [finding["code"] for finding in check.findings] == ["balance_mismatch"]
    assert Alert.objects.get(dedupe_key="ledger_check").severity == "critical"
    assert AuditLog.objects.filter(action="ledger.finding").count() == 1
    assert AuditLog.objects.filter(action="wallet.freeze", target_id=str(wallet.pk)).count() == 1
    with pytest.raises(AssertionError, match="balance_mismatch"):
        assert_ledger_invariants()


@pytest.mark.django_db
def test_held_mismatch_and_no_freeze_option(user):
    fund_wallet(user, 1000)
    wallet = _wallet(user)
    hold_place(account_id=wallet.pk, amount_kobo=300, reference="P-1")
    _sql("UPDATE wallets_ledgeraccount SET held_kobo = 200 WHERE id = %s", [wallet.pk])
    with pytest.raises(SystemExit):
        call_command("check_ledger", "--no-freeze", "--json")
    assert [f.code for f in ledger_findings()] == ["held_mismatch"]
    assert _wallet(user).status == "active"
    assert ledger_check.apply(kwargs={}).get() == 1  # the task freezes (LEDGER_CHECK_FREEZE on)
    assert _wallet(user).status == "frozen"


@pytest.mark.django_db(transaction=True)
def test_an_entry_deleted_behind_the_triggers_back_is_found(user):
    fund_wallet(user, 1000)
    fund_wallet(user, 500)
    wallet = _wallet(user)
    first = Entry.objects.filter(account=wallet).order_by("id").first()
    with connection.cursor() as cursor:  # as a superuser would: triggers off for this session
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM wallets_entry WHERE id = %s", [first.pk])
        cursor.execute("SET session_replication_role = DEFAULT")
    codes = {finding.code for finding in ledger_findings()}
    assert codes == {"balance_mismatch", "running_balance_broken", "journal_unbalanced", "journal_without_legs",
                     "ledger_unbalanced"}
    assert ledger_check() == 5
    assert _wallet(user).status == "frozen"


@pytest.mark.django_db
def test_a_customer_wallet_below_its_held_amount_is_found_whatever_its_flag_says(user):
    """The checker's rule is keyed on the kind: a customer row flagged allow_negative (only
    possible once its constraints were dropped) is named, and so is its negative available."""
    fund_wallet(user, 1000)
    wallet = _wallet(user)
    hold_place(account_id=wallet.pk, amount_kobo=600, reference="P-2")
    _sql("SET CONSTRAINTS ALL IMMEDIATE", [])  # run the deferred journal checks now: ALTER refuses pending ones
    for name in ("ledgeraccount_kind_shape", "ledgeraccount_customer_available_nonnegative"):
        _sql(f"ALTER TABLE wallets_ledgeraccount DROP CONSTRAINT {name}", [])  # rolled back with the test
    _sql("UPDATE wallets_ledgeraccount SET allow_negative = true, held_kobo = 1500 WHERE id = %s", [wallet.pk])
    findings = {finding.code: finding for finding in ledger_findings()}
    assert set(findings) == {"negative_available", "customer_allows_negative", "held_mismatch"}
    assert findings["negative_available"].account_ids == (wallet.pk,)
    assert findings["negative_available"].message == f"account {wallet.code}: available -500 < 0"


@pytest.mark.django_db
def test_active_holds_past_their_review_deadline_are_reported_not_frozen_nor_released(user, capsys):
    from datetime import timedelta

    from django.utils import timezone

    from wallets.selectors import holds_overdue
    from wallets.services import hold_release

    fund_wallet(user, 10_000)
    wallet = _wallet(user)
    now = timezone.now()
    hold_place(account_id=wallet.pk, amount_kobo=300, reference="LATE-2", expires_at=now - timedelta(hours=1))
    hold_place(account_id=wallet.pk, amount_kobo=200, reference="LATE-1", expires_at=now - timedelta(hours=5))
    hold_place(account_id=wallet.pk, amount_kobo=100, reference="ON-TIME", expires_at=now + timedelta(hours=5))
    assert [hold.reference for hold in holds_overdue()] == ["LATE-1", "LATE-2"]  # most overdue first
    call_command("check_ledger")  # no SystemExit: overdue holds are not a finding
    out = capsys.readouterr().out
    assert "warning: 2 active hold(s) past their review deadline" in out
    assert out.index("hold LATE-1: 200 kobo") < out.index("hold LATE-2: 300 kobo") and "ON-TIME" not in out
    check = ledger_check_latest()
    assert check.ok and check.stats["holds_overdue"] == 2 and check.frozen_account_ids == []
    alert = Alert.objects.get(dedupe_key="holds_overdue")
    assert alert.severity == "warning" and alert.resolved_at is None and alert.details["oldest_reference"] == "LATE-1"
    assert _wallet(user).status == "active" and _wallet(user).held_kobo == 600  # nothing released by itself
    hold_release(reference="LATE-1")
    hold_release(reference="LATE-2")
    assert ledger_check() == 0
    assert ledger_check_latest().stats["holds_overdue"] == 0
    assert Alert.objects.get(dedupe_key="holds_overdue").resolved_at is not None
