"""The sweeper: re-dispatch of lost pending purchases, due requeries, SLA flags, SKIP LOCKED;
the provider balance check."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from config.models import Alert
from vtu.models import ProviderState, Purchase
from vtu.services import purchases, sweeper
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.models import Hold

PRICE = 30_000


def buy(user, number: str = MTN_NUMBER) -> Purchase:
    purchase, _ = purchase_create(user=user, request=PurchaseRequest(product="data", phone_number=number, plan_code=PLAN))
    purchase.refresh_from_db()
    return purchase


@pytest.mark.django_db
def test_a_purchase_whose_dispatch_was_lost_is_sent_after_a_minute(buyer, world, vtu_clock, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(purchases, "_dispatch", lambda purchase: None)  # the process died before the broker got it
        purchase = buy(buyer)
    assert purchase.status == Purchase.Status.PENDING

    vtu_clock.advance(seconds=59)
    assert sweeper.purchases_sweep().dispatched == []
    vtu_clock.advance(seconds=2)
    report = sweeper.purchases_sweep()

    assert report.dispatched == [purchase.pk]
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert world.buys["alpha"] == 1
    assert sweeper.purchases_sweep().dispatched == []
    assert_ledger_invariants()


@pytest.mark.django_db
def test_due_processing_purchases_are_requeried_on_the_backoff(buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)

    assert sweeper.purchases_sweep().requeried == []
    vtu_clock.advance(seconds=30)
    assert sweeper.purchases_sweep().requeried == [purchase.pk]
    assert world.queries["alpha"] == 1
    vtu_clock.advance(seconds=59)
    assert sweeper.purchases_sweep().requeried == []
    vtu_clock.advance(seconds=1)
    assert sweeper.purchases_sweep().requeried == [purchase.pk]
    assert world.queries["alpha"] == 2

    world.settle(purchase.attempts.get().request_id, "delivered")
    vtu_clock.advance(seconds=120)
    sweeper.purchases_sweep()
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert_ledger_invariants()


@pytest.mark.django_db
def test_past_sla_is_flagged_once_with_an_alert_and_the_hold_stays(buyer, world, vtu_clock, settings):
    world.script("alpha", "pending")
    purchase = buy(buyer)

    vtu_clock.advance(minutes=settings.PURCHASE_SLA_MINUTES - 1)
    assert sweeper.purchases_sweep().flagged == []
    vtu_clock.advance(minutes=2)
    assert sweeper.purchases_sweep().flagged == [purchase.reference]
    assert sweeper.purchases_sweep().flagged == []

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING
    assert purchase.needs_review_at is not None
    alert = Alert.objects.get(dedupe_key="purchases_past_sla")
    assert alert.resolved_at is None and purchase.reference in alert.details["newly_flagged"]
    assert Hold.objects.get(reference=purchase.hold_reference).status == Hold.Status.ACTIVE
    assert wallet_state(buyer) == (1_000_000, PRICE)
    assert_ledger_invariants()


@pytest.mark.django_db
def test_aging_alerts_fire_at_15_minutes_and_2_hours_once_each_and_clear(buyer, world, vtu_clock, settings):
    world.script("alpha", "pending")
    purchase = buy(buyer)
    warning, critical = "purchases_aging_15m", "purchases_aging_120m"

    def open_alerts() -> dict[str, tuple[str, int]]:
        return {a.dedupe_key: (a.severity, a.count) for a in Alert.objects.filter(kind="purchase_aging", resolved_at=None)}

    vtu_clock.advance(minutes=14)
    assert sweeper.purchases_sweep().aging == {15: 0, 120: 0} and open_alerts() == {}
    vtu_clock.advance(minutes=2)
    sweeper.purchases_sweep()
    sweeper.purchases_sweep()
    assert open_alerts() == {warning: ("warning", 2)}, "one alert, seen twice: deduplicated"
    assert Alert.objects.get(dedupe_key=warning).details["count"] == 1
    vtu_clock.advance(minutes=105)
    assert sweeper.purchases_sweep().aging == {15: 1, 120: 1}
    assert set(open_alerts()) == {warning, critical} and open_alerts()[critical][0] == "critical"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING and wallet_state(buyer) == (1_000_000, PRICE)

    world.settle(purchase.attempts.get().request_id, "delivered")
    vtu_clock.advance(hours=2)
    sweeper.purchases_sweep()  # the requery settles it
    sweeper.purchases_sweep()  # nothing is old any more: both alerts clear
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert open_alerts() == {}
    assert Alert.objects.filter(kind="purchase_aging").count() == 2
    assert_ledger_invariants()


@pytest.mark.django_db
def test_unanswerable_provider_is_left_to_staff_not_guessed(buyer, world, vtu_clock, settings):
    """Neither query nor safe resend (R4): the purchase waits, flagged, hold kept, no resend."""
    settings.VTU_PROVIDERS = {
        **settings.VTU_PROVIDERS, "alpha": {**settings.VTU_PROVIDERS["alpha"], "SUPPORTS_QUERY": False},
    }
    world.script("alpha", "lost")
    purchase = buy(buyer)

    for _ in range(10):
        vtu_clock.advance(minutes=10)
        sweeper.purchases_sweep()

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING and purchase.needs_review_at is not None
    assert world.buys["alpha"] == 1 and world.queries["alpha"] == 0 and world.buys["beta"] == 0


@pytest.mark.django_db(transaction=True)
def test_sweeper_skips_rows_locked_by_another_worker(buyer, world, vtu_clock, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(purchases, "_dispatch", lambda purchase: None)
        locked, free = buy(buyer, "08031234561"), buy(buyer, "08031234562")
    vtu_clock.advance(minutes=2)
    holding, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                Purchase.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert holding.wait(timeout=10)
    try:
        report = sweeper.purchases_sweep()
    finally:
        release.set()
        thread.join()

    assert report.dispatched == [free.pk]
    assert_ledger_invariants()


@pytest.mark.django_db
def test_provider_balance_check_stores_the_float_and_alerts_when_low(catalogue, world, settings):
    world.balances["alpha"] = settings.LOW_FLOAT_ALERT_KOBO - 1
    world.balances["beta"] = settings.LOW_FLOAT_ALERT_KOBO * 2

    balances = sweeper.provider_balances_check()

    assert balances == {"alpha": settings.LOW_FLOAT_ALERT_KOBO - 1, "beta": settings.LOW_FLOAT_ALERT_KOBO * 2}
    assert ProviderState.objects.get(provider="alpha").last_balance_kobo == settings.LOW_FLOAT_ALERT_KOBO - 1
    assert Alert.objects.get(dedupe_key="low_float:alpha").resolved_at is None
    assert not Alert.objects.filter(dedupe_key="low_float:beta").exists()

    world.balances["alpha"] = settings.LOW_FLOAT_ALERT_KOBO
    sweeper.provider_balances_check()
    assert Alert.objects.get(dedupe_key="low_float:alpha").resolved_at is not None


@pytest.mark.django_db
def test_low_float_provider_goes_last(buyer, world, vtu_clock):
    ProviderState.objects.create(provider="alpha", last_balance_kobo=1_000)

    purchase = buy(buyer)

    assert purchase.provider == "beta"
