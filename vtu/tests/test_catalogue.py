"""Networks, prefixes, and plan sync (mapping, cost history, below-cost suspension)."""

from __future__ import annotations

import pytest

from config.models import Alert
from vtu.models import DataPlan, Network, ProviderPlan, ProviderPlanCostChange
from vtu.providers.base import ProviderPlan as VendorPlan
from vtu.services.catalogue import network_for_number, plans_sync

pytestmark = pytest.mark.django_db


def vendor(plan_id: str, cost: int, *, network="MTN", size=1024, days=30, kind="sme") -> VendorPlan:
    return VendorPlan(provider_plan_id=plan_id, network=network, name=plan_id, size_mb=size,
                      validity_days=days, plan_type=kind, cost_kobo=cost)


def test_seeded_catalogue_and_prefixes():
    assert set(Network.objects.values_list("code", flat=True)) == {"MTN", "AIRTEL", "GLO", "9MOBILE"}
    assert DataPlan.objects.filter(code="MTN_1GB_30D", size_mb=1024, validity_days=30, plan_type="sme").exists()
    assert DataPlan.objects.count() >= 30
    assert network_for_number("+2348031234567").code == "MTN"
    assert network_for_number("+2347025123456").code == "MTN"  # 5-digit block
    assert network_for_number("+2349081234567").code == "9MOBILE"
    assert network_for_number("+2348021234567").code == "AIRTEL"
    assert network_for_number("+2348051234567").code == "GLO"
    assert network_for_number("+2348041234567") is None  # Ntel: not a network we sell


def test_sync_maps_records_cost_changes_and_is_idempotent(world, catalogue):
    ProviderPlan.objects.filter(provider="alpha").delete()
    world.plans["alpha"] = [vendor("1001", 26_000), vendor("9999", 130_000, size=5120), vendor("X1", 1_000, size=7)]

    first = plans_sync(provider="alpha")
    second = plans_sync(provider="alpha")

    assert (first.created, first.mapped, first.unmatched) == (2, 2, ["MTN:X1 X1"])
    assert (second.created, second.cost_changes, second.suspended) == (0, 0, [])
    mapping = ProviderPlan.objects.get(provider="alpha", plan__code="MTN_1GB_30D")
    assert (mapping.provider_plan_id, mapping.cost_kobo, mapping.suspended_at) == ("1001", 26_000, None)
    assert mapping.last_seen_at is not None

    world.plans["alpha"][0] = vendor("1001", 26_500)
    report = plans_sync(provider="alpha")
    assert report.cost_changes == 1
    assert list(ProviderPlanCostChange.objects.filter(provider_plan=mapping).values_list("old_cost_kobo", "new_cost_kobo")) == [
        (26_000, 26_500), (None, 26_000),
    ]


def test_a_cost_above_the_price_suspends_the_mapping_and_alerts(world, catalogue):
    from audit.services import Actor
    from pricing.models import PricingRule
    from pricing.services import pricing_rule_update

    rule = PricingRule.objects.get(kind="data", network="MTN", audience="customer", plan_code="")
    pricing_rule_update(rule_id=rule.pk, actor=Actor.system("test"), method="fixed", amount_kobo=30_000, rate_bps=None)
    world.plans["alpha"] = [vendor("A-MTN_1GB_30D", 31_000)]

    report = plans_sync(provider="alpha")

    mapping = ProviderPlan.objects.get(provider="alpha", plan__code="MTN_1GB_30D")
    assert mapping.suspended_at is not None and "below cost" in mapping.suspended_reason
    assert "alpha:MTN_1GB_30D" in report.suspended
    assert Alert.objects.get(dedupe_key="plans_suspended:alpha").resolved_at is None

    world.plans["alpha"] = [vendor("A-MTN_1GB_30D", 29_000)]
    report = plans_sync(provider="alpha")
    mapping.refresh_from_db()
    assert mapping.suspended_at is None and "alpha:MTN_1GB_30D" in report.restored


def test_a_plan_the_provider_stopped_listing_is_suspended(world, catalogue):
    world.plans["alpha"] = [vendor("A-MTN_1GB_30D", 26_000)]

    report = plans_sync(provider="alpha")

    gone = ProviderPlan.objects.get(provider="alpha", plan__code="MTN_2GB_30D")
    assert gone.suspended_at is not None and gone.suspended_reason == "no longer listed by the provider"
    assert any("MTN_2GB_30D" in line for line in report.suspended)


def test_a_failing_provider_leaves_the_catalogue_alone(world, catalogue, monkeypatch):
    from vtu.tests.scripted import ScriptedProvider

    def broken(self):
        raise ConnectionError("down")

    monkeypatch.setattr(ScriptedProvider, "list_plans", broken)
    before = list(ProviderPlan.objects.values_list("pk", "cost_kobo", "suspended_at"))

    report = plans_sync(provider="alpha")

    assert report.error == "ConnectionError"
    assert list(ProviderPlan.objects.values_list("pk", "cost_kobo", "suspended_at")) == before


def test_sandbox_plans_map_onto_the_catalogue(settings):
    settings.VTU_PROVIDERS = {
        **settings.VTU_PROVIDERS, "sandbox": {**settings.VTU_PROVIDERS["sandbox"], "ENABLED": True},
    }
    report = plans_sync(provider="sandbox")

    assert report.error == "" and report.unmatched == []
    assert ProviderPlan.objects.filter(provider="sandbox").count() == report.seen
