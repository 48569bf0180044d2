"""The services one by one: postings, holds, transfers, reversals, chargebacks, freezing."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from config.errors import InvalidState, NotFound
from config.models import Alert
from wallets.errors import IdempotencyConflict, InsufficientFunds, LimitExceeded, SelfTransfer, WalletFrozen
from wallets.invariants import assert_ledger_invariants
from wallets.limits import Limits, limits_for_tier
from wallets.models import Entry, Hold, Journal, LedgerAccount
from wallets.services import (
    Leg,
    chargeback_post,
    hold_capture,
    hold_place,
    hold_release,
    journal_post,
    journal_reverse,
    system_account,
    wallet_freeze,
    wallet_get_or_create,
    wallet_transfer,
    wallet_unfreeze,
)
from wallets.tests.factories import fund_wallet
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db

BIG = Limits(single_kobo=10**12, daily_kobo=10**12, max_balance_kobo=10**13)


def _wallet(user):
    return LedgerAccount.objects.get(pk=wallet_get_or_create(user_id=user.pk).pk)


def test_wallet_opens_once_with_a_ten_digit_number(user):
    first = wallet_get_or_create(user_id=user.pk)
    again = wallet_get_or_create(user_id=user.pk)
    assert first.pk == again.pk
    assert len(first.number) == 10 and first.number.isdigit() and first.number[0] != "0"
    assert (first.balance_kobo, first.held_kobo, first.status) == (0, 0, "active")
    assert AuditLog.objects.filter(action="wallet.open", target_id=str(first.pk)).count() == 1


def test_system_accounts_exist_and_families_are_created_on_demand():
    for code in ("revenue", "fees", "refunds", "receivables", "adjustments", "suspense", "bank", "clearing:paystack",
                 "float:vtpass"):
        account = system_account(code)
        assert account.kind == "system" and not account.materialised and account.allow_negative
    new = system_account("float:newprovider")
    assert system_account("float:newprovider").pk == new.pk
    with pytest.raises(ValueError):
        system_account("wallet:1:NGN")


def test_journal_post_is_idempotent_on_its_key(user):
    wallet = wallet_get_or_create(user_id=user.pk)
    clearing = system_account("clearing:paystack")
    legs = [Leg(clearing.pk, -5000), Leg(wallet.pk, 5000)]
    first = journal_post(key="fund:paystack:ref-1", kind="deposit", legs=legs, reference="ref-1")
    again = journal_post(key="fund:paystack:ref-1", kind="deposit", legs=list(reversed(legs)), reference="ref-1")
    assert first.pk == again.pk
    assert _wallet(user).balance_kobo == 5000
    assert Entry.objects.filter(journal=first).count() == 2
    before = snapshot()
    with pytest.raises(IdempotencyConflict):
        journal_post(key="fund:paystack:ref-1", kind="deposit", legs=[Leg(clearing.pk, -6000), Leg(wallet.pk, 6000)])
    assert snapshot() == before
    assert_ledger_invariants()


@pytest.mark.parametrize(
    "legs_of",
    [
        lambda w, s: [Leg(w, 100)],  # one leg
        lambda w, s: [Leg(w, 100), Leg(s, -99)],  # unbalanced
        lambda w, s: [Leg(w, 0), Leg(s, 0)],  # zero
        lambda w, s: [Leg(w, 1.5), Leg(s, -1.5)],  # fractional
        lambda w, s: [Leg(w, True), Leg(s, -1)],  # bool is not an amount
    ],
)
def test_journal_post_refuses_malformed_legs(user, legs_of):
    wallet = wallet_get_or_create(user_id=user.pk)
    bank = system_account("bank")
    before = snapshot()
    with pytest.raises(ValueError):
        journal_post(key="bankfund:x", kind="deposit", legs=legs_of(wallet.pk, bank.pk))
    assert snapshot() == before


def test_journal_post_refuses_unknown_key_family_and_kind(user):
    wallet = wallet_get_or_create(user_id=user.pk)
    bank = system_account("bank")
    with pytest.raises(ValueError):
        journal_post(key="whatever:1", kind="deposit", legs=[Leg(bank.pk, -1), Leg(wallet.pk, 1)])
    with pytest.raises(ValueError):
        journal_post(key="bankfund:1", kind="gift", legs=[Leg(bank.pk, -1), Leg(wallet.pk, 1)])


def test_a_debit_beyond_available_is_refused_and_nothing_moves(user):
    fund_wallet(user, 1000)
    wallet = wallet_get_or_create(user_id=user.pk)
    refunds = system_account("refunds")
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        journal_post(key="refund:p1", kind="refund", legs=[Leg(wallet.pk, -1001), Leg(refunds.pk, 1001)])
    assert snapshot() == before


def test_hold_place_capture_with_remainder_released(user):
    fund_wallet(user, 10_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    hold = hold_place(account_id=wallet.pk, amount_kobo=3000, reference="P-1", limits=BIG, memo="MTN 1GB")
    assert (_wallet(user).balance_kobo, _wallet(user).held_kobo) == (10_000, 3000)
    assert hold_place(account_id=wallet.pk, amount_kobo=3000, reference="P-1").pk == hold.pk  # replay
    with pytest.raises(IdempotencyConflict):
        hold_place(account_id=wallet.pk, amount_kobo=2999, reference="P-1")
    float_account, revenue = system_account("float:amigo"), system_account("revenue")
    legs = [Leg(float_account.pk, 2500), Leg(revenue.pk, 300)]
    journal = hold_capture(reference="P-1", key="capture:P-1", credit_legs=legs)
    assert hold_capture(reference="P-1", key="capture:P-1", credit_legs=legs).pk == journal.pk
    with pytest.raises(IdempotencyConflict):
        hold_capture(reference="P-1", key="capture:P-1", credit_legs=[Leg(float_account.pk, 2800)])
    wallet = _wallet(user)
    assert (wallet.balance_kobo, wallet.held_kobo) == (10_000 - 2800, 0)
    hold.refresh_from_db()
    assert (hold.status, hold.captured_kobo, hold.capture_journal_id) == ("captured", 2800, journal.pk)
    with pytest.raises(InvalidState):
        hold_release(reference="P-1")
    assert_ledger_invariants()


def test_hold_release_is_idempotent_and_a_released_hold_cannot_be_captured(user):
    fund_wallet(user, 5000)
    wallet = wallet_get_or_create(user_id=user.pk)
    hold_place(account_id=wallet.pk, amount_kobo=5000, reference="P-2")
    with pytest.raises(InsufficientFunds):
        hold_place(account_id=wallet.pk, amount_kobo=1, reference="P-3")
    assert not Hold.objects.filter(reference="P-3").exists()
    hold_release(reference="P-2")
    hold_release(reference="P-2")
    assert _wallet(user).held_kobo == 0
    with pytest.raises(InvalidState):
        hold_capture(reference="P-2", key="capture:P-2", credit_legs=[Leg(system_account("revenue").pk, 10)])
    with pytest.raises(NotFound):
        hold_release(reference="nope")
    assert_ledger_invariants()


def test_capture_more_than_held_is_refused(user):
    fund_wallet(user, 5000)
    wallet = wallet_get_or_create(user_id=user.pk)
    hold_place(account_id=wallet.pk, amount_kobo=1000, reference="P-4")
    before = snapshot()
    with pytest.raises(ValueError):
        hold_capture(reference="P-4", key="capture:P-4", credit_legs=[Leg(system_account("revenue").pk, 1001)])
    assert snapshot() == before


def test_transfer_moves_money_once_per_key(user):
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    journal = wallet_transfer(
        sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=4000, idempotency_key="k1",
        limits=BIG, narration="rent",
    )
    again = wallet_transfer(
        sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=4000, idempotency_key="k1", limits=BIG
    )
    assert journal.pk == again.pk and journal.idempotency_key == f"transfer:{user.pk}:k1"
    assert _wallet(user).balance_kobo == 6000 and _wallet(recipient).balance_kobo == 4000
    with pytest.raises(IdempotencyConflict):
        wallet_transfer(
            sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=4001, idempotency_key="k1", limits=BIG
        )
    with pytest.raises(SelfTransfer):
        wallet_transfer(sender_user_id=user.pk, recipient_user_id=user.pk, amount_kobo=1, idempotency_key="k2", limits=BIG)
    assert_ledger_invariants()


def test_transfer_limits_single_daily_and_recipient_max_balance(user):
    recipient = UserFactory()
    fund_wallet(user, 100_000)
    limits = Limits(single_kobo=5000, daily_kobo=8000, max_balance_kobo=10**9)
    before = snapshot()
    with pytest.raises(LimitExceeded) as single:
        wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=5001, idempotency_key="a",
                        limits=limits)
    assert single.value.errors["limit"] == "single"
    wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=5000, idempotency_key="b",
                    limits=limits)
    with pytest.raises(LimitExceeded) as daily:
        wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=3001, idempotency_key="c",
                        limits=limits)
    assert daily.value.errors == {"limit": "daily", "limit_kobo": 8000, "remaining_kobo": 3000}
    small = Limits(single_kobo=10**9, daily_kobo=10**9, max_balance_kobo=6000)
    with pytest.raises(LimitExceeded) as cap:
        wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=1001, idempotency_key="d",
                        limits=BIG, recipient_limits=small)
    assert cap.value.errors["limit"] == "max_balance"
    assert _wallet(recipient).balance_kobo == 5000
    assert snapshot()["journals"] == before["journals"] + 1
    assert_ledger_invariants()


def test_frozen_wallet_refuses_outflows_but_accepts_credits_captures_releases_and_reversals(user):
    from audit.services import Actor

    other = UserFactory()
    fund_wallet(user, 10_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    hold_place(account_id=wallet.pk, amount_kobo=1000, reference="F-1")
    hold_place(account_id=wallet.pk, amount_kobo=1000, reference="F-2")
    fund_wallet(other, 500)
    staff = Actor.for_user(UserFactory(is_staff=True))
    assert wallet_freeze(account_id=wallet.pk, reason="fraud check", actor=staff) is True
    assert wallet_freeze(account_id=wallet.pk, reason="again", actor=staff) is False
    before = snapshot()
    with pytest.raises(WalletFrozen):
        hold_place(account_id=wallet.pk, amount_kobo=1, reference="F-3")
    with pytest.raises(WalletFrozen):
        wallet_transfer(sender_user_id=user.pk, recipient_user_id=other.pk, amount_kobo=1, idempotency_key="y",
                        limits=BIG)
    assert snapshot() == before
    fund_wallet(user, 500)  # credits post
    wallet_transfer(sender_user_id=other.pk, recipient_user_id=user.pk, amount_kobo=1, idempotency_key="x", limits=BIG)
    capture = hold_capture(reference="F-1", key="capture:F-1", credit_legs=[Leg(system_account("revenue").pk, 1000)])
    hold_release(reference="F-2")
    journal_reverse(original_key=capture.idempotency_key, key="reversal:F-1")
    wallet = _wallet(user)
    assert wallet.status == "frozen"
    assert (wallet.balance_kobo, wallet.held_kobo) == (10_000 + 1 + 500, 0)
    assert wallet_unfreeze(account_id=wallet.pk, reason="cleared", actor=staff) is True
    assert_ledger_invariants()


def test_reverse_is_the_exact_opposite_once(user):
    fund_wallet(user, 5000)
    wallet = wallet_get_or_create(user_id=user.pk)
    hold_place(account_id=wallet.pk, amount_kobo=3000, reference="R-1")
    float_account, revenue = system_account("float:amigo"), system_account("revenue")
    capture = hold_capture(reference="R-1", key="capture:R-1", credit_legs=[Leg(float_account.pk, 2000), Leg(revenue.pk, 1000)])
    reversal = journal_reverse(original_key="capture:R-1", key="reversal:R-1", reason="provider reversed")
    assert journal_reverse(original_key="capture:R-1", key="reversal:R-1").pk == reversal.pk
    with pytest.raises(IdempotencyConflict):
        journal_reverse(original_key="capture:R-1", key="reversal:R-1-again")
    with pytest.raises(InvalidState):
        journal_reverse(original_key="reversal:R-1", key="reversal:R-1-twice")
    opposite = sorted((e.account_id, -e.amount_kobo) for e in capture.entries.all())
    assert sorted((e.account_id, e.amount_kobo) for e in reversal.entries.all()) == opposite
    assert _wallet(user).balance_kobo == 5000
    assert_ledger_invariants()


def test_chargeback_debits_available_books_the_rest_to_receivables_and_freezes(user):
    fund_wallet(user, 10_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    hold_place(account_id=wallet.pk, amount_kobo=7000, reference="C-1")
    journal = chargeback_post(gateway="paystack", reference="ch-1", account_id=wallet.pk, amount_kobo=8000)
    again = chargeback_post(gateway="paystack", reference="ch-1", account_id=wallet.pk, amount_kobo=8000)
    assert again.pk == journal.pk
    legs = {e.account.code: e.amount_kobo for e in journal.entries.select_related("account")}
    assert legs == {"clearing:paystack": 8000, wallet.code: -3000, "receivables": -5000}
    wallet = _wallet(user)
    assert (wallet.balance_kobo, wallet.held_kobo, wallet.status) == (7000, 7000, "frozen")
    assert Alert.objects.filter(dedupe_key="chargeback:paystack:ch-1", kind="chargeback_shortfall").exists()
    with pytest.raises(IdempotencyConflict):
        chargeback_post(gateway="paystack", reference="ch-1", account_id=wallet.pk, amount_kobo=9000)
    assert_ledger_invariants()


def test_chargeback_fully_covered_does_not_freeze(user):
    fund_wallet(user, 10_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    chargeback_post(gateway="paystack", reference="ch-2", account_id=wallet.pk, amount_kobo=4000)
    wallet = _wallet(user)
    assert (wallet.balance_kobo, wallet.status) == (6000, "active")
    assert not Alert.objects.filter(dedupe_key="chargeback:paystack:ch-2").exists()


def test_chargebacks_of_one_deposit_post_once_per_suffix_and_give_back_a_recovered_fee(user):
    fund_wallet(user, 10_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    first = chargeback_post(gateway="paystack", reference="ch-3", key_suffix="refund:1", account_id=wallet.pk,
                            amount_kobo=3000)
    second = chargeback_post(gateway="paystack", reference="ch-3", key_suffix="refund:2", account_id=wallet.pk,
                             amount_kobo=2000, revenue_kobo=150)
    fee_only = chargeback_post(gateway="paystack", reference="ch-3", key_suffix="refund:3", account_id=wallet.pk,
                               amount_kobo=0, revenue_kobo=50)
    assert [j.idempotency_key for j in (first, second, fee_only)] == [
        "chargeback:paystack:ch-3:refund:1", "chargeback:paystack:ch-3:refund:2", "chargeback:paystack:ch-3:refund:3"]
    assert {j.reference for j in (first, second, fee_only)} == {"ch-3"}
    legs = {e.account.code: e.amount_kobo for e in second.entries.select_related("account")}
    assert legs == {"clearing:paystack": 2150, wallet.code: -2000, "revenue": -150}
    assert {e.account.code: e.amount_kobo for e in fee_only.entries.select_related("account")} == {
        "clearing:paystack": 50, "revenue": -50}
    again = chargeback_post(gateway="paystack", reference="ch-3", key_suffix="refund:2", account_id=wallet.pk,
                            amount_kobo=2000, revenue_kobo=150)
    assert again.pk == second.pk
    with pytest.raises(IdempotencyConflict):
        chargeback_post(gateway="paystack", reference="ch-3", key_suffix="refund:2", account_id=wallet.pk,
                        amount_kobo=2000, revenue_kobo=100)
    with pytest.raises(ValueError):
        chargeback_post(gateway="paystack", reference="ch-4", account_id=wallet.pk, amount_kobo=0)
    assert _wallet(user).balance_kobo == 5000
    assert_ledger_invariants()


def test_limits_for_tier_reads_settings(settings):
    settings.KYC_TIER_LIMITS_KOBO = {0: {"single": 1, "daily": 2, "max_balance": 3}, 2: {"single": 4, "daily": 5, "max_balance": 6}}
    assert limits_for_tier(2) == Limits(4, 5, 6)
    assert limits_for_tier(9) == Limits(1, 2, 3)  # unknown tier: the lowest tier's limits


def test_every_posting_writes_an_audit_record(user):
    recipient = UserFactory()
    fund_wallet(user, 5000)
    wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=100, idempotency_key="z",
                    limits=BIG)
    assert AuditLog.objects.filter(action="journal.post").count() == 1
    assert AuditLog.objects.filter(action="transfer.create").count() == 1
    assert Journal.objects.count() == 2
