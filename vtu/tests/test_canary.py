"""Mutation canary (ledger ref §4.1): the suite must catch a deliberately broken
"release on timeout" variant, or its passing proves nothing.

`money_rule_violations` is the check the timeout scenario relies on; the canary runs the same
scenario against the broken variant and requires the check to find the loss."""

from __future__ import annotations

import pytest

from vtu.models import Purchase
from vtu.services import flow
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN, wallet_state
from wallets.invariants import ledger_findings

pytestmark = pytest.mark.django_db
PRICE = 30_000


def money_rule_violations(world, user, funded: int) -> list[str]:
    """Every purchase's status must match what the network really did, and the wallet must
    have paid exactly for what was delivered."""
    problems = [f"ledger: {finding.code}" for finding in ledger_findings()]
    delivered = 0
    for purchase in Purchase.objects.filter(user=user):
        truths = {world.truth.get(a.request_id) for a in purchase.attempts.all()}
        if "delivered" in truths:
            delivered += 1
            if purchase.status != Purchase.Status.SUCCESSFUL:
                problems.append(f"{purchase.reference} was delivered but is {purchase.status}")
        elif purchase.status == Purchase.Status.SUCCESSFUL:
            problems.append(f"{purchase.reference} is successful but nothing was delivered")
    if wallet_state(user)[0] != funded - delivered * PRICE:
        problems.append(f"wallet paid for {(funded - wallet_state(user)[0]) // PRICE} of {delivered} deliveries")
    return problems


def timeout_scenario(world, user, vtu_clock) -> None:
    world.script("alpha", "lost")  # delivered at the network, answer lost on the way back
    purchase, _ = purchase_create(user=user, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    vtu_clock.advance(seconds=30)
    flow.purchase_requery(purchase_id=purchase.pk)


def test_the_real_flow_passes_the_check(buyer, world, vtu_clock):
    timeout_scenario(world, buyer, vtu_clock)
    assert money_rule_violations(world, buyer, 1_000_000) == []


def test_the_check_catches_release_on_timeout(buyer, world, vtu_clock, monkeypatch):
    def release_on_timeout(purchase, attempt, result, source):  # the bug: "no answer" treated as failed
        flow.attempt_close(attempt, "failed", result)
        flow.settle_failed(purchase, cause="timeout", message="timed out")

    monkeypatch.setattr(flow, "_record_waiting", release_on_timeout)
    timeout_scenario(world, buyer, vtu_clock)

    problems = money_rule_violations(world, buyer, 1_000_000)
    assert any("was delivered but is failed" in p for p in problems), problems
    assert any("wallet paid for 0 of 1" in p for p in problems), problems
