"""Two-phase spending: hold_place, then hold_capture or hold_release (DESIGN §2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from audit.services import Actor, audit_record
from config.errors import InvalidState, NotFound
from wallets import clock
from wallets.errors import IdempotencyConflict, LimitExceeded
from wallets.limits import Limits
from wallets.models import Hold, Journal
from wallets.services.posting import (
    SYSTEM_ACTOR,
    AccountChange,
    Leg,
    OutflowChange,
    apply_change,
    check_amount,
    insert_ignoring_conflict,
    ledger_execute,
    legs_hash,
    post,
    run_in_transaction,
)


def check_single_limit(amount_kobo: int, limits: Limits | None) -> None:
    if limits is not None and amount_kobo > limits.single_kobo:
        raise LimitExceeded(
            "The amount is over your single-transaction limit.",
            errors={"limit": "single", "limit_kobo": limits.single_kobo},
        )


def hold_place(
    *,
    account_id: int,
    amount_kobo: int,
    reference: str,
    limits: Limits | None = None,
    expires_at: datetime | None = None,
    memo: str = "",
    actor: Actor | None = None,
) -> Hold:
    """Reserve `amount_kobo` on a wallet for `reference` (a purchase reference).

    Locks: the wallet row, by one guarded UPDATE (held += amount, and with `limits` today's
    outflow += amount), refused when the wallet is frozen, the available balance is short or
    the daily limit would be crossed. Idempotent on `reference` (UNIQUE; inserted before the
    UPDATE, so a concurrent twin waits and then finds it): the same account and amount return
    the first hold. `expires_at` (default now + HOLD_REVIEW_HOURS) is a review deadline,
    never an automatic release. Raises InsufficientFunds, WalletFrozen, LimitExceeded,
    IdempotencyConflict, NotFound, LedgerBusy.
    """
    check_amount(amount_kobo)
    check_single_limit(amount_kobo, limits)
    actor = actor or SYSTEM_ACTOR

    def work() -> Hold:
        day = clock.lagos_today() if limits is not None else None
        hold = Hold(
            account_id=account_id, reference=reference, amount_kobo=amount_kobo, memo=memo[:255], outflow_day=day,
            expires_at=expires_at or clock.now() + timedelta(hours=settings.HOLD_REVIEW_HOURS),
        )
        if not insert_ignoring_conflict(hold):
            first = Hold.objects.get(reference=reference)
            if first.account_id != account_id or first.amount_kobo != amount_kobo:
                raise IdempotencyConflict("This hold reference was already used for another amount or wallet.")
            return first
        # With the wallet UPDATE, in its round trip (config.rows.deferring).
        audit_record(action="hold.place", actor=actor, target=hold, changes={"amount_kobo": amount_kobo}, defer=True)
        outflow = OutflowChange(day, amount_kobo, limits.daily_kobo) if limits is not None and day else None
        apply_change(  # last: the wallet row stays locked only for this UPDATE and the COMMIT
            account_id,
            AccountChange(held_delta_kobo=amount_kobo, require_active=True, guard_available=True, outflow=outflow),
        )
        return hold

    return run_in_transaction(work)


def _give_back(hold: Hold, amount_kobo: int) -> OutflowChange | None:
    """A hold released (or captured for less) was not spent: its amount leaves the daily
    counter again, if the counter is still on the hold's day (docs/adr/0002-limits.md)."""
    if hold.outflow_day is None or amount_kobo <= 0:
        return None
    return OutflowChange(hold.outflow_day, -amount_kobo)


def lock_hold(reference: str) -> Hold | None:
    """SELECT the hold ... FOR UPDATE (through `ledger_execute`, so the transaction's lock
    timeout applies to this first lock too)."""
    fields = [field.attname for field in Hold._meta.concrete_fields]
    columns = ", ".join(connection.ops.quote_name(Hold._meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        suffix = " FOR UPDATE" if connection.features.has_select_for_update else ""
        ledger_execute(cursor, f"SELECT {columns} FROM wallets_hold WHERE reference = %s{suffix}", [reference])  # noqa: S608 - model columns
        row = cursor.fetchone()
    return None if row is None else Hold.from_db(connection.alias, fields, row)


def hold_capture(*, reference: str, key: str, credit_legs: Sequence[Leg], actor: Actor | None = None) -> Journal:
    """Capture the hold `reference`: the wallet is debited by the sum of `credit_legs`
    (at most the hold), which are credited (e.g. float:<provider> +cost, revenue +margin); the
    rest of the hold is released.

    Locks: the hold row (SELECT ... FOR UPDATE), then the wallet row (one UPDATE: balance and
    held). System accounts among the credit legs get entries only: no UPDATE on their rows.
    Still posts on a frozen wallet. Idempotent: a hold captures once (status under the row
    lock, UNIQUE capture journal); the same key and legs again return the capture journal.
    Raises NotFound (no such hold), InvalidState (released), IdempotencyConflict (other key
    or legs), ValueError (legs not positive, or more than the hold), LedgerBusy.
    """
    credit_legs = list(credit_legs)
    if not credit_legs or any(check_amount(leg.amount_kobo) <= 0 for leg in credit_legs):
        raise ValueError("credit legs must be positive amounts")
    total = sum(leg.amount_kobo for leg in credit_legs)
    actor = actor or SYSTEM_ACTOR

    def work() -> Journal:
        hold = lock_hold(reference)
        if hold is None:
            raise NotFound(f"No hold {reference!r}.")
        legs = [Leg(hold.account_id, -total), *credit_legs]
        if hold.status == Hold.Status.CAPTURED:
            return _captured_replay(hold, key, legs)
        if hold.status == Hold.Status.RELEASED:
            raise InvalidState("The hold was released; it cannot be captured.")
        if total > hold.amount_kobo:
            raise ValueError(f"capture of {total} kobo is more than the hold of {hold.amount_kobo}")
        change = AccountChange(held_delta_kobo=-hold.amount_kobo, outflow=_give_back(hold, hold.amount_kobo - total))

        def mark_captured(journal: Journal) -> None:  # before the wallet row is locked
            Hold.objects.filter(pk=hold.pk).update(
                status=Hold.Status.CAPTURED, captured_kobo=total, capture_journal=journal, resolved_at=clock.now()
            )
            audit_record(
                action="hold.capture", actor=actor, target=hold,
                changes={"captured_kobo": total, "released_kobo": hold.amount_kobo - total, "journal": key},
            )

        journal, created = post(
            key=key, kind=Journal.Kind.PURCHASE, legs=legs, reference=reference, memo=hold.memo, actor=actor,
            changes={hold.account_id: change}, before_locks=mark_captured,
        )
        if not created:
            raise IdempotencyConflict("This capture key was already used.")
        return journal

    return run_in_transaction(work)


def _captured_replay(hold: Hold, key: str, legs: list[Leg]) -> Journal:
    journal = hold.capture_journal
    if journal is None or journal.idempotency_key != key or journal.legs_hash != legs_hash(Journal.Kind.PURCHASE, legs):
        raise IdempotencyConflict("The hold was already captured differently.")
    return journal


def hold_release(*, reference: str, actor: Actor | None = None) -> Hold:
    """Release the hold `reference` (a definitive failure): held -= amount, and the amount
    goes back to the daily counter of the hold's day.

    Locks: the hold row (conditional UPDATE active -> released), then the wallet row. Still
    works on a frozen wallet. Idempotent: releasing a released hold returns it unchanged.
    Raises NotFound, InvalidState (already captured), LedgerBusy.
    """
    actor = actor or SYSTEM_ACTOR

    def work() -> Hold:
        hold = lock_hold(reference)
        if hold is None:
            raise NotFound(f"No hold {reference!r}.")
        if hold.status == Hold.Status.RELEASED:
            return hold
        if hold.status == Hold.Status.CAPTURED:
            raise InvalidState("The hold was captured; it cannot be released.")
        hold.status, hold.resolved_at = Hold.Status.RELEASED, clock.now()
        Hold.objects.filter(pk=hold.pk).update(status=hold.status, resolved_at=hold.resolved_at)
        audit_record(action="hold.release", actor=actor, target=hold, changes={"amount_kobo": hold.amount_kobo})
        apply_change(  # last: the wallet row stays locked only for this UPDATE and the COMMIT
            hold.account_id,
            AccountChange(held_delta_kobo=-hold.amount_kobo, outflow=_give_back(hold, hold.amount_kobo)),
        )
        return hold

    return run_in_transaction(work)
