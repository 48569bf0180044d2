"""The worker flow through the service layer: success, definitive failure, pending, unknown,
failover, requery, and the ledger after each (scripted providers, eager Celery)."""

from __future__ import annotations

import pytest
from django.core import mail

from config.models import Alert
from vtu.models import ProviderAttempt, ProviderCall, Purchase, PurchaseEvent
from vtu.services import flow
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import ALPHA_COST, BETA_COST, MTN_NUMBER, PLAN, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.models import Hold, Journal

pytestmark = pytest.mark.django_db

PRICE = 30_000


def buy(user, number: str = MTN_NUMBER, **extra) -> Purchase:
    request = PurchaseRequest(product="data", phone_number=number, plan_code=PLAN, **extra)
    purchase, created = purchase_create(user=user, request=request)
    assert created
    purchase.refresh_from_db()
    return purchase


def journal_legs(key: str) -> dict[str, int]:
    journal = Journal.objects.get(idempotency_key=key)
    return {entry.account.code: entry.amount_kobo for entry in journal.entries.select_related("account")}


def test_success_captures_at_cost_and_margin_to_revenue(buyer, world, vtu_clock):
    purchase = buy(buyer)

    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert (purchase.amount_kobo, purchase.cost_kobo, purchase.margin_kobo) == (PRICE, ALPHA_COST, PRICE - ALPHA_COST)
    assert purchase.provider == "alpha" and purchase.provider_reference
    assert wallet_state(buyer) == (1_000_000 - PRICE, 0)
    legs = journal_legs(f"capture:{purchase.reference}")
    assert legs["float:alpha"] == ALPHA_COST
    assert legs["revenue"] == PRICE - ALPHA_COST
    assert sum(legs.values()) == 0
    assert Hold.objects.get(reference=f"hold:{purchase.reference}").status == Hold.Status.CAPTURED
    assert [e.cause for e in purchase.events.all()] == ["claimed", "buy_success"]
    assert world.deliveries["+2348031234567"] == 1
    assert ProviderCall.objects.filter(purchase=purchase).count() == 1
    assert "secret-key-value" not in str(ProviderCall.objects.get(purchase=purchase).request_body)
    assert [m.subject for m in mail.outbox] == [f"Receipt {purchase.reference}: {purchase.plan.name} delivered"]
    assert_ledger_invariants()


def test_definitive_failure_releases_the_hold_and_tells_the_customer(buyer, world, vtu_clock):
    world.script("alpha", "failed")

    purchase = buy(buyer)

    assert purchase.status == Purchase.Status.FAILED
    assert purchase.message.startswith("Failed, refunded")
    assert wallet_state(buyer) == (1_000_000, 0)
    assert Hold.objects.get(reference=f"hold:{purchase.reference}").status == Hold.Status.RELEASED
    assert not Journal.objects.filter(reference=purchase.reference).exists()
    assert world.buys["beta"] == 0, "a failure about the order itself never fails over"
    assert "Refund" in mail.outbox[-1].subject
    assert_ledger_invariants()


def test_failover_after_provider_down_keeps_the_price_and_uses_the_next_cost(buyer, world, vtu_clock):
    world.script("alpha", "down")

    purchase = buy(buyer)

    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert purchase.provider == "beta"
    assert (purchase.amount_kobo, purchase.cost_kobo) == (PRICE, BETA_COST)
    attempts = list(purchase.attempts.order_by("number").values_list("provider", "state"))
    assert attempts == [("alpha", "failed"), ("beta", "success")]
    first, second = purchase.attempts.order_by("number")
    assert first.request_id != second.request_id
    assert journal_legs(f"capture:{purchase.reference}")["float:beta"] == BETA_COST
    assert_ledger_invariants()


def test_no_failover_to_a_provider_dearer_than_the_price(buyer, world, vtu_clock, catalogue):
    from vtu.models import ProviderPlan

    ProviderPlan.objects.filter(provider="beta").update(cost_kobo=PRICE + 100)
    world.script("alpha", "down")

    purchase = buy(buyer)

    assert purchase.status == Purchase.Status.FAILED
    assert world.buys["beta"] == 0
    assert wallet_state(buyer) == (1_000_000, 0)
    assert_ledger_invariants()


@pytest.mark.parametrize("behaviour", ["lost", "raise", "pending"])
def test_unknown_or_pending_keeps_the_hold_and_never_fails_over(buyer, world, vtu_clock, behaviour):
    world.script("alpha", behaviour)

    purchase = buy(buyer)

    assert purchase.status == Purchase.Status.PROCESSING
    assert wallet_state(buyer) == (1_000_000, PRICE)
    assert world.buys["beta"] == 0
    assert purchase.next_check_at == vtu_clock.current + flow.backoff(0)
    attempt = purchase.attempts.get()
    assert attempt.state == ("pending" if behaviour == "pending" else "unknown")
    assert_ledger_invariants()


def test_timeout_is_never_refunded_until_a_requery_says_so(buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)
    request_id = purchase.attempts.get().request_id

    for delay in (30, 60, 120, 300, 900, 3600, 3600):
        vtu_clock.advance(seconds=delay)
        assert flow.purchase_requery(purchase_id=purchase.pk) == "pending"
        purchase.refresh_from_db()
        assert purchase.status == Purchase.Status.PROCESSING
        assert wallet_state(buyer) == (1_000_000, PRICE)
    assert [delta.total_seconds() for delta in map(flow.backoff, range(7))] == [30, 60, 120, 300, 900, 3600, 3600]

    world.settle(request_id, "failed")
    vtu_clock.advance(hours=1)
    assert flow.purchase_requery(purchase_id=purchase.pk) == "failed"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED
    assert wallet_state(buyer) == (1_000_000, 0)
    assert world.buys["alpha"] == 1 and world.buys["beta"] == 0
    assert_ledger_invariants()


def test_requery_success_captures_once_even_if_requeried_again(buyer, world, vtu_clock):
    world.script("alpha", "lost")
    purchase = buy(buyer)

    vtu_clock.advance(seconds=30)
    assert flow.purchase_requery(purchase_id=purchase.pk) == "success"
    assert flow.purchase_requery(purchase_id=purchase.pk) == "success"  # a successful one: a reversal check only

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert Journal.objects.filter(idempotency_key=f"capture:{purchase.reference}").count() == 1
    assert wallet_state(buyer) == (1_000_000 - PRICE, 0)
    assert world.deliveries["+2348031234567"] == 1
    assert_ledger_invariants()


def test_provider_reversal_posts_one_reversal(buyer, world, vtu_clock):
    purchase = buy(buyer)
    request_id = purchase.attempts.get().request_id
    world.truth[request_id] = "reversed"

    assert flow.purchase_requery(purchase_id=purchase.pk, reason="callback") == "reversed"
    assert flow.purchase_requery(purchase_id=purchase.pk, reason="callback") == "closed"

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REVERSED
    assert wallet_state(buyer) == (1_000_000, 0)
    legs = journal_legs(f"reversal:{purchase.reference}")
    assert legs["float:alpha"] == -ALPHA_COST
    assert_ledger_invariants()


def test_failed_answer_on_a_delivered_purchase_without_reversal_alerts_and_moves_nothing(buyer, world, vtu_clock):
    purchase = buy(buyer)
    world.truth[purchase.attempts.get().request_id] = "failed"

    assert flow.purchase_requery(purchase_id=purchase.pk, reason="callback") == "contradiction"

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert Alert.objects.filter(kind="purchase_contradiction").exists()
    assert_ledger_invariants()


def test_worker_dies_after_the_claim_the_requery_resumes(buyer, world, vtu_clock, monkeypatch):
    with monkeypatch.context() as patch:  # the worker "dies" after claiming, before any attempt
        patch.setattr(flow, "_affordable", lambda purchase: iter(()))
        patch.setattr(flow, "_send_next", lambda purchase: None)
        purchase = buy(buyer)
    assert purchase.status == Purchase.Status.PROCESSING and not purchase.attempts.exists()

    vtu_clock.advance(seconds=30)
    flow.purchase_requery(purchase_id=purchase.pk)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert world.buys["alpha"] == 1
    assert_ledger_invariants()


def test_worker_dies_before_the_request_left_the_requery_fails_over(buyer, world, vtu_clock, monkeypatch):
    """The attempt is committed, the call never made: the provider has no such request (a
    definitive 'not received'), so the purchase may go to the next provider."""
    with monkeypatch.context() as patch:
        patch.setattr(flow, "_send", lambda purchase, attempt: None)
        purchase = buy(buyer)
    assert purchase.attempts.get().state == "sending"

    vtu_clock.advance(seconds=29)
    assert flow.purchase_requery(purchase_id=purchase.pk) == "in_flight"
    vtu_clock.advance(minutes=1)
    flow.purchase_requery(purchase_id=purchase.pk)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL and purchase.provider == "beta"
    assert (world.buys["alpha"], world.buys["beta"]) == (0, 1)
    assert_ledger_invariants()


def test_an_attempt_still_in_flight_is_not_requeried(buyer, world, vtu_clock):
    purchase = buy(buyer)
    purchase.refresh_from_db()
    # Forge an attempt that was committed as `sending` a moment ago (its call may be running).
    Purchase.objects.filter(pk=purchase.pk).update(status="processing")
    ProviderAttempt.objects.filter(purchase=purchase).update(state="sending", created_at=vtu_clock.current)

    assert flow.purchase_requery(purchase_id=purchase.pk) == "in_flight"
    assert world.queries["alpha"] == 0


def test_events_record_every_transition(buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)
    world.settle(purchase.attempts.get().request_id, "delivered")
    vtu_clock.advance(seconds=30)
    flow.purchase_requery(purchase_id=purchase.pk)

    rows = list(PurchaseEvent.objects.filter(purchase=purchase).values_list("from_status", "to_status", "cause"))
    assert rows == [
        ("pending", "processing", "claimed"),
        ("processing", "processing", "buy_pending"),
        ("processing", "successful", "query_success"),
    ]


def test_api_key_purchases_get_the_callback_not_an_email(buyer, world, vtu_clock):
    request = PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN)
    purchase, _ = purchase_create(user=buyer, request=request, via_api_key=True)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL and purchase.channel == "api"
    assert mail.outbox == []


@pytest.mark.parametrize(("behaviour", "event"), [("success", "purchase.successful"), ("failed", "purchase.failed")])
def test_the_reseller_callback_carries_the_purchase(buyer, world, vtu_clock, monkeypatch, behaviour, event):
    from vtu.services import notify

    emitted = []
    monkeypatch.setattr(notify, "callback_emit", lambda **kwargs: emitted.append(kwargs))
    world.script("alpha", behaviour)

    purchase = buy(buyer)

    assert [e["event_type"] for e in emitted] == [event]
    assert emitted[0]["event_id"] == f"{event}:{purchase.reference}"
    assert emitted[0]["data"]["reference"] == purchase.reference and emitted[0]["data"]["status"] == purchase.status
    assert "cost" not in str(emitted[0]["data"]) and "alpha" not in str(emitted[0]["data"])
