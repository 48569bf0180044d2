"""Shared pieces of the chaos scenarios (tests/chaos/): the seed, recovery, and the verdict.

- `chaos_seed()`: CHAOS_SEED from the environment (replay), else a fresh one; always printed.
- `recover(clock)`: what production does after a fault, driven to quiet with a bound: the
  provider settles, the beat sweeper runs (re-dispatch, requery, SLA flag) with the clock
  moved past every backoff.
- `assert_recovered(...)`: every purchase ends successful, failed-and-refunded, reversed, or
  flagged for staff with its hold intact; no number received data twice for one purchase; a
  capture only where the provider delivered, a release only where it did not; the ledger
  invariants hold.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from datetime import timedelta

LONG = os.environ.get("CHAOS_LONG") == "1"


def chaos_seed() -> int:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 2**31))
    print(f"\nCHAOS_SEED={seed}  (replay: CHAOS_SEED={seed} make chaos)")
    return seed


def recover(clock, *, settle: Callable[[], None] | None = None, rounds: int = 12) -> int:
    """Run the sweeper until no purchase is open (or `rounds` passes). Returns rounds used."""
    from vtu.models import Purchase
    from vtu.services import sweeper

    for round_number in range(1, rounds + 1):
        if settle is not None and round_number == 2:
            settle()  # late results arrive while purchases are being requeried
        clock.advance(minutes=20)  # past the in-flight grace, every backoff step and the 015 grace
        sweeper.purchases_sweep()
        if not Purchase.objects.filter(status__in=Purchase.OPEN_STATUSES).exists():
            return round_number
    return rounds


def assert_recovered(seed: int, fake, purchases: Iterable) -> dict[str, int]:
    """The verdict after recovery, on fresh rows. Returns the count per final state."""
    from collections import Counter

    from vtu.models import ProviderAttempt, Purchase
    from wallets.invariants import assert_ledger_invariants
    from wallets.models import Hold, Journal

    where = f"(CHAOS_SEED={seed})"
    states: Counter[str] = Counter()
    for stale in purchases:
        purchase = Purchase.objects.get(pk=stale.pk)
        hold = Hold.objects.get(reference=purchase.hold_reference)
        request_ids = list(ProviderAttempt.objects.filter(purchase=purchase).values_list("request_id", flat=True))
        delivered = sum(fake.deliveries[r] for r in request_ids)
        assert delivered <= 1, f"{purchase.reference} delivered {delivered} times {where}"
        captured = Journal.objects.filter(idempotency_key=f"capture:{purchase.reference}").exists()
        reversed_ = Journal.objects.filter(idempotency_key=f"reversal:{purchase.reference}").exists()
        status = purchase.status
        if status == Purchase.Status.SUCCESSFUL:
            assert captured and hold.status == Hold.Status.CAPTURED and delivered == 1, f"{purchase.reference} {where}"
        elif status == Purchase.Status.FAILED:
            assert not captured and hold.status == Hold.Status.RELEASED, f"{purchase.reference} {where}"
            live = [fake.orders[r].status for r in request_ids if r in fake.orders]
            assert "delivered" not in live, f"{purchase.reference} refunded but delivered {where}"
        elif status == Purchase.Status.REVERSED:
            assert captured and reversed_, f"{purchase.reference} {where}"
            assert all(fake.orders[r].status == "reversed" for r in request_ids if r in fake.orders
                       and fake.deliveries[r]), f"{purchase.reference} {where}"
        else:  # still open: only allowed flagged for staff, hold intact
            assert purchase.needs_review_at is not None, f"{purchase.reference} open and not flagged {where}"
            assert hold.status == Hold.Status.ACTIVE, f"{purchase.reference} open without its hold {where}"
            status = "flagged"
        states[status] += 1
    assert_ledger_invariants()
    print(f"chaos verdict {where}: {dict(states)}; provider fates {dict(fake.fates_seen)}")
    return dict(states)


def late_enough(clock, hours: int = 1) -> None:
    clock.current += timedelta(hours=hours)
