"""The sandbox through the purchase flow: a worker killed mid-call (attempt committed, no
answer, no reference) is settled by the requery according to the number's scenario."""

from __future__ import annotations

import pytest

from vtu.models import Network, ProviderPlan, Purchase, Route
from vtu.services import flow
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import PLAN
from wallets.invariants import assert_ledger_invariants
from wallets.models import Hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_first(settings, world, catalogue):
    settings.VTU_PROVIDERS = {
        **settings.VTU_PROVIDERS, "sandbox": {**settings.VTU_PROVIDERS["sandbox"], "ENABLED": True, "PENDING_SECONDS": 20},
    }
    mtn = Network.objects.get(code="MTN")
    Route.objects.filter(network=mtn, product="data").update(priority=5)
    Route.objects.create(network=mtn, product="data", provider="sandbox", priority=1)
    ProviderPlan.objects.create(provider="sandbox", plan=catalogue[PLAN], provider_plan_id=PLAN, cost_kobo=26_000)


@pytest.mark.parametrize(
    ("number", "status", "provider", "hold"),
    [
        ("08031230001", Purchase.Status.FAILED, "sandbox", Hold.Status.RELEASED),  # refunded, not "delivered"
        ("08031234567", Purchase.Status.SUCCESSFUL, "sandbox", Hold.Status.CAPTURED),
        ("08031230006", Purchase.Status.SUCCESSFUL, "alpha", Hold.Status.CAPTURED),  # never accepted: failover
    ],
)
def test_a_worker_killed_mid_call_is_settled_by_the_numbers_scenario(
    buyer, world, vtu_clock, sandbox_first, monkeypatch, number, status, provider, hold
):
    with monkeypatch.context() as patch:
        patch.setattr(flow, "_send", lambda purchase, attempt: None)  # the worker died during the call
        purchase, _ = purchase_create(user=buyer, request=PurchaseRequest(product="data", phone_number=number, plan_code=PLAN))
    assert purchase.attempts.get().provider_reference == ""

    vtu_clock.advance(minutes=2)  # past the in-flight grace
    flow.purchase_requery(purchase_id=purchase.pk)

    purchase.refresh_from_db()
    assert (purchase.status, purchase.provider) == (status, provider)
    assert Hold.objects.get(reference=purchase.hold_reference).status == hold
    assert_ledger_invariants()
