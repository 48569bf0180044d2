"""Fixtures for the purchase tests: a movable clock, scripted providers routed for every
network, priced plans, funded users, and helpers that assert nothing moved."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from audit.services import Actor
from vtu.models import DataPlan, Network, ProviderPlan, Purchase, Route
from vtu.tests import scripted

PROVIDERS = ("alpha", "beta")
PLAN = "MTN_1GB_30D"
MTN_NUMBER = "08031234567"
ALPHA_COST, BETA_COST = 26_000, 27_000
DATA_MARKUP = 4_000  # customer price of MTN_1GB_30D at alpha's cost: 30,000 kobo
AIRTIME_DISCOUNT_BPS = 100  # customers pay 99% of face value
AIRTIME_COST_BPS = 9_700  # providers charge 97% of face value


class Clock:
    """vtu.clock.now, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.current: datetime = timezone.now()

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture(autouse=True)
def _no_catalogue_cache(settings):
    """Tests change the catalogue between steps: read it fresh every time (and forget system
    account ids, which a transactional test's flush renumbers)."""
    from vtu.services import ledger, routing, snapshot

    settings.VTU_CATALOGUE_CACHE_SECONDS = 0
    routing._failed_here.clear()
    snapshot.forget()
    ledger._system_ids.clear()
    ledger._wallet_ids.clear()
    yield
    snapshot.forget()
    ledger._system_ids.clear()
    ledger._wallet_ids.clear()


@pytest.fixture
def vtu_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("vtu.clock.now", clock)
    return clock


@pytest.fixture
def world(settings, monkeypatch: pytest.MonkeyPatch) -> scripted.World:
    """Fresh scripted providers alpha (priority 1) and beta (priority 2) on every network."""
    from vtu.providers import registry

    fresh = scripted.World()
    monkeypatch.setattr(scripted, "WORLD", fresh)
    providers = dict(settings.VTU_PROVIDERS)
    for name in PROVIDERS:
        monkeypatch.setitem(registry.ADAPTERS, name, "vtu.tests.scripted.ScriptedProvider")
        providers[name] = {
            "NAME": name, "ENABLED": True, "SANDBOX": False, "REQUIRED": [],
            "CONNECT_TIMEOUT_SECONDS": 1.0, "READ_TIMEOUT_SECONDS": 2.0,
        }
    settings.VTU_PROVIDERS = providers
    return fresh


def reseed_catalogue() -> None:
    """Transactional tests flush every table, seeded rows included: put the catalogue back."""
    import importlib

    from django.apps import apps

    if not Network.objects.exists():
        importlib.import_module("vtu.migrations.0002_seed_catalogue").seed(apps, None)


@pytest.fixture
def catalogue(db, world: scripted.World) -> dict[str, DataPlan]:
    """Routes for every network and product, mappings for a few plans, customer prices."""
    reseed_catalogue()
    for network in Network.objects.all():
        for product in ("data", "airtime"):
            for priority, name in enumerate(PROVIDERS, start=1):
                Route.objects.create(
                    network=network, product=product, provider=name, priority=priority,
                    airtime_cost_bps=AIRTIME_COST_BPS,
                )
    plans = {plan.code: plan for plan in DataPlan.objects.filter(code__in=[PLAN, "MTN_2GB_30D", "GLO_1GB_30D_CG"])}
    for code, plan in plans.items():
        factor = 2 if "2GB" in code else 1
        ProviderPlan.objects.create(provider="alpha", plan=plan, provider_plan_id=f"A-{code}", cost_kobo=ALPHA_COST * factor)
        ProviderPlan.objects.create(provider="beta", plan=plan, provider_plan_id=f"B-{code}", cost_kobo=BETA_COST * factor)
    price_rules()
    return plans


def price_rules() -> None:
    from pricing.models import PricingRule
    from pricing.services import pricing_rule_create

    actor = Actor.system("tests")
    if PricingRule.objects.filter(network="MTN", audience="customer").exists():
        return
    for network in ("MTN", "AIRTEL", "GLO", "9MOBILE"):  # more specific than the default rules
        pricing_rule_create(
            actor=actor, kind="data", network=network, method="flat", amount_kobo=DATA_MARKUP, audience="customer"
        )
        pricing_rule_create(
            actor=actor, kind="airtime", network=network, method="discount", rate_bps=AIRTIME_DISCOUNT_BPS,
            audience="customer",
        )


@pytest.fixture
def buyer(db, catalogue):
    """A customer with ₦10,000 in the wallet."""
    from accounts.tests.factories import UserFactory
    from wallets.tests.factories import fund_wallet

    user = UserFactory()
    fund_wallet(user, 1_000_000)
    return user


def wallet_state(user) -> tuple[int, int]:
    """(balance, held) of the user's wallet, fresh from the database."""
    from wallets.tests.factories import wallet_for

    wallet = wallet_for(user)
    return wallet.balance_kobo, wallet.held_kobo


def assert_nothing_moved(user, before: tuple[int, int], purchases_before: int = 0) -> None:
    from wallets.models import Hold

    assert wallet_state(user) == before
    assert Purchase.objects.filter(user=user).count() == purchases_before
    assert Hold.objects.filter(account__user=user).count() == purchases_before
