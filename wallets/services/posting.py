"""The posting primitive: the only code that changes a balance.

One journal = one transaction (or part of the caller's): insert the journal with its
UNIQUE idempotency key (`ON CONFLICT DO NOTHING`: a concurrent twin waits for the first to
commit, then finds it), then one guarded atomic UPDATE ... RETURNING per materialised account,
in ascending id order, then the entries with their running balances. READ COMMITTED: a blocked
UPDATE re-evaluates its WHERE clause on the newest row version, so the guard and the write
cannot be split (reference/ledger.md §2.1). The CHECK constraints on the account row and the
deferred "journal balances" trigger are the backstop.

System accounts are not materialised: their entries are inserted, their rows never updated
here (docs/adr/0001-hot-system-accounts.md).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.utils import timezone

from audit.services import Actor
from config.errors import NotFound
from config.metrics import LEDGER_POSTINGS
from config.rows import client_side_binding, deferring, execute_with_deferred, insert_row
from wallets.errors import IdempotencyConflict, InsufficientFunds, LedgerBusy, LimitExceeded, WalletFrozen
from wallets.models import Journal, LedgerAccount

T = TypeVar("T")

# The journal key families of DESIGN §2 (hold:<ref> is the Hold's own reference). A new
# family goes here and into docs/ARCHITECTURE.md in the same commit.
KEY_PREFIXES = ("fund:", "capture:", "reversal:", "refund:", "transfer:", "adjust:", "bankfund:", "chargeback:")
# Debits that still post on a frozen wallet: capture of an existing hold, a reversal, a chargeback.
FROZEN_DEBIT_KINDS = frozenset({Journal.Kind.PURCHASE, Journal.Kind.REVERSAL, Journal.Kind.CHARGEBACK})
RETRYABLE_SQLSTATES = frozenset({"40P01", "55P03", "40001"})  # deadlock, lock timeout, serialization
SYSTEM_ACTOR = Actor.system("wallets")


@dataclass(frozen=True)
class Leg:
    """One side of a journal: + credit, - debit, in kobo."""

    account_id: int
    amount_kobo: int


@dataclass(frozen=True)
class OutflowChange:
    """Move today's outflow counter: +amount counts (refused past `limit_kobo`), -amount gives
    back (only when the counter is still on `day`)."""

    day: date
    amount_kobo: int
    limit_kobo: int | None = None


@dataclass
class AccountChange:
    """Everything one posting does to one materialised account row, applied by one UPDATE."""

    delta_kobo: int = 0
    held_delta_kobo: int = 0
    require_active: bool = False
    guard_available: bool = False
    outflow: OutflowChange | None = None
    max_balance_kobo: int | None = None


# --- transactions -------------------------------------------------------------------------


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None) or getattr(exc, "sqlstate", None)


def _lock_timeout_sql() -> str:
    return f"SET LOCAL lock_timeout = {int(settings.WALLET_LOCK_TIMEOUT_MS)}"


def _arm_lock_timeout() -> None:
    """Set `SET LOCAL lock_timeout` for this transaction. With client-side binding (Django's
    default for psycopg 3) it rides along with the first ledger statement (`ledger_execute`),
    saving a round trip on every posting; otherwise it is sent now."""
    if connection.vendor != "postgresql":
        return
    if client_side_binding():
        connection.wallets_lock_timeout_pending = True  # type: ignore[attr-defined]
        return
    with connection.cursor() as cursor:
        cursor.execute(_lock_timeout_sql())


def lock_timeout_now() -> None:
    """Send a pending `SET LOCAL lock_timeout` at once: for work whose first statement takes
    a lock outside `ledger_execute` (an ORM SELECT ... FOR UPDATE)."""
    if getattr(connection, "wallets_lock_timeout_pending", False):
        connection.wallets_lock_timeout_pending = False  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute(_lock_timeout_sql())


def ledger_execute(cursor: Any, sql: str, params: Sequence[Any]) -> None:
    """Execute a ledger statement; the first one of a transaction carries the pending
    `SET LOCAL lock_timeout` in the same round trip (its result set is skipped), and any
    statement deferred until now (config.rows: a purchase's INSERT, an audit row) goes
    before it in that round trip too."""
    if getattr(connection, "wallets_lock_timeout_pending", False):
        connection.wallets_lock_timeout_pending = False  # type: ignore[attr-defined]
        execute_with_deferred(cursor, f"{_lock_timeout_sql()}; {sql}", list(params))
        cursor.nextset()
        return
    execute_with_deferred(cursor, sql, list(params))


def run_in_transaction(work: Callable[[], T]) -> T:
    """Run `work` in its own `transaction.atomic` with `SET LOCAL lock_timeout`, retrying a
    deadlock or lock timeout a bounded number of times with jitter; after the last try the
    client gets 503 SERVICE_UNAVAILABLE, never a deadlock error. Inside a caller's
    transaction it runs there, without savepoint or retry (`_run_in_caller_transaction`)."""
    if _inside_caller_transaction():
        return _run_in_caller_transaction(work)
    attempts = max(1, settings.WALLET_DEADLOCK_RETRIES)
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(), deferring():
                _arm_lock_timeout()
                try:
                    return work()
                finally:
                    connection.wallets_lock_timeout_pending = False  # type: ignore[attr-defined]
        except OperationalError as exc:
            if _sqlstate(exc) not in RETRYABLE_SQLSTATES:
                raise
            if attempt == attempts:
                raise LedgerBusy("The wallet is busy; retry the request.") from exc
            time.sleep(random.uniform(0.002, 0.02) * attempt)  # jitter so the retries don't collide again
    raise AssertionError("unreachable")


def _inside_caller_transaction() -> bool:
    """An application transaction is open around us (Django's TestCase blocks don't count:
    they stand for the autocommit a request would have)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def _run_in_caller_transaction(work: Callable[[], T]) -> T:
    """Inside the caller's transaction (a purchase created with its hold, a capture recorded
    with its purchase): no savepoint, which saves two round trips on every purchase, and so
    no retry either; a deadlock or lock timeout rolls the caller's transaction back and the
    client gets 503 SERVICE_UNAVAILABLE (a worker's requery settles a capture later)."""
    with transaction.atomic(savepoint=False), deferring():
        _arm_lock_timeout()
        try:
            return work()
        except OperationalError as exc:
            if _sqlstate(exc) in RETRYABLE_SQLSTATES:
                raise LedgerBusy("The wallet is busy; retry the request.") from exc
            raise
        finally:
            connection.wallets_lock_timeout_pending = False  # type: ignore[attr-defined]


# --- validation ---------------------------------------------------------------------------


def check_amount(amount_kobo: Any) -> int:
    if isinstance(amount_kobo, bool) or not isinstance(amount_kobo, int) or amount_kobo <= 0:
        raise ValueError(f"amount must be a positive integer of kobo, not {amount_kobo!r}")
    return amount_kobo


def legs_hash(kind: str, legs: Iterable[Leg]) -> str:
    """What makes two postings "the same": kind and the multiset of (account, amount)."""
    canonical = kind + "|" + ";".join(f"{leg.account_id}:{leg.amount_kobo}" for leg in sorted(legs, key=_leg_sort))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _leg_sort(leg: Leg) -> tuple[int, int]:
    return (leg.account_id, leg.amount_kobo)


def _validate(key: str, kind: str, legs: Sequence[Leg]) -> None:
    if not isinstance(key, str) or not key.startswith(KEY_PREFIXES) or len(key) > 255:
        raise ValueError(f"journal key {key!r} is not one of the families {KEY_PREFIXES}")
    if kind not in Journal.Kind.values:
        raise ValueError(f"unknown journal kind {kind!r}")
    if len(legs) < 2:
        raise ValueError("a journal needs at least two legs")
    for leg in legs:
        if isinstance(leg.amount_kobo, bool) or not isinstance(leg.amount_kobo, int) or leg.amount_kobo == 0:
            raise ValueError(f"leg amounts are non-zero integers of kobo, not {leg.amount_kobo!r}")
    if len({leg.account_id for leg in legs}) != len(legs):
        raise ValueError("an account appears twice in one journal")


def _accounts(legs: Sequence[Leg], known: dict[int, LedgerAccount] | None) -> dict[int, LedgerAccount]:
    ids = {leg.account_id for leg in legs}
    found = {pk: account for pk, account in (known or {}).items() if pk in ids}
    missing = ids - set(found)
    if missing:
        fields = ("id", "currency", "kind", "materialised", "status")
        found.update({a.pk: a for a in LedgerAccount.objects.filter(pk__in=missing).only(*fields)})
    if set(found) != ids:
        raise NotFound(f"No ledger account {sorted(ids - set(found))}.")
    totals: dict[str, int] = {}
    for leg in legs:
        currency = found[leg.account_id].currency
        totals[currency] = totals.get(currency, 0) + leg.amount_kobo
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise ValueError(f"legs do not sum to zero per currency: {unbalanced}")
    return found


# --- SQL ----------------------------------------------------------------------------------


def insert_ignoring_conflict(obj: models.Model) -> bool:
    """INSERT `obj` ... ON CONFLICT DO NOTHING RETURNING id: True and `obj.pk` set when the row
    was inserted, False when a UNIQUE constraint already held a row (after waiting for a
    concurrent inserter to commit or roll back). One round trip, no savepoint; the first
    ledger statement of a transaction carries its lock timeout."""
    return insert_row(obj, on_conflict_do_nothing=True, execute=ledger_execute)


def _day(value: date) -> Any:
    return connection.ops.adapt_datefield_value(value)


def _update_statement(account_id: int, change: AccountChange) -> tuple[str, list[Any]]:
    """The guarded UPDATE ... RETURNING (balance, held) of one materialised account."""
    sets = ["balance_kobo = balance_kobo + %s", "held_kobo = held_kobo + %s"]
    set_params: list[Any] = [change.delta_kobo, change.held_delta_kobo]
    where = ["id = %s", "materialised"]
    where_params: list[Any] = [account_id]
    if change.require_active:
        where.append("status = 'active'")
    if change.guard_available:
        # The same rule as CHECK ledgeraccount_customer_available_nonnegative (keyed on kind,
        # never on a flag), so the guard, not the CHECK, is what refuses.
        where.append("(kind = 'system' OR balance_kobo - held_kobo + %s >= 0)")
        where_params.append(change.delta_kobo - change.held_delta_kobo)
    if change.max_balance_kobo is not None and change.delta_kobo > 0:
        where.append("balance_kobo + %s <= %s")
        where_params += [change.delta_kobo, change.max_balance_kobo]
    outflow = change.outflow
    if outflow is not None and outflow.amount_kobo > 0:
        sets.append("outflow_kobo = CASE WHEN outflow_day = %s THEN outflow_kobo + %s ELSE %s END")
        sets.append("outflow_day = %s")
        set_params += [_day(outflow.day), outflow.amount_kobo, outflow.amount_kobo, _day(outflow.day)]
        if outflow.limit_kobo is not None:
            where.append("(CASE WHEN outflow_day = %s THEN outflow_kobo ELSE 0 END) + %s <= %s")
            where_params += [_day(outflow.day), outflow.amount_kobo, outflow.limit_kobo]
    elif outflow is not None and outflow.amount_kobo < 0:
        give_back = -outflow.amount_kobo
        sets.append(
            "outflow_kobo = CASE WHEN outflow_day = %s AND outflow_kobo >= %s THEN outflow_kobo - %s"
            " WHEN outflow_day = %s THEN 0 ELSE outflow_kobo END"
        )
        set_params += [_day(outflow.day), give_back, give_back, _day(outflow.day)]
    sql = (
        f"UPDATE wallets_ledgeraccount SET {', '.join(sets)} WHERE {' AND '.join(where)} "  # noqa: S608 - fixed fragments, values are parameters
        "RETURNING balance_kobo, held_kobo"
    )
    return sql, set_params + where_params


def apply_change(account_id: int, change: AccountChange) -> tuple[int, int]:
    """One guarded UPDATE ... RETURNING on a materialised account. Returns (balance, held).
    When the guard refuses, finds out why and raises the matching error."""
    return apply_changes([(account_id, change)])[account_id]


def apply_changes(items: Sequence[tuple[int, AccountChange]]) -> dict[int, tuple[int, int]]:
    """The guarded UPDATEs of several accounts, in the order given (callers give ascending
    ids: no deadlocks), sent in one round trip where the driver allows it (PostgreSQL with
    client-side binding: the statements still run one after the other, so the row locks are
    still taken in that order). {account id: (balance, held)}. The first refusal raises; a
    later UPDATE that already ran is rolled back with the caller's transaction."""
    statements = [_update_statement(account_id, change) for account_id, change in items]
    if len(items) < 2 or (connection.vendor == "postgresql" and client_side_binding()):
        return _run_updates(statements, items) if items else {}
    results: dict[int, tuple[int, int]] = {}
    for statement, item in zip(statements, items, strict=True):  # one statement per execute
        results.update(_run_updates([statement], [item]))
    return results


def _run_updates(statements: list[tuple[str, list[Any]]], items: Sequence[tuple[int, AccountChange]]) -> dict[int, tuple[int, int]]:
    results: dict[int, tuple[int, int]] = {}
    with connection.cursor() as cursor:
        ledger_execute(cursor, "; ".join(sql for sql, _ in statements), [p for _, params in statements for p in params])
        for index, (account_id, change) in enumerate(items):
            if index:
                cursor.nextset()
            row = cursor.fetchone()
            if row is None:
                raise _refusal(account_id, change)
            results[account_id] = (row[0], row[1])
    return results


def _refusal(account_id: int, change: AccountChange) -> Exception:
    """Why did the guarded UPDATE match no row? Read the row (inside the same transaction) and
    name the first rule it breaks."""
    account = LedgerAccount.objects.filter(pk=account_id).first()
    if account is None or not account.materialised:
        return NotFound("No such wallet.")
    if change.require_active and account.status != LedgerAccount.Status.ACTIVE:
        return WalletFrozen()
    outflow = change.outflow
    if outflow is not None and outflow.amount_kobo > 0 and outflow.limit_kobo is not None:
        used = account.outflow_kobo if account.outflow_day == outflow.day else 0
        if used + outflow.amount_kobo > outflow.limit_kobo:
            return LimitExceeded(
                "The amount is over your daily limit.",
                errors={"limit": "daily", "limit_kobo": outflow.limit_kobo, "remaining_kobo": max(0, outflow.limit_kobo - used)},
            )
    if change.max_balance_kobo is not None and account.balance_kobo + change.delta_kobo > change.max_balance_kobo:
        return LimitExceeded(
            "The recipient's wallet would go over its maximum balance.",
            errors={"limit": "max_balance", "limit_kobo": change.max_balance_kobo},
        )
    return InsufficientFunds(errors={"available_kobo": max(0, account.available_kobo)})


# --- the primitive ------------------------------------------------------------------------


def post(
    *,
    key: str,
    kind: str,
    legs: Sequence[Leg],
    reference: str = "",
    memo: str = "",
    metadata: dict[str, Any] | None = None,
    actor: Actor | None = None,
    changes: dict[int, AccountChange] | None = None,
    reversal_of_id: int | None = None,
    known_accounts: dict[int, LedgerAccount] | None = None,
    replay_matches: Callable[[Journal], bool] | None = None,
    before_locks: Callable[[Journal], None] | None = None,
) -> tuple[Journal, bool]:
    """Post one journal inside the caller's transaction. Returns (journal, created).

    `changes` adds per-account rules on top of the legs (held moves, outflow counter, a
    maximum balance, "must be active"). A debit on a customer wallet is guarded by
    "available stays >= 0" and, unless `kind` is in FROZEN_DEBIT_KINDS, by "not frozen".
    Replay: the same key with the same kind and legs (or `replay_matches`) returns the first
    journal with created=False; anything else raises IdempotencyConflict.

    `before_locks(journal)` runs after the journal row exists and before any account row is
    locked: audit records and callback rows go there, so a hot wallet's row lock is held
    only for its UPDATEs, the entries and the COMMIT. The new balances of the materialised
    accounts are left on `journal.posted_balances` ({account id: balance}).
    """
    legs = list(legs)
    _validate(key, kind, legs)
    accounts = _accounts(legs, known_accounts)
    actor = actor or SYSTEM_ACTOR
    journal = Journal(
        idempotency_key=key, kind=kind, reference=reference[:100], memo=memo[:255], metadata=metadata or {},
        legs_hash=legs_hash(kind, legs), reversal_of_id=reversal_of_id,
        actor_kind=actor.kind, actor_user_id=actor.user_id, actor_label=actor.label[:128],
    )
    if not insert_ignoring_conflict(journal):
        return _replay(journal, reversal_of_id, replay_matches), False
    if before_locks is not None:
        before_locks(journal)
    balances = _apply_all(kind, legs, accounts, changes or {})
    _insert_entries(journal.pk, legs, balances)
    journal.posted_balances = balances  # type: ignore[attr-defined]
    transaction.on_commit(lambda: LEDGER_POSTINGS.labels(kind=kind).inc())
    return journal, True


def _insert_entries(journal_id: int, legs: Sequence[Leg], balances: dict[int, int]) -> None:
    """One multi-row INSERT. The time is taken under the account locks: per wallet, entry
    times follow entry ids, so statements by date read in posting order."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = []
    for leg in legs:
        params += [journal_id, leg.account_id, leg.amount_kobo, balances.get(leg.account_id), at]
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(legs))
    with connection.cursor() as cursor:
        ledger_execute(
            cursor,
            f"INSERT INTO wallets_entry (journal_id, account_id, amount_kobo, balance_after_kobo, created_at) VALUES {rows}",  # noqa: S608 - placeholders only
            params,
        )


def _replay(journal: Journal, reversal_of_id: int | None, replay_matches: Callable[[Journal], bool] | None) -> Journal:
    first = Journal.objects.filter(idempotency_key=journal.idempotency_key).first()
    if first is None:
        # Not the key: another UNIQUE holds a row (one reversal per journal, one capture or
        # one refund per purchase reference), posted under another key.
        raise IdempotencyConflict("This journal was already reversed, or this reference already captured or refunded.")
    matches = replay_matches(first) if replay_matches else first.legs_hash == journal.legs_hash
    if not matches or first.reversal_of_id != reversal_of_id:
        raise IdempotencyConflict()
    return first


def _apply_all(
    kind: str, legs: Sequence[Leg], accounts: dict[int, LedgerAccount], changes: dict[int, AccountChange]
) -> dict[int, int]:
    deltas = {leg.account_id: leg.amount_kobo for leg in legs}
    items: list[tuple[int, AccountChange]] = []
    for account_id in sorted(set(deltas) | set(changes)):  # ascending id order: no deadlocks
        account = accounts.get(account_id)
        if account is not None and not account.materialised:
            continue  # hot system account: entries only
        change = changes.get(account_id) or AccountChange()
        change.delta_kobo = deltas.get(account_id, 0)
        if change.delta_kobo < 0:
            change.guard_available = True
            change.require_active = change.require_active or kind not in FROZEN_DEBIT_KINDS
        items.append((account_id, change))
    return {account_id: balance for account_id, (balance, _held) in apply_changes(items).items()}
