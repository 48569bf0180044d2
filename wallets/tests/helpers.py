"""Shared test helpers: what "nothing moved" means, and running work in parallel threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

from audit.models import AuditLog
from wallets.models import Adjustment, Entry, Hold, Journal, LedgerAccount


def snapshot() -> dict[str, Any]:
    """Everything a rejected request must leave untouched."""
    return {
        "journals": Journal.objects.count(),
        "entries": Entry.objects.count(),
        "holds": sorted(Hold.objects.values_list("reference", "status", "amount_kobo")),
        "adjustments": sorted(Adjustment.objects.values_list("id", "status")),
        "accounts": sorted(
            LedgerAccount.objects.values_list("id", "balance_kobo", "held_kobo", "status", "outflow_kobo")
        ),
        "money_audit": AuditLog.objects.exclude(action__startswith="user.").exclude(action="wallet.open").count(),
    }


def run_concurrently(count: int, work: Callable[[int], Any], *, timeout: float = 60) -> list[Any]:
    """Start `count` threads that wait at one barrier, then call `work(i)` at the same moment.
    Returns each thread's result or the exception it raised. Each thread closes its own
    database connection (django-oscar's run_concurrently, Saleor's race_condition)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = work(index)
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError("a worker thread did not finish in time")
    return results
