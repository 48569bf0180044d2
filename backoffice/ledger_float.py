"""The ledger's own view of each provider's float: the balance of the `float:<provider>`
system account, i.e. the sum of its entries (system rows are not materialised: their
balance rows are never updated on the hot path, docs/adr/0001-hot-system-accounts.md).

A GROUP BY over every float entry on each dashboard load grows with every purchase ever
made, so the sum is kept as a snapshot in the cache: `upto` (an entry id) and the per-account
sums of the entries up to it. Each call adds only the entries after `upto` (an index range
on (account, id)), and moves `upto` forward to the newest entry that is SETTLED old.

Why "settled": ids come from a sequence when the INSERT runs, so an entry with a lower id can
commit after one with a higher id. An entry older than SETTLE is taken as committed (a
posting transaction lives milliseconds; lock waits are capped at WALLET_LOCK_TIMEOUT_MS), so
the snapshot never skips one for good; entries newer than SETTLE are summed live on every
call. The snapshot expires after SNAPSHOT_SECONDS and is then rebuilt from scratch, which
also bounds any error from a pathological transaction older than SETTLE.

Entries are append-only (a trigger refuses UPDATE/DELETE), so a sum once taken stays true.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone

from wallets.models import Entry, LedgerAccount

CACHE_KEY = "backoffice:ledger-float:v1"
SETTLE = timedelta(minutes=10)
SNAPSHOT_SECONDS = 24 * 3600
PREFIX = "float:"


def _sums(account_ids: list[int], after: int, upto: int | None) -> dict[int, int]:
    entries = Entry.objects.filter(account_id__in=account_ids, id__gt=after)
    if upto is not None:
        entries = entries.filter(id__lte=upto)
    rows = entries.values("account_id").annotate(total=Sum("amount_kobo")).values_list("account_id", "total")
    return {account_id: total for account_id, total in rows}


def _settled_upto(now: Any) -> int:
    """The newest entry id whose entry is older than SETTLE (0 when none)."""
    return Entry.objects.filter(created_at__lt=now - SETTLE).order_by("-id").values_list("id", flat=True).first() or 0


def float_balances(*, now: Any = None) -> dict[str, int]:
    """provider -> balance of float:<provider> (+ = captured at cost, net of reversals and of
    any float top-ups the books record). Exact; see the module docstring for the cost."""
    now = now or timezone.now()
    accounts = dict(
        LedgerAccount.objects.filter(kind=LedgerAccount.Kind.SYSTEM, code__startswith=PREFIX).values_list("pk", "code")
    )
    if not accounts:
        return {}
    ids = sorted(accounts)
    snapshot = cache.get(CACHE_KEY)
    if snapshot is None or set(map(int, snapshot["sums"])) != set(ids):
        snapshot = {"upto": 0, "sums": dict.fromkeys(map(str, ids), 0)}
    upto = snapshot["upto"]
    settled = _settled_upto(now)
    if settled > upto:
        for account_id, total in _sums(ids, upto, settled).items():
            snapshot["sums"][str(account_id)] += total
        snapshot["upto"] = upto = settled
        cache.set(CACHE_KEY, snapshot, timeout=SNAPSHOT_SECONDS)
    live = _sums(ids, upto, None)
    return {
        accounts[account_id].removeprefix(PREFIX): snapshot["sums"][str(account_id)] + live.get(account_id, 0)
        for account_id in ids
    }
