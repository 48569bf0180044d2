"""Shared pieces of the chaos scenarios (tests/chaos/): the seed, recovery, and the verdict.

- `chaos_seed()`: CHAOS_SEED from the environment (replay), else a fresh one; always printed.
  Which faults a run meets is not left to the seed: the fake gives every fate to one of the
  first orders (chaos.vtpass, cover=True); the seed only orders them and draws the rest.
- `recover(clock)`: what production does after a fault, driven to quiet with a bound: the
  provider settles, the beat sweeper runs (re-dispatch, requery, SLA flag) with the clock
  moved past every backoff.
- `assert_recovered(...)`: every purchase ends successful, failed-and-refunded, reversed, or
  flagged for staff with its hold intact; no number received data twice for one purchase; a
  capture only where the provider delivered (and still stands by it), a release only where it
  did not; every delivery the provider reversed later ends `reversed` with the capture's exact
  opposite posted; the ledger invariants hold.
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


def assert_recovered(seed: int, fake, purchases: Iterable, *, scenario: str = "") -> dict[str, int]:
    """The verdict after recovery, on fresh rows. Returns the count per final state; with a
    `scenario` name the figures also go into the run's summary (chaos.report)."""
    from collections import Counter

    from vtu.models import ProviderAttempt, Purchase
    from wallets.invariants import assert_ledger_invariants

    where = f"(CHAOS_SEED={seed})"
    states: Counter[str] = Counter()
    owner: dict[str, str] = {}  # request id -> final status of its purchase
    most_deliveries = 0
    for stale in purchases:
        purchase = Purchase.objects.get(pk=stale.pk)
        request_ids = list(ProviderAttempt.objects.filter(purchase=purchase).values_list("request_id", flat=True))
        owner.update(dict.fromkeys(request_ids, purchase.status))
        delivered = sum(fake.deliveries[r] for r in request_ids)
        assert delivered <= 1, f"{purchase.reference} delivered {delivered} times {where}"
        most_deliveries = max(most_deliveries, delivered)
        states[_verdict(purchase, fake, request_ids, delivered, where)] += 1
    # A delivery VTpass took back must come back to the customer: its purchase is reversed.
    for request_id in fake.reversals:
        assert owner.get(request_id) == Purchase.Status.REVERSED, (
            f"VTpass reversed {request_id} but its purchase is {owner.get(request_id)} {where}")
    assert_ledger_invariants()
    print(f"chaos verdict {where}: {dict(states)}; provider fates {dict(fake.fates_seen)}")
    if scenario:
        from chaos import report

        report.record(scenario=scenario, seed=seed, purchases=sum(states.values()), final_states=dict(states),
                      max_deliveries_per_purchase=most_deliveries, provider_fates=dict(fake.fates_seen),
                      reversals=len(fake.reversals), invariants="hold")
    return dict(states)


def _verdict(purchase, fake, request_ids: list[str], delivered: int, where: str) -> str:
    """One purchase's final state checked against the provider's truth and the ledger."""
    from vtu.models import Purchase
    from wallets.models import Hold, Journal

    Status = Purchase.Status
    hold = Hold.objects.get(reference=purchase.hold_reference)
    captured = Journal.objects.filter(idempotency_key=f"capture:{purchase.reference}").exists()
    live = [fake.orders[r].status for r in request_ids if r in fake.orders and fake.deliveries[r]]
    if purchase.status == Status.SUCCESSFUL:
        assert captured and hold.status == Hold.Status.CAPTURED and delivered == 1, f"{purchase.reference} {where}"
        assert live == ["delivered"], f"{purchase.reference} successful but the provider says {live} {where}"
    elif purchase.status == Status.FAILED:
        assert not captured and hold.status == Hold.Status.RELEASED, f"{purchase.reference} {where}"
        assert not live, f"{purchase.reference} refunded but delivered {where}"
    elif purchase.status == Status.REVERSED:
        assert captured and live and set(live) == {"reversed"}, f"{purchase.reference} reversed: {live} {where}"
        assert_reversal_posted(purchase.reference, where)
    else:  # still open: only allowed flagged for staff, hold intact
        assert purchase.needs_review_at is not None, f"{purchase.reference} open and not flagged {where}"
        assert hold.status == Hold.Status.ACTIVE, f"{purchase.reference} open without its hold {where}"
        return "flagged"
    return str(purchase.status)


def assert_reversal_posted(reference: str, where: str = "") -> None:
    """`reversal:<ref>` is the capture's exact opposite: the customer's wallet has the price
    back, the float and revenue gave back what the capture gave them."""
    from collections import Counter

    from wallets.models import Journal

    capture = Journal.objects.get(idempotency_key=f"capture:{reference}")
    reversal = Journal.objects.filter(idempotency_key=f"reversal:{reference}").first()
    assert reversal is not None and reversal.reversal_of_id == capture.pk, f"{reference}: no reversal journal {where}"

    def legs(journal) -> Counter:
        totals: Counter = Counter()
        for account_id, amount in journal.entries.values_list("account_id", "amount_kobo"):
            totals[account_id] += amount
        return totals

    assert legs(reversal) == Counter({account: -amount for account, amount in legs(capture).items()}), (
        f"{reference}: the reversal is not the capture's opposite {where}")


def late_enough(clock, hours: int = 1) -> None:
    clock.current += timedelta(hours=hours)
