"""The ledger's invariants, read from the database alone (reference/ledger.md §3.10).

`ledger_findings()` is what `manage.py check_ledger` and the periodic task run;
`assert_ledger_invariants()` is the same for tests: every app's tests call it after their
scenario. Both read only; the checker (wallets.services.checks) decides what to freeze.

- balance_mismatch: a materialised balance is not the sum of its entries (I1)
- running_balance_broken: an entry's balance_after is not the running sum by entry id (I1)
- held_mismatch: `held` is not the sum of the account's active holds (I4)
- negative_available / negative_held: a customer wallet with balance - held < 0 (whatever its
  allow_negative flag says), any account with held < 0 (I3)
- customer_allows_negative: a customer wallet flagged allow_negative (the kind-shape CHECK
  forbids it; this catches a database whose constraint was dropped)
- derived_row_nonzero: a non-materialised (system) row carries a balance or held amount
- journal_unbalanced: a journal's entries do not sum to zero in some currency (I2)
- journal_without_legs: a journal with fewer than two entries
- ledger_unbalanced: all entries of a currency do not sum to zero (I2)
- capture_mismatch: a captured hold whose capture journal does not debit its wallet by the
  captured amount, or a hold captured for more than it held
- reversal_mismatch: a reversal that is not the exact opposite of the journal it reverses
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

LIMIT = 200  # rows per kind of finding: enough to act on, bounded for a broken ledger


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    account_ids: tuple[int, ...] = ()
    journal_ids: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "message": self.message, "account_ids": list(self.account_ids),
            "journal_ids": list(self.journal_ids), "details": self.details,
        }


def _rows(sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Rows with SUM()s as ints (PostgreSQL returns numeric for a SUM of bigint)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return [tuple(int(v) if isinstance(v, Decimal) else v for v in row) for row in cursor.fetchall()]


def _balance_mismatches() -> list[Finding]:
    rows = _rows(
        """SELECT a.id, a.code, a.balance_kobo, COALESCE(SUM(e.amount_kobo), 0)
             FROM wallets_ledgeraccount a LEFT JOIN wallets_entry e ON e.account_id = a.id
            WHERE a.materialised
            GROUP BY a.id, a.code, a.balance_kobo
           HAVING a.balance_kobo <> COALESCE(SUM(e.amount_kobo), 0)
            ORDER BY a.id LIMIT %s""",
        [LIMIT],
    )
    return [
        Finding("balance_mismatch", f"account {code}: balance {bal} but entries sum to {total}", (pk,),
                details={"balance_kobo": bal, "entries_kobo": total})
        for pk, code, bal, total in rows
    ]


def _running_balances() -> list[Finding]:
    rows = _rows(
        """SELECT x.account_id, x.code, x.id, x.balance_after_kobo, x.running FROM (
               SELECT e.id, e.account_id, a.code, e.balance_after_kobo,
                      SUM(e.amount_kobo) OVER (PARTITION BY e.account_id ORDER BY e.id) AS running
                 FROM wallets_entry e JOIN wallets_ledgeraccount a ON a.id = e.account_id
                WHERE a.materialised) x
            WHERE x.balance_after_kobo IS NULL OR x.balance_after_kobo <> x.running
            ORDER BY x.id LIMIT %s""",
        [LIMIT],
    )
    return [
        Finding("running_balance_broken", f"account {code}: entry {entry} says {after} after, running sum is {running}",
                (account,), details={"entry_id": entry})
        for account, code, entry, after, running in rows
    ]


def _held_mismatches() -> list[Finding]:
    rows = _rows(
        """SELECT a.id, a.code, a.held_kobo, COALESCE(SUM(h.amount_kobo), 0)
             FROM wallets_ledgeraccount a
             LEFT JOIN wallets_hold h ON h.account_id = a.id AND h.status = 'active'
            WHERE a.materialised
            GROUP BY a.id, a.code, a.held_kobo
           HAVING a.held_kobo <> COALESCE(SUM(h.amount_kobo), 0)
            ORDER BY a.id LIMIT %s""",
        [LIMIT],
    )
    return [
        Finding("held_mismatch", f"account {code}: held {held} but active holds sum to {total}", (pk,),
                details={"held_kobo": held, "active_holds_kobo": total})
        for pk, code, held, total in rows
    ]


def _row_rules() -> list[Finding]:
    findings = [
        Finding("negative_available", f"account {code}: available {bal - held} < 0", (pk,))
        for pk, code, bal, held in _rows(
            "SELECT id, code, balance_kobo, held_kobo FROM wallets_ledgeraccount "
            "WHERE kind = 'customer' AND balance_kobo - held_kobo < 0 ORDER BY id LIMIT %s", [LIMIT]
        )
    ]
    findings += [
        Finding("customer_allows_negative", f"customer wallet {code} is flagged allow_negative", (pk,))
        for pk, code in _rows(
            "SELECT id, code FROM wallets_ledgeraccount WHERE kind = 'customer' AND allow_negative ORDER BY id LIMIT %s",
            [LIMIT],
        )
    ]
    findings += [
        Finding("negative_held", f"account {code}: held {held} < 0", (pk,))
        for pk, code, held in _rows(
            "SELECT id, code, held_kobo FROM wallets_ledgeraccount WHERE held_kobo < 0 ORDER BY id LIMIT %s", [LIMIT]
        )
    ]
    findings += [
        Finding("derived_row_nonzero", f"system account {code}: row balance {bal}, held {held} (must stay 0)", (pk,))
        for pk, code, bal, held in _rows(
            "SELECT id, code, balance_kobo, held_kobo FROM wallets_ledgeraccount "
            "WHERE NOT materialised AND (balance_kobo <> 0 OR held_kobo <> 0) ORDER BY id LIMIT %s", [LIMIT]
        )
    ]
    return findings


def _journal_rules() -> list[Finding]:
    findings = [
        Finding("journal_unbalanced", f"journal {key}: entries sum to {total} {currency}", journal_ids=(pk,))
        for pk, key, currency, total in _rows(
            """SELECT j.id, j.idempotency_key, a.currency, SUM(e.amount_kobo)
                 FROM wallets_entry e JOIN wallets_journal j ON j.id = e.journal_id
                 JOIN wallets_ledgeraccount a ON a.id = e.account_id
                GROUP BY j.id, j.idempotency_key, a.currency HAVING SUM(e.amount_kobo) <> 0
                ORDER BY j.id LIMIT %s""",
            [LIMIT],
        )
    ]
    findings += [
        Finding("journal_without_legs", f"journal {key}: {count} entries", journal_ids=(pk,))
        for pk, key, count in _rows(
            """SELECT j.id, j.idempotency_key, COUNT(e.id) FROM wallets_journal j
                 LEFT JOIN wallets_entry e ON e.journal_id = j.id
                GROUP BY j.id, j.idempotency_key HAVING COUNT(e.id) < 2 ORDER BY j.id LIMIT %s""",
            [LIMIT],
        )
    ]
    findings += [
        Finding("ledger_unbalanced", f"all {currency} entries sum to {total}, not 0", details={"currency": currency})
        for currency, total in _rows(
            """SELECT a.currency, SUM(e.amount_kobo) FROM wallets_entry e
                 JOIN wallets_ledgeraccount a ON a.id = e.account_id
                GROUP BY a.currency HAVING SUM(e.amount_kobo) <> 0"""
        )
    ]
    return findings


def _hold_and_reversal_rules() -> list[Finding]:
    findings = [
        Finding("capture_mismatch", f"hold {ref}: captured {captured} of {amount}, wallet debited {debit}",
                (account,), (journal,) if journal else ())
        for ref, account, amount, captured, journal, debit in _rows(
            """SELECT h.reference, h.account_id, h.amount_kobo, h.captured_kobo, h.capture_journal_id,
                      (SELECT SUM(e.amount_kobo) FROM wallets_entry e
                        WHERE e.journal_id = h.capture_journal_id AND e.account_id = h.account_id)
                 FROM wallets_hold h
                WHERE h.status = 'captured' AND (h.captured_kobo > h.amount_kobo OR COALESCE(
                      (SELECT SUM(e.amount_kobo) FROM wallets_entry e
                        WHERE e.journal_id = h.capture_journal_id AND e.account_id = h.account_id), 0)
                      <> -h.captured_kobo)
                ORDER BY h.id LIMIT %s""",
            [LIMIT],
        )
    ]
    findings += [
        Finding("reversal_mismatch", f"journal {key} is not the exact opposite of journal {original}", journal_ids=(pk,))
        for pk, key, original in _rows(
            """SELECT r.id, r.idempotency_key, r.reversal_of_id FROM wallets_journal r
                WHERE r.reversal_of_id IS NOT NULL AND (
                      (SELECT COUNT(*) FROM wallets_entry WHERE journal_id = r.id)
                      <> (SELECT COUNT(*) FROM wallets_entry WHERE journal_id = r.reversal_of_id)
                   OR EXISTS (SELECT 1 FROM wallets_entry er WHERE er.journal_id = r.id AND NOT EXISTS (
                          SELECT 1 FROM wallets_entry eo WHERE eo.journal_id = r.reversal_of_id
                             AND eo.account_id = er.account_id AND eo.amount_kobo = -er.amount_kobo)))
                ORDER BY r.id LIMIT %s""",
            [LIMIT],
        )
    ]
    return findings


def ledger_findings() -> list[Finding]:
    """Every invariant violation in the ledger; an empty list means all hold. Each rule is one
    statement, so it reads one consistent snapshot even while postings run."""
    return [
        *_balance_mismatches(),
        *_running_balances(),
        *_held_mismatches(),
        *_row_rules(),
        *_journal_rules(),
        *_hold_and_reversal_rules(),
    ]


def assert_ledger_invariants() -> None:
    """Raise AssertionError naming every violated invariant. Call it at the end of any test
    that moved money (after its threads have finished)."""
    findings = ledger_findings()
    if findings:
        raise AssertionError("ledger invariants violated:\n" + "\n".join(f"- {f.code}: {f.message}" for f in findings))
