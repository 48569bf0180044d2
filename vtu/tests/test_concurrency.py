"""Real concurrency on PostgreSQL (threads, one connection each, at most 32 at once)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.tests.factories import UserFactory
from config.errors import ApiError
from vtu.models import Purchase
from vtu.services import flow
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import PLAN, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.models import Hold
from wallets.tests.factories import fund_wallet

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 32
PRICE = 30_000


def _number(n: int) -> str:
    return f"0803{n:07d}"


def _run_concurrently(count: int, job) -> list:
    first_wave = min(THREADS, count)
    barrier = threading.Barrier(first_wave)

    def wrapped(n: int):
        try:
            if n < first_wave:
                barrier.wait(timeout=30)  # the first wave starts together
            return job(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(wrapped, range(count)))


def _attempt(user, n: int) -> str:
    request = PurchaseRequest(product="data", phone_number=_number(n), plan_code=PLAN, confirm_duplicate=True)
    try:
        purchase_create(user=user, request=request)
    except ApiError as error:
        return error.code
    return "accepted"


def test_200_purchases_on_a_wallet_funded_for_100_accept_exactly_100(catalogue, world):
    user = UserFactory()
    fund_wallet(user, 100 * PRICE)

    outcomes = Counter(_run_concurrently(200, lambda n: _attempt(user, n)))

    assert outcomes == {"accepted": 100, "INSUFFICIENT_FUNDS": 100}
    assert Purchase.objects.filter(user=user).count() == 100
    assert Purchase.objects.filter(user=user, status="successful").count() == 100
    assert Hold.objects.filter(account__user=user).count() == 100
    assert wallet_state(user) == (0, 0)
    assert world.buys["alpha"] == 100
    assert_ledger_invariants()


def test_mixed_outcomes_account_for_every_kobo(catalogue, world):
    """T2: 70 % success, 15 % definitive failure, 10 % pending, 5 % lost; then requery everything."""
    rng = random.Random(20261123)
    behaviours = rng.choices(["success", "failed", "pending", "lost"], weights=[70, 15, 10, 5], k=200)
    world.script("alpha", *behaviours)
    user = UserFactory(kyc_tier=2)  # 200 purchases are over tier 0's daily limit
    fund_wallet(user, 200 * PRICE)

    outcomes = Counter(_run_concurrently(200, lambda n: _attempt(user, n)))
    assert outcomes == {"accepted": 200}

    open_ids = list(Purchase.objects.filter(status="processing").values_list("pk", flat=True))
    for request_id, truth in list(world.truth.items()):
        if truth == "pending":
            world.settle(request_id, "delivered" if rng.random() < 0.5 else "failed")
    _run_concurrently(len(open_ids), lambda n: flow.purchase_requery(purchase_id=open_ids[n]))

    statuses = Counter(Purchase.objects.values_list("status", flat=True))
    assert statuses["processing"] == 0
    delivered = sum(1 for truth in world.truth.values() if truth == "delivered")
    assert statuses["successful"] == delivered
    assert wallet_state(user) == (200 * PRICE - delivered * PRICE, 0)
    assert sum(world.deliveries.values()) == delivered
    assert_ledger_invariants()


def test_identical_purchases_race_the_duplicate_guard(catalogue, world):
    """20 identical purchases at once without confirm_duplicate: exactly one gets through."""
    user = UserFactory()
    fund_wallet(user, 100 * PRICE)
    request = PurchaseRequest(product="data", phone_number="08031234567", plan_code=PLAN)

    def job(n: int) -> str:
        try:
            purchase_create(user=user, request=request)
        except ApiError as error:
            return error.code
        return "accepted"

    outcomes = Counter(_run_concurrently(THREADS, job))

    assert outcomes == {"accepted": 1, "DUPLICATE_PURCHASE": THREADS - 1}
    assert Hold.objects.filter(account__user=user).count() == 1
    assert_ledger_invariants()


def test_concurrent_requeries_capture_once(catalogue, world):
    world.script("alpha", "lost")
    user = UserFactory()
    fund_wallet(user, PRICE)
    purchase, _ = purchase_create(user=user, request=PurchaseRequest(product="data", phone_number="08031234567", plan_code=PLAN))

    results = Counter(_run_concurrently(THREADS, lambda n: flow.purchase_requery(purchase_id=purchase.pk)))

    purchase.refresh_from_db()
    assert purchase.status == "successful"
    assert results["success"] >= 1
    assert wallet_state(user) == (0, 0)
    assert_ledger_invariants()
