"""Routing: priority, staff switches, the circuit breaker and the health score."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from vtu.models import ProviderState, Purchase, Route
from vtu.services import routing
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import PLAN
from wallets.invariants import assert_ledger_invariants


def buy(user, n: int) -> Purchase:
    number = f"080312{n:05d}"
    purchase, _ = purchase_create(
        user=user, request=PurchaseRequest(product="data", phone_number=number, plan_code=PLAN)
    )
    purchase.refresh_from_db()
    return purchase


@pytest.mark.django_db
def test_a_failing_provider_trips_the_breaker_and_traffic_fails_over(buyer, world, vtu_clock, settings):
    threshold = settings.PROVIDER_CIRCUIT_FAILURES
    world.script("alpha", *["down"] * 50)

    purchases = [buy(buyer, n) for n in range(threshold + 5)]

    assert all(p.status == Purchase.Status.SUCCESSFUL and p.provider == "beta" for p in purchases)
    assert world.buys["alpha"] == threshold, "no call to alpha once its breaker is open"
    state = ProviderState.objects.get(provider="alpha")
    assert state.circuit == "open" and state.consecutive_failures == threshold

    # After the cool-down one purchase probes alpha; alpha is back, the breaker closes.
    world.buy_script["alpha"].clear()
    vtu_clock.advance(seconds=settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS + 1)
    probe = buy(buyer, 99)
    assert probe.provider == "alpha" and world.buys["alpha"] == threshold + 1
    state.refresh_from_db()
    assert (state.circuit, state.consecutive_failures) == ("closed", 0)
    assert_ledger_invariants()


@pytest.mark.django_db
def test_a_failed_probe_opens_the_breaker_again(buyer, world, vtu_clock, settings):
    ProviderState.objects.create(provider="alpha", circuit="open", opened_at=vtu_clock.current, consecutive_failures=5)
    world.script("alpha", "down")

    assert buy(buyer, 1).provider == "beta" and world.buys["alpha"] == 0
    vtu_clock.advance(seconds=settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS + 1)
    assert buy(buyer, 2).provider == "beta" and world.buys["alpha"] == 1
    state = ProviderState.objects.get(provider="alpha")
    assert state.circuit == "open" and state.opened_at == vtu_clock.current
    assert buy(buyer, 3).provider == "beta" and world.buys["alpha"] == 1


@pytest.mark.django_db
def test_a_worker_that_loses_the_claim_leaves_the_half_open_probe_alone(buyer, world, vtu_clock, settings, monkeypatch):
    """Two workers got the same pending purchase; the loser of the claim must not take the
    breaker's one probe (it would keep alpha dark until the cool-down ends)."""
    from vtu.services import flow, purchases

    with monkeypatch.context() as patch:
        patch.setattr(purchases, "_dispatch", lambda purchase: None)
        purchase = buy(buyer, 1)
    ProviderState.objects.create(provider="alpha", circuit="open", opened_at=vtu_clock.current, consecutive_failures=5)
    vtu_clock.advance(seconds=settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS + 1)
    stale = Purchase.objects.get(pk=purchase.pk)  # read as pending by the losing worker ...
    Purchase.objects.filter(pk=purchase.pk).update(status="processing")  # ... the other worker claims it

    with monkeypatch.context() as patch:
        patch.setattr(flow, "_load", lambda purchase_id: stale)
        flow.purchase_process(purchase_id=purchase.pk)

    state = ProviderState.objects.get(provider="alpha")
    assert (state.circuit, state.probe_started_at) == ("open", None)
    assert world.buys == {}
    probe = buy(buyer, 2)  # the next purchase gets the probe at once
    assert probe.provider == "alpha" and world.buys["alpha"] == 1
    assert ProviderState.objects.get(provider="alpha").circuit == "closed"


@pytest.mark.django_db
def test_a_claim_winner_that_loses_the_probe_goes_to_the_next_provider(buyer, world, vtu_clock, settings):
    ProviderState.objects.create(provider="alpha", circuit="open", opened_at=vtu_clock.current, consecutive_failures=5)
    vtu_clock.advance(seconds=settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS + 1)
    assert routing.circuit_claim("alpha") is True  # another purchase is probing alpha right now

    purchase = buy(buyer, 1)

    assert (purchase.status, purchase.provider) == (Purchase.Status.SUCCESSFUL, "beta")
    assert world.buys["alpha"] == 0 and list(purchase.attempts.values_list("provider", flat=True)) == ["beta"]
    assert_ledger_invariants()


@pytest.mark.django_db
def test_staff_can_switch_a_provider_off_for_one_plan_type_on_a_network(buyer, world, vtu_clock):
    from vtu.models import DataPlan, Network, ProviderPlan

    Route.objects.filter(network__code="MTN", product="data", provider="alpha").update(sme_enabled=False)
    gifting = DataPlan.objects.get(code="MTN_1GB_1D_GIFT")
    for name, cost in (("alpha", 20_000), ("beta", 21_000)):
        ProviderPlan.objects.create(provider=name, plan=gifting, provider_plan_id=f"{name}-gift", cost_kobo=cost)

    sme = buy(buyer, 1)  # MTN_1GB_30D is SME: alpha is off for it
    gift, _ = purchase_create(
        user=buyer, request=PurchaseRequest(product="data", phone_number="08031200002", plan_code=gifting.code)
    )
    gift.refresh_from_db()

    assert (sme.status, sme.provider) == (Purchase.Status.SUCCESSFUL, "beta")
    assert (gift.status, gift.provider) == (Purchase.Status.SUCCESSFUL, "alpha")
    assert world.buys == {"alpha": 1, "beta": 1}
    assert Network.objects.get(code="MTN").sme_active  # the network-wide plan-type switch is a separate one
    assert_ledger_invariants()


@pytest.mark.django_db
def test_a_provider_below_the_float_floor_is_skipped_until_topped_up(buyer, world, vtu_clock, settings):
    from config.models import Alert
    from vtu.services import sweeper

    world.balances["alpha"] = settings.PROVIDER_MIN_FLOAT_KOBO - 1
    sweeper.provider_balances_check()

    alert = Alert.objects.get(dedupe_key="float_exhausted:alpha")
    assert alert.severity == "critical" and alert.resolved_at is None
    assert buy(buyer, 1).provider == "beta" and world.buys["alpha"] == 0

    world.balances["alpha"] = settings.PROVIDER_MIN_FLOAT_KOBO
    sweeper.provider_balances_check()

    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert buy(buyer, 2).provider == "alpha"
    assert_ledger_invariants()


@pytest.mark.django_db
def test_only_one_probe_at_a_time(catalogue, vtu_clock, settings):
    ProviderState.objects.create(provider="alpha", circuit="open", opened_at=vtu_clock.current)
    vtu_clock.advance(seconds=settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS + 1)

    assert routing.circuit_claim("alpha") is True
    assert routing.circuit_claim("alpha") is False  # the first probe is still out
    vtu_clock.advance(seconds=settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS + 1)
    assert routing.circuit_claim("alpha") is True  # that probe never reported back


@pytest.mark.django_db(transaction=True)
def test_breaker_under_concurrency_limits_calls_to_a_dead_provider(buyer, world, vtu_clock, settings):
    """20 concurrent purchases while alpha is down: every one is delivered by beta, and alpha
    sees at most the threshold plus the purchases already past the breaker when it opened."""
    world.script("alpha", *["down"] * 100)
    threads, results, start = 20, [], threading.Barrier(20)

    def worker(n: int) -> None:
        try:
            start.wait(timeout=10)
            results.append(buy(buyer, n).status)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()

    assert results == [Purchase.Status.SUCCESSFUL] * threads
    assert world.buys["beta"] == threads
    assert world.buys["alpha"] < threads
    assert ProviderState.objects.get(provider="alpha").circuit == "open"
    assert_ledger_invariants()


@pytest.mark.django_db
def test_staff_switches_skip_a_provider(buyer, world, vtu_clock):
    ProviderState.objects.create(provider="alpha", enabled=False)
    assert buy(buyer, 1).provider == "beta"
    ProviderState.objects.filter(provider="alpha").update(enabled=True)
    Route.objects.filter(provider="alpha", product="data").update(enabled=False)
    assert buy(buyer, 2).provider == "beta"
    assert world.buys["alpha"] == 0


@pytest.mark.django_db
def test_health_score_orders_providers_of_equal_priority(buyer, world, vtu_clock):
    Route.objects.filter(provider="beta").update(priority=1)
    world.script("alpha", "lost", "lost", "down")
    for n in range(3):
        buy(buyer, n)

    scores = routing.health_refresh()

    assert scores["alpha"] < scores["beta"] == 100
    network = Purchase.objects.first().network
    plan = Purchase.objects.first().plan
    assert [c.provider for c in routing.candidates(network=network, product="data", plan=plan)] == ["beta", "alpha"]


@pytest.mark.django_db
def test_the_catalogue_snapshot_is_reused_within_its_ttl(catalogue, settings, django_assert_num_queries):
    from vtu.models import Network
    from vtu.services import snapshot

    settings.VTU_CATALOGUE_CACHE_SECONDS = 60
    snapshot.forget()
    mtn = Network.objects.get(code="MTN")
    plan = catalogue[PLAN]
    with django_assert_num_queries(5):
        assert [c.provider for c in routing.candidates(network=mtn, product="data", plan=plan)] == ["alpha", "beta"]
    Route.objects.filter(provider="alpha").update(enabled=False)
    with django_assert_num_queries(0):  # within the TTL the switch is not seen yet
        assert [c.provider for c in routing.candidates(network=mtn, product="data", plan=plan)] == ["alpha", "beta"]
    snapshot.forget()
    assert [c.provider for c in routing.candidates(network=mtn, product="data", plan=plan)] == ["beta"]
