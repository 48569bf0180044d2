"""Provider chaos (ledger reference T2/T5 in spirit): purchases against a local VTpass with
seeded timeouts, 5xx (processed or not), slow answers, pending-then-late results, duplicate
and out-of-order callbacks and late reversals; then recovery (the sweeper, the clock moved)
and the verdict of chaos.scenarios.assert_recovered.

Short in `make test` (one seed, 14 purchases); `make chaos` (CHAOS_LONG=1) runs 5 seeds of
60. Every run meets every fault: the first orders take one fate each (chaos.vtpass cover), the
seed orders them and draws the rest. The seed is printed; CHAOS_SEED=<n> replays it.
"""

from __future__ import annotations

import random

import pytest
from rest_framework.test import APIClient

from chaos.scenarios import LONG, assert_recovered, chaos_seed, recover
from chaos.vtpass import FATES, VTpassFake
from vtu.tests.conftest import _no_catalogue_cache, price_rules, reseed_catalogue, vtu_clock  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.chaos]

SEEDS = 5 if LONG else 1
PURCHASES = 60 if LONG else 14
COST = 9_500  # VTpass's price for the plan we map


@pytest.fixture
def routed(settings):
    """VTpass (the fake) as the only provider for MTN data, customers priced."""
    from vtu.models import DataPlan, Network, ProviderPlan, Route

    reseed_catalogue()
    price_rules()
    settings.OPS_ALERT_EMAILS = []
    mtn = Network.objects.get(code="MTN")
    Route.objects.filter(network=mtn).delete()
    Route.objects.create(network=mtn, product="data", provider="vtpass", priority=1)
    plan = DataPlan.objects.get(code="MTN_1GB_30D")
    ProviderPlan.objects.create(provider="vtpass", plan=plan, provider_plan_id="mtn-1gb-30d", cost_kobo=COST)
    return plan


def _buy(users, plan, rng):
    from vtu.services.purchases import PurchaseRequest, purchase_create

    user = rng.choice(users)
    number = f"0803{rng.randrange(10**6):06d}{rng.choice('789')}"
    purchase, _ = purchase_create(user=user, request=PurchaseRequest(
        product="data", phone_number=number, plan_code=plan.code, confirm_duplicate=True))
    return purchase


def _post_callbacks(callbacks, rng, *, copies: int = 3) -> int:
    """Each callback several times, all shuffled: duplicated and out of order."""
    deliveries = [callback for callback in callbacks for _ in range(rng.randint(1, copies))]
    rng.shuffle(deliveries)
    client = APIClient()
    for callback in deliveries:
        response = client.post("/api/v1/providers/vtpass/callback", callback, format="json")
        assert response.status_code == 200, response.content
    return len(deliveries)


@pytest.mark.parametrize("run", range(SEEDS))
def test_purchases_survive_provider_chaos(run, routed, settings, vtu_clock):  # noqa: F811
    from django.core.cache import cache

    from accounts.tests.factories import UserFactory
    from wallets.tests.factories import fund_wallet

    seed = chaos_seed() + run
    rng = random.Random(seed)
    users = [UserFactory(kyc_tier=2) for _ in range(3)]
    for user in users:
        fund_wallet(user, 5_000_000)
    with VTpassFake(seed=seed, cover=True) as fake:
        settings.VTU_PROVIDERS = {**settings.VTU_PROVIDERS, "vtpass": fake.provider_config()}
        purchases = [_buy(users, routed, rng) for _ in range(PURCHASES)]  # each dispatched and sent at once (eager)
        # Late results and their callbacks, duplicated and out of order, while the sweeper works.
        recover(vtu_clock, settle=fake.settle, rounds=2)
        cache.clear()  # a callback may requery a purchase once per 30 s: a new minute
        _post_callbacks(fake.callbacks(), rng)
        fake.reverse_late()  # VTpass reverses some delivered orders later
        cache.clear()
        _post_callbacks(fake.callbacks(), rng)
        recover(vtu_clock)
        states = assert_recovered(seed, fake, purchases, scenario="provider chaos")

    assert sum(states.values()) == PURCHASES
    # The run exercised every fault, so the verdict above covered each of them.
    assert set(fake.fates_seen) == set(FATES), f"fates {dict(fake.fates_seen)} (CHAOS_SEED={seed})"
    assert fake.reversals and states.get("reversed", 0) == len(fake.reversals)
    assert states.get("failed", 0) >= fake.fates_seen["failed"]


def test_chaos_fake_is_seeded():
    """The same seed draws the same fates (a failing run replays)."""
    def draws(seed, cover=False):
        fake = VTpassFake(seed=seed, cover=cover)
        return [fake._pay({"request_id": f"20261123{n:04d}x", "phone": "08031234567"})[0] for n in range(30)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert draws(7, cover=True) == draws(7, cover=True)


@pytest.mark.parametrize("seed", range(1, 40))
def test_covering_fake_gives_every_fate_to_the_first_orders(seed):
    fake = VTpassFake(seed=seed, cover=True)
    first = [fake._pay({"request_id": f"20261123{n:04d}x", "phone": "08031234567"})[0] for n in range(len(FATES))]
    assert sorted(first) == sorted(FATES)
