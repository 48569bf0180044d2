"""Real concurrent connections on PostgreSQL (threads behind a barrier, each with its own
connection), and canaries proving these tests catch a naive implementation.

Thread counts follow the issue (50, 20+20, 10, 20): the database allows 100 connections for
every engineer's test run together.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from django.db.models import F, Q

from accounts.tests.factories import UserFactory
from wallets.errors import InsufficientFunds, LedgerBusy, LimitExceeded
from wallets.invariants import assert_ledger_invariants
from wallets.limits import Limits
from wallets.models import Entry, Hold, Journal, LedgerAccount
from wallets.services import (
    Leg,
    hold_capture,
    hold_place,
    journal_post,
    system_account,
    wallet_get_or_create,
    wallet_transfer,
)
from wallets.tests.factories import fund_wallet
from wallets.tests.helpers import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

UNIT = 100  # kobo
NO_LIMITS = Limits(single_kobo=10**12, daily_kobo=10**12, max_balance_kobo=10**13)


def _wallet(user_id: int) -> LedgerAccount:
    return LedgerAccount.objects.get(pk=wallet_get_or_create(user_id=user_id).pk)


# --- the harness: the same checks run against the real services and the canaries -----------------


def spend_race(spend, *, threads: int = 50, units: int = 20) -> dict:
    """`threads` spenders of one UNIT each, at once, on a wallet funded with `units` UNITs.
    Returns what happened; `assert_spending_exact` says whether it was right."""
    user = UserFactory()
    fund_wallet(user, units * UNIT)
    wallet = _wallet(user.pk)
    recipient = UserFactory()
    wallet_get_or_create(user_id=recipient.pk)
    results = run_concurrently(threads, lambda i: spend(wallet=wallet, recipient=recipient, user=user, index=i))
    return {"results": results, "wallet": _wallet(user.pk), "units": units, "threads": threads}


def assert_spending_exact(outcome: dict) -> None:
    results, wallet, units = outcome["results"], outcome["wallet"], outcome["units"]
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, InsufficientFunds)]
    assert not unexpected, unexpected
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    # More successes than units can only mean a lost update (two spenders read one balance).
    assert len(succeeded) <= units, f"lost update: {len(succeeded)} spends succeeded from a wallet holding {units}"
    assert len(succeeded) == units, f"only {len(succeeded)} spends succeeded from a wallet holding {units}"
    assert wallet.balance_kobo - wallet.held_kobo == 0, f"available is {wallet.available_kobo}, not 0"
    debited = sum(Entry.objects.filter(account=wallet, amount_kobo__lt=0).values_list("amount_kobo", flat=True))
    held = sum(Hold.objects.filter(account=wallet, status="active").values_list("amount_kobo", flat=True))
    assert -debited + held == units * UNIT, "money left the wallet that its entries and holds do not explain"
    assert_ledger_invariants()


def assert_one_posting_per_key(key: str, results: list) -> None:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    count = Journal.objects.filter(Q(idempotency_key=key) | Q(metadata__logical_key=key)).count()
    assert count == 1, f"{count} journals for one idempotency key"
    assert len({r.pk for r in results}) == 1
    assert_ledger_invariants()


# --- the real services ---------------------------------------------------------------------------


def _hold_spend(*, wallet, recipient, user, index):
    return hold_place(account_id=wallet.pk, amount_kobo=UNIT, reference=f"race-{wallet.pk}-{index}", limits=NO_LIMITS)


def _transfer_spend(*, wallet, recipient, user, index):
    return wallet_transfer(
        sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=UNIT, idempotency_key=f"race-{index}",
        limits=NO_LIMITS,
    )


@pytest.mark.parametrize("spend", [_hold_spend, _transfer_spend], ids=["holds", "transfers"])
def test_fifty_spenders_of_one_unit_from_a_wallet_of_twenty(spend):
    assert_spending_exact(spend_race(spend))


def test_twenty_transfers_each_way_at_once_reach_no_deadlock_and_conserve_money():
    alice, bob = UserFactory(), UserFactory()
    fund_wallet(alice, 100_000)
    fund_wallet(bob, 100_000)

    def transfer(index: int):
        sender, recipient = (alice, bob) if index % 2 == 0 else (bob, alice)
        return wallet_transfer(
            sender_user_id=sender.pk, recipient_user_id=recipient.pk, amount_kobo=1000 + index,
            idempotency_key=f"swap-{index}", limits=NO_LIMITS,
        )

    results = run_concurrently(40, transfer)
    assert [r for r in results if isinstance(r, BaseException)] == []
    a_to_b = sum(1000 + i for i in range(0, 40, 2))
    b_to_a = sum(1000 + i for i in range(1, 40, 2))
    assert _wallet(alice.pk).balance_kobo == 100_000 - a_to_b + b_to_a
    assert _wallet(alice.pk).balance_kobo + _wallet(bob.pk).balance_kobo == 200_000
    assert_ledger_invariants()


def test_the_same_idempotency_key_from_ten_threads_posts_one_journal():
    user = UserFactory()
    wallet = wallet_get_or_create(user_id=user.pk)
    clearing = system_account("clearing:paystack")
    legs = [Leg(clearing.pk, -5000), Leg(wallet.pk, 5000)]
    results = run_concurrently(10, lambda i: journal_post(key="fund:paystack:T3", kind="deposit", legs=legs))
    assert_one_posting_per_key("fund:paystack:T3", results)
    assert _wallet(user.pk).balance_kobo == 5000


def test_the_same_transfer_key_from_ten_threads_moves_money_once():
    sender, recipient = UserFactory(), UserFactory()
    fund_wallet(sender, 10_000)
    results = run_concurrently(
        10,
        lambda i: wallet_transfer(sender_user_id=sender.pk, recipient_user_id=recipient.pk, amount_kobo=700,
                                  idempotency_key="same", limits=NO_LIMITS),
    )
    assert_one_posting_per_key(f"transfer:{sender.pk}:same", results)
    assert (_wallet(sender.pk).balance_kobo, _wallet(recipient.pk).balance_kobo) == (9300, 700)


def test_the_same_hold_and_the_same_capture_from_ten_threads_happen_once():
    user = UserFactory()
    fund_wallet(user, 10_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    holds = run_concurrently(10, lambda i: hold_place(account_id=wallet.pk, amount_kobo=3000, reference="ONE"))
    assert len({h.pk for h in holds if isinstance(h, Hold)}) == 1 and _wallet(user.pk).held_kobo == 3000
    revenue = system_account("revenue")
    captures = run_concurrently(
        10, lambda i: hold_capture(reference="ONE", key="capture:ONE", credit_legs=[Leg(revenue.pk, 3000)])
    )
    assert_one_posting_per_key("capture:ONE", captures)
    assert (_wallet(user.pk).balance_kobo, _wallet(user.pk).held_kobo) == (7000, 0)


def test_twenty_concurrent_transfers_over_the_daily_limit_only_those_within_it_succeed():
    sender, recipient = UserFactory(), UserFactory()
    fund_wallet(sender, 1_000_000)
    limits = Limits(single_kobo=10_000, daily_kobo=70_000, max_balance_kobo=10**12)
    results = run_concurrently(
        20,
        lambda i: wallet_transfer(sender_user_id=sender.pk, recipient_user_id=recipient.pk, amount_kobo=10_000,
                                  idempotency_key=f"daily-{i}", limits=limits),
    )
    succeeded = [r for r in results if isinstance(r, Journal)]
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert (len(succeeded), len(refused)) == (7, 13), results
    assert all(r.errors["limit"] == "daily" for r in refused)
    wallet = _wallet(sender.pk)
    assert wallet.outflow_kobo == 70_000 and wallet.balance_kobo == 1_000_000 - 70_000
    assert_ledger_invariants()


def test_concurrent_holds_and_transfers_share_the_daily_limit():
    user, recipient = UserFactory(), UserFactory()
    fund_wallet(user, 1_000_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    limits = Limits(single_kobo=10**9, daily_kobo=50_000, max_balance_kobo=10**12)

    def spend(index: int):
        if index % 2:
            return hold_place(account_id=wallet.pk, amount_kobo=10_000, reference=f"mix-{index}", limits=limits)
        return wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=10_000,
                               idempotency_key=f"mix-{index}", limits=limits)

    results = run_concurrently(20, spend)
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 5
    assert all(isinstance(r, LimitExceeded) for r in results if isinstance(r, BaseException))
    assert _wallet(user.pk).outflow_kobo == 50_000
    assert_ledger_invariants()


# --- canaries: deliberately broken postings the harness must catch ------------------------------


def naive_read_modify_write_spend(*, wallet, recipient, user, index):
    """The classic lost update: read the balance, check it in Python, write the result back
    (`wallet.balance -= x; wallet.save()`), with a journal and entries as usual."""
    bank = system_account("bank")
    with transaction.atomic():
        current = LedgerAccount.objects.get(pk=wallet.pk)
        if current.balance_kobo - current.held_kobo < UNIT:
            raise InsufficientFunds()
        LedgerAccount.objects.filter(pk=wallet.pk).update(balance_kobo=current.balance_kobo - UNIT)
        journal = Journal.objects.create(idempotency_key=f"refund:naive-{uuid.uuid4().hex}", kind="refund", legs_hash="")
        Entry.objects.bulk_create([
            Entry(journal=journal, account_id=wallet.pk, amount_kobo=-UNIT, balance_after_kobo=current.balance_kobo - UNIT),
            Entry(journal=journal, account_id=bank.pk, amount_kobo=UNIT),
        ])
        return journal


def naive_post_without_unique_key(*, key: str, wallet_id: int, amount: int) -> Journal:
    """Check-then-create: look for the key, and if it is not there, post under a fresh key:
    exactly what a missing UNIQUE constraint allows."""
    clearing = system_account("clearing:paystack")
    with transaction.atomic():
        if Journal.objects.filter(metadata__logical_key=key).exists():
            return Journal.objects.filter(metadata__logical_key=key).first()
        journal = Journal.objects.create(
            idempotency_key=f"fund:naive:{uuid.uuid4().hex}", kind="deposit", metadata={"logical_key": key}, legs_hash=""
        )
        LedgerAccount.objects.filter(pk=wallet_id).update(balance_kobo=F("balance_kobo") + amount)
        balance = LedgerAccount.objects.get(pk=wallet_id).balance_kobo
        Entry.objects.bulk_create([
            Entry(journal=journal, account_id=wallet_id, amount_kobo=amount, balance_after_kobo=balance),
            Entry(journal=journal, account_id=clearing.pk, amount_kobo=-amount),
        ])
        return journal


def test_canary_the_race_harness_catches_a_read_modify_write_posting():
    outcome = spend_race(naive_read_modify_write_spend)
    with pytest.raises(AssertionError, match=r"^lost update: (2[1-9]|[34]\d|50) spends succeeded from a wallet holding 20\b"):
        assert_spending_exact(outcome)


def test_canary_the_idempotency_harness_catches_a_posting_without_a_unique_key():
    user = UserFactory()
    wallet = wallet_get_or_create(user_id=user.pk)
    results = run_concurrently(10, lambda i: naive_post_without_unique_key(key="fund:x:1", wallet_id=wallet.pk, amount=5000))
    with pytest.raises(AssertionError, match="journals for one idempotency key"):
        assert_one_posting_per_key("fund:x:1", results)


def test_the_harness_closes_every_thread_connection():
    before = _backend_count()
    run_concurrently(5, lambda i: LedgerAccount.objects.count())
    # A closed connection's server process exits a moment later: poll, bounded.
    for _ in range(100):
        if _backend_count() <= before:
            break
        time.sleep(0.02)
    assert _backend_count() <= before


def _backend_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


# --- lock timeout and bounded retry -------------------------------------------------------------


def _hold_row_lock(account_id: int, locked: threading.Event, release: threading.Event) -> None:
    """Another connection keeps the wallet row locked until `release` is set."""
    try:
        with transaction.atomic():
            LedgerAccount.objects.select_for_update().get(pk=account_id)
            locked.set()
            release.wait(30)
    finally:
        connection.close()


def test_a_wallet_locked_elsewhere_gives_a_busy_answer_after_bounded_retries(settings):
    settings.WALLET_LOCK_TIMEOUT_MS = 100
    settings.WALLET_DEADLOCK_RETRIES = 2
    sender, recipient = UserFactory(), UserFactory()
    fund_wallet(sender, 10_000)
    wallet = _wallet(sender.pk)
    locked, release = threading.Event(), threading.Event()
    blocker = threading.Thread(target=_hold_row_lock, args=(wallet.pk, locked, release))
    blocker.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        with pytest.raises(LedgerBusy) as busy:
            wallet_transfer(sender_user_id=sender.pk, recipient_user_id=recipient.pk, amount_kobo=100,
                            idempotency_key="busy", limits=NO_LIMITS)
        assert busy.value.status_code == 503 and busy.value.code == "SERVICE_UNAVAILABLE"
        assert time.monotonic() - started < 5  # two 100 ms waits and a short jitter, not a hang
    finally:
        release.set()
        blocker.join(10)
    assert not Journal.objects.filter(kind="transfer").exists()
    journal = wallet_transfer(sender_user_id=sender.pk, recipient_user_id=recipient.pk, amount_kobo=100,
                              idempotency_key="busy", limits=NO_LIMITS)  # the client's retry goes through
    assert journal.idempotency_key == f"transfer:{sender.pk}:busy"
    assert_ledger_invariants()


def test_a_retry_after_a_lock_timeout_succeeds_when_the_lock_goes_away(settings):
    settings.WALLET_LOCK_TIMEOUT_MS = 150
    settings.WALLET_DEADLOCK_RETRIES = 3
    user = UserFactory()
    fund_wallet(user, 10_000)
    wallet = _wallet(user.pk)
    locked, release = threading.Event(), threading.Event()
    blocker = threading.Thread(target=_hold_row_lock, args=(wallet.pk, locked, release))
    blocker.start()
    assert locked.wait(10)
    timer = threading.Timer(0.2, release.set)  # the other transaction ends during our first wait or retry
    timer.start()
    try:
        hold = hold_place(account_id=wallet.pk, amount_kobo=500, reference="after-timeout")
    finally:
        release.set()
        timer.cancel()
        blocker.join(10)
    assert hold.pk and _wallet(user.pk).held_kobo == 500
    assert_ledger_invariants()
