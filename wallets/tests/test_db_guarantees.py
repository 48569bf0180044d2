"""Each database guarantee proven by raw SQL that must fail (PostgreSQL): the rules hold even
for code that bypasses the services."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.tests.factories import UserFactory
from wallets.errors import IdempotencyConflict
from wallets.models import Entry, Journal, LedgerAccount
from wallets.services import Leg, hold_capture, hold_place, journal_reverse, system_account, wallet_get_or_create
from wallets.tests.factories import fund_wallet


def _sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def _refused(statement: str, params: list | None = None) -> None:
    """The statement fails and leaves nothing behind (its savepoint rolls back)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(statement, params)


@pytest.fixture
def funded(db, user):
    fund_wallet(user, 10_000)
    return LedgerAccount.objects.get(pk=wallet_get_or_create(user_id=user.pk).pk)


@pytest.mark.django_db
def test_wallet_available_balance_cannot_go_negative(funded):
    _refused("UPDATE wallets_ledgeraccount SET balance_kobo = -1 WHERE id = %s", [funded.pk])
    _refused("UPDATE wallets_ledgeraccount SET held_kobo = balance_kobo + 1 WHERE id = %s", [funded.pk])
    _refused("UPDATE wallets_ledgeraccount SET balance_kobo = balance_kobo - 10001 WHERE id = %s", [funded.pk])


@pytest.mark.django_db
def test_a_customer_wallet_can_never_be_allowed_a_negative_balance(funded):
    """The flag cannot be set on a wallet, and setting it together with an overdraft in one
    statement (what someone bypassing the services would try) is refused too."""
    _refused("UPDATE wallets_ledgeraccount SET allow_negative = true WHERE id = %s", [funded.pk])
    _refused(
        "UPDATE wallets_ledgeraccount SET allow_negative = true, balance_kobo = -500 WHERE id = %s", [funded.pk]
    )
    _refused(
        "UPDATE wallets_ledgeraccount SET allow_negative = true, held_kobo = balance_kobo + 1 WHERE id = %s",
        [funded.pk],
    )
    _refused(
        "INSERT INTO wallets_ledgeraccount (code, kind, user_id, number, name, currency, balance_kobo, held_kobo,"
        " allow_negative, materialised, status, frozen_reason, outflow_kobo, created_at)"
        " VALUES ('wallet:x:USD', 'customer', %s, '1234567891', '', 'USD', -1, 0, true, true, 'active', '', 0, now())",
        [funded.user_id],
    )
    funded.refresh_from_db()
    assert (funded.allow_negative, funded.balance_kobo, funded.held_kobo) == (False, 10_000, 0)


@pytest.mark.django_db
def test_the_available_balance_check_is_keyed_on_the_kind_not_on_the_flag(funded):
    """Even with the kind-shape CHECK out of the way, balance < held on a customer row is
    refused by the available-balance CHECK itself."""
    _sql("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred journal checks now: ALTER refuses pending ones
    _sql("ALTER TABLE wallets_ledgeraccount DROP CONSTRAINT ledgeraccount_kind_shape")  # rolled back with the test
    _sql("UPDATE wallets_ledgeraccount SET allow_negative = true WHERE id = %s", [funded.pk])
    with pytest.raises(IntegrityError, match="ledgeraccount_customer_available_nonnegative"), transaction.atomic():
        _sql("UPDATE wallets_ledgeraccount SET balance_kobo = -1 WHERE id = %s", [funded.pk])
    bank = system_account("bank")  # system accounts still run negative (entries only, row stays 0)
    _sql("UPDATE wallets_ledgeraccount SET materialised = true, balance_kobo = -5 WHERE id = %s", [bank.pk])


@pytest.mark.django_db
def test_held_cannot_go_negative_even_where_negative_balances_are_allowed(funded):
    bank = system_account("bank")
    _refused("UPDATE wallets_ledgeraccount SET held_kobo = -1 WHERE id = %s", [funded.pk])
    _refused("UPDATE wallets_ledgeraccount SET held_kobo = -1, materialised = true WHERE id = %s", [bank.pk])


@pytest.mark.django_db
def test_system_rows_stay_zero_and_wallets_stay_wallets(funded):
    revenue = system_account("revenue")
    _refused("UPDATE wallets_ledgeraccount SET balance_kobo = 5 WHERE id = %s", [revenue.pk])
    _refused("UPDATE wallets_ledgeraccount SET materialised = false WHERE id = %s", [funded.pk])
    _refused("UPDATE wallets_ledgeraccount SET number = NULL WHERE id = %s", [funded.pk])
    _refused(
        "INSERT INTO wallets_ledgeraccount (code, kind, user_id, number, name, currency, balance_kobo, held_kobo,"
        " allow_negative, materialised, status, frozen_reason, outflow_kobo, created_at)"
        " VALUES ('wallet:x', 'customer', %s, '1234567890', '', 'NGN', 0, 0, false, true, 'active', '', 0, now())",
        [funded.user_id],
    )  # a second wallet in the same currency


@pytest.mark.django_db
def test_entries_and_journals_are_append_only(funded):
    entry = Entry.objects.filter(account=funded).first()
    _refused("UPDATE wallets_entry SET amount_kobo = amount_kobo + 1 WHERE id = %s", [entry.pk])
    _refused("DELETE FROM wallets_entry WHERE id = %s", [entry.pk])
    _refused("UPDATE wallets_journal SET memo = 'edited' WHERE id = %s", [entry.journal_id])
    _refused("DELETE FROM wallets_journal WHERE id = %s", [entry.journal_id])
    _refused("UPDATE wallets_entry SET amount_kobo = 0 WHERE id = %s", [entry.pk])


@pytest.mark.django_db
def test_duplicate_keys_make_a_second_capture_reversal_or_refund_impossible(funded):
    hold_place(account_id=funded.pk, amount_kobo=1000, reference="PUR-1")
    capture = hold_capture(reference="PUR-1", key="capture:PUR-1", credit_legs=[Leg(system_account("revenue").pk, 1000)])
    reversal = journal_reverse(original_key="capture:PUR-1", key="reversal:PUR-1")
    columns = "(idempotency_key, kind, reference, memo, metadata, legs_hash, actor_kind, actor_label, created_at"
    refund = fund_wallet(funded.user_id, 5, reference="refund-like")
    for key in ("capture:PUR-1", "reversal:PUR-1", refund.idempotency_key):
        _refused(f"INSERT INTO wallets_journal {columns}) VALUES (%s, 'deposit', '', '', '{{}}', '', '', '', now())", [key])  # noqa: S608
    # One reversal per journal, whatever its key.
    _refused(
        f"INSERT INTO wallets_journal {columns}, reversal_of_id) VALUES ('reversal:other', 'reversal', '', '', '{{}}', '',"  # noqa: S608
        " '', '', now(), %s)",
        [capture.pk],
    )
    # One hold per reference; one hold per capture journal.
    _refused(
        "INSERT INTO wallets_hold (account_id, reference, amount_kobo, captured_kobo, status, memo, expires_at,"
        " created_at) VALUES (%s, 'PUR-1', 5, 0, 'active', '', now(), now())",
        [funded.pk],
    )
    _refused(
        "INSERT INTO wallets_hold (account_id, reference, amount_kobo, captured_kobo, status, memo, capture_journal_id,"
        " created_at, resolved_at) VALUES (%s, 'PUR-2', 1000, 1000, 'captured', '', %s, now(), now())",
        [funded.pk, capture.pk],
    )
    assert reversal.reversal_of_id == capture.pk


@pytest.mark.django_db
def test_hold_rows_keep_their_shape(funded):
    hold = hold_place(account_id=funded.pk, amount_kobo=1000, reference="PUR-3")
    _refused("UPDATE wallets_hold SET captured_kobo = 1001 WHERE id = %s", [hold.pk])
    _refused("UPDATE wallets_hold SET status = 'captured', resolved_at = now() WHERE id = %s", [hold.pk])  # no journal
    _refused("UPDATE wallets_hold SET status = 'released' WHERE id = %s", [hold.pk])  # no resolved_at
    _refused("UPDATE wallets_hold SET amount_kobo = 0 WHERE id = %s", [hold.pk])


@pytest.mark.django_db
def test_maker_cannot_be_checker(funded, user):
    staff = UserFactory(is_staff=True)
    _refused(
        "INSERT INTO wallets_adjustment (account_id, direction, amount_kobo, reason, status, requested_by_id,"
        " decided_by_id, decision_reason, created_at) VALUES (%s, 'credit', 5, 'x', 'posted', %s, %s, '', now())",
        [funded.pk, staff.pk, staff.pk],
    )


# --- deferred triggers: they run at COMMIT, so these tests commit for real -----------------------


def _journal(key: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallets_journal (idempotency_key, kind, reference, memo, metadata, legs_hash, actor_kind,"
            " actor_label, created_at) VALUES (%s, 'deposit', '', '', '{}', '', '', '', now()) RETURNING id",
            [key],
        )
        return cursor.fetchone()[0]


def _entry(journal_id: int, account_id: int, amount: int) -> None:
    _sql(
        "INSERT INTO wallets_entry (journal_id, account_id, amount_kobo, created_at) VALUES (%s, %s, %s, now())",
        [journal_id, account_id, amount],
    )


def _commit_refused(work) -> None:
    before = (Journal.objects.count(), Entry.objects.count())
    with pytest.raises(IntegrityError, match=r"does not balance|fewer than two"), transaction.atomic():
        work()
    assert (Journal.objects.count(), Entry.objects.count()) == before


@pytest.mark.django_db(transaction=True)
def test_a_journal_that_does_not_sum_to_zero_cannot_commit():
    wallet = wallet_get_or_create(user_id=UserFactory().pk)
    bank = system_account("bank")

    def unbalanced() -> None:
        journal_id = _journal("bankfund:unbalanced")
        _entry(journal_id, bank.pk, -100)
        _entry(journal_id, wallet.pk, 99)

    _commit_refused(unbalanced)


@pytest.mark.django_db(transaction=True)
def test_a_journal_must_balance_per_currency():
    wallet = wallet_get_or_create(user_id=UserFactory().pk)
    usd = LedgerAccount.objects.create(
        code="suspense-usd", kind="system", currency="USD", allow_negative=True, materialised=False
    )

    def cross_currency() -> None:
        journal_id = _journal("bankfund:fx")
        _entry(journal_id, usd.pk, -100)
        _entry(journal_id, wallet.pk, 100)

    _commit_refused(cross_currency)


@pytest.mark.django_db(transaction=True)
def test_a_journal_without_two_entries_cannot_commit():
    _commit_refused(lambda: _journal("bankfund:empty"))


@pytest.mark.django_db(transaction=True)
def test_an_entry_added_later_to_a_balanced_journal_cannot_commit():
    user = UserFactory()
    journal = fund_wallet(user, 500)
    bank = system_account("bank")
    _commit_refused(lambda: _entry(journal.pk, bank.pk, -1))


@pytest.mark.django_db(transaction=True)
def test_a_balanced_journal_commits():
    wallet = wallet_get_or_create(user_id=UserFactory().pk)
    bank = system_account("bank")
    with transaction.atomic():
        journal_id = _journal("bankfund:ok")
        _entry(journal_id, bank.pk, -100)
        _entry(journal_id, wallet.pk, 100)
    assert Entry.objects.filter(journal_id=journal_id).count() == 2


@pytest.mark.django_db
def test_one_capture_and_one_refund_per_reference_whatever_the_key(funded):
    columns = "(idempotency_key, kind, reference, memo, metadata, legs_hash, actor_kind, actor_label, created_at)"
    insert = f"INSERT INTO wallets_journal {columns} VALUES (%s, %s, %s, '', '{{}}', '', '', '', now())"  # noqa: S608
    hold_place(account_id=funded.pk, amount_kobo=1000, reference="PUR-7")
    hold_capture(reference="PUR-7", key="capture:PUR-7", credit_legs=[Leg(system_account("revenue").pk, 1000)])
    _refused(insert, ["capture:PUR-7-again", "purchase", "PUR-7"])
    refunds = system_account("refunds")
    from wallets.services import journal_post

    journal_post(key="refund:PUR-7", kind="refund", reference="PUR-7",
                 legs=[Leg(refunds.pk, -1000), Leg(funded.pk, 1000)])
    _refused(insert, ["refund:PUR-7-bis", "refund", "PUR-7"])
    with pytest.raises(IdempotencyConflict):  # and through the service, with a clear answer
        journal_post(key="refund:PUR-7-bis", kind="refund", reference="PUR-7",
                     legs=[Leg(refunds.pk, -1000), Leg(funded.pk, 1000)])
