"""Periodic ledger work (config/schedule.py)."""

from __future__ import annotations

from celery import shared_task

from wallets.services.checks import ledger_check_run


@shared_task
def ledger_check() -> int:
    """Run the invariant checker; returns the number of findings (0 = all invariants hold).
    Safe to run twice: it only reads, freezes what is not frozen yet and re-raises one alert."""
    return ledger_check_run().finding_count
