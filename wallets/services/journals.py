"""Generic postings: journal_post (deposits, refunds, fees), journal_reverse, chargeback_post."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from audit.services import Actor, audit_record
from config.alerts import alert_raise
from config.errors import InvalidState, NotFound
from wallets.errors import IdempotencyConflict
from wallets.models import Journal, LedgerAccount
from wallets.services.accounts import system_account
from wallets.services.posting import SYSTEM_ACTOR, Leg, check_amount, lock_timeout_now, post, run_in_transaction


def journal_post(
    *,
    key: str,
    kind: str,
    legs: Sequence[Leg],
    reference: str = "",
    memo: str = "",
    metadata: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> Journal:
    """Post a balanced journal (e.g. `fund:<gateway>:<ref>`: clearing -x, wallet +x).

    Locks: each materialised account row among the legs (guarded UPDATE, id order); system
    accounts are not locked. Idempotent on `key` (UNIQUE): the same key with the same kind and
    legs returns the first journal; a concurrent twin waits for the first to commit and then
    gets it. Raises IdempotencyConflict (same key, other legs), InsufficientFunds (a debit
    beyond a wallet's available balance), WalletFrozen (a debit on a frozen wallet, except
    kinds purchase/reversal/chargeback), NotFound (unknown account), ValueError (malformed
    legs, unbalanced, unknown key family), LedgerBusy (lock contention outlasted the retries).
    """
    actor = actor or SYSTEM_ACTOR

    def audit(journal: Journal) -> None:
        audit_record(
            action="journal.post", actor=actor, target=journal,
            changes={"legs": [[leg.account_id, leg.amount_kobo] for leg in legs]},
        )

    def work() -> Journal:
        journal, _created = post(
            key=key, kind=kind, legs=legs, reference=reference, memo=memo, metadata=metadata, actor=actor,
            before_locks=audit,
        )
        return journal

    return run_in_transaction(work)


def journal_reverse(
    *, original_key: str, key: str, memo: str = "", reason: str = "", actor: Actor | None = None
) -> Journal:
    """Post the exact opposite of the journal `original_key` (e.g. `reversal:<purchase ref>`
    for a capture the provider reversed: the wallet is credited, float and revenue debited).

    Locks: the materialised accounts among the legs, in id order. Still posts on a frozen
    wallet. Idempotent on `key`; a journal is reversed at most once (UNIQUE reversal_of), so a
    second reversal under another key raises IdempotencyConflict. A reversal is never itself
    reversed (InvalidState). Raises NotFound, InsufficientFunds (reversing a credit already
    spent), LedgerBusy.
    """
    actor = actor or SYSTEM_ACTOR
    original = Journal.objects.filter(idempotency_key=original_key).first()
    if original is None:
        raise NotFound(f"No journal {original_key!r}.")
    if original.kind == Journal.Kind.REVERSAL:
        raise InvalidState("A reversal cannot be reversed; post a new journal.")
    legs = [Leg(entry.account_id, -entry.amount_kobo) for entry in original.entries.order_by("id")]

    def audit(journal: Journal) -> None:
        audit_record(action="journal.reverse", actor=actor, target=journal, reason=reason, changes={"original": original_key})

    def work() -> Journal:
        journal, _created = post(
            key=key, kind=Journal.Kind.REVERSAL, legs=legs, reference=original.reference,
            memo=memo or f"Reversal of {original.reference or original.idempotency_key}"[:255],
            metadata={"original_key": original_key, "reason": reason}, actor=actor, reversal_of_id=original.pk,
            before_locks=audit,
        )
        return journal

    return run_in_transaction(work)


def chargeback_post(
    *, gateway: str, reference: str, account_id: int, amount_kobo: int, memo: str = "", actor: Actor | None = None,
    key_suffix: str = "", revenue_kobo: int = 0,
) -> Journal:
    """A gateway took back (part of) a deposit (`chargeback:<gateway>:<reference>[:<suffix>]`,
    one suffix per refund or dispute): clearing +(amount + revenue), the wallet debited by
    what is available of `amount_kobo`, the rest booked to `receivables` (the customer owes
    it), and `revenue_kobo` (a fee recovered from the customer at funding, now given back)
    taken from revenue. When there is a shortfall the wallet is frozen and staff alerted.

    Locks: the wallet row (SELECT ... FOR UPDATE, so "what is available" cannot change before
    the debit). Posts on a frozen wallet. Idempotent on the key: a repeat with the same amounts
    returns the first journal (its split may differ from what a repeat would compute now);
    other amounts raise IdempotencyConflict. Raises NotFound, LedgerBusy.
    """
    _check_chargeback_amounts(amount_kobo, revenue_kobo)
    actor = actor or SYSTEM_ACTOR
    key = f"chargeback:{gateway}:{reference}" + (f":{key_suffix}" if key_suffix else "")
    clearing = system_account(f"clearing:{gateway}")
    receivables = system_account("receivables")
    revenue = system_account("revenue")

    def same_chargeback(journal: Journal) -> bool:
        return (
            journal.kind == Journal.Kind.CHARGEBACK and journal.metadata.get("amount_kobo") == amount_kobo
            and journal.metadata.get("revenue_kobo", 0) == revenue_kobo
        )

    def work() -> Journal:
        lock_timeout_now()
        wallet = LedgerAccount.objects.select_for_update().filter(pk=account_id, kind="customer").first()
        if wallet is None:
            raise NotFound("No such wallet.")
        debit = min(max(wallet.available_kobo, 0), amount_kobo)
        shortfall = amount_kobo - debit
        legs = [Leg(clearing.pk, amount_kobo + revenue_kobo)]
        legs += [Leg(wallet.pk, -debit)] if debit else []
        legs += [Leg(receivables.pk, -shortfall)] if shortfall else []
        legs += [Leg(revenue.pk, -revenue_kobo)] if revenue_kobo else []
        metadata = {"amount_kobo": amount_kobo, "debited_kobo": debit, "receivable_kobo": shortfall, "gateway": gateway}
        if revenue_kobo:
            metadata["revenue_kobo"] = revenue_kobo
        journal, created = post(
            key=key, kind=Journal.Kind.CHARGEBACK, legs=legs, reference=reference,
            memo=memo or f"Chargeback {gateway} {reference}"[:255], actor=actor, metadata=metadata,
            known_accounts={clearing.pk: clearing, receivables.pk: receivables, revenue.pk: revenue, wallet.pk: wallet},
            replay_matches=same_chargeback,
        )
        if created:
            audit_record(
                action="chargeback.post", actor=actor, target=journal,
                changes={"amount_kobo": amount_kobo, "debited_kobo": debit, "receivable_kobo": shortfall,
                         "revenue_kobo": revenue_kobo},
            )
            if shortfall:
                _freeze_for_shortfall(wallet, journal, shortfall, actor)
        return journal

    journal = run_in_transaction(work)
    if not same_chargeback(journal):
        raise IdempotencyConflict()
    return journal


def _check_chargeback_amounts(amount_kobo: int, revenue_kobo: int) -> None:
    """The wallet part may be 0 only when a recovered fee is given back (a later partial
    refund of a deposit whose wallet part is already reversed)."""
    if revenue_kobo:
        check_amount(revenue_kobo)
        if isinstance(amount_kobo, bool) or not isinstance(amount_kobo, int) or amount_kobo < 0:
            raise ValueError(f"amount must be a non-negative integer of kobo, not {amount_kobo!r}")
    else:
        check_amount(amount_kobo)


def _freeze_for_shortfall(wallet: LedgerAccount, journal: Journal, shortfall: int, actor: Actor) -> None:
    reason = f"Chargeback {journal.idempotency_key}: {shortfall} kobo owed (receivable)"
    frozen = LedgerAccount.objects.filter(pk=wallet.pk, status="active").update(
        status="frozen", frozen_reason=reason, frozen_at=timezone.now()
    )
    if frozen:
        audit_record(
            action="wallet.freeze", actor=actor, target=wallet, reason=reason, changes={"status": ["active", "frozen"]}
        )
    alert_raise(
        kind="chargeback_shortfall", dedupe_key=journal.idempotency_key, severity="critical",
        message=f"Chargeback on wallet {wallet.number}: {shortfall} kobo already spent, booked to receivables; wallet frozen.",
        details={"wallet": wallet.number, "journal": journal.idempotency_key, "receivable_kobo": shortfall},
    )
