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


def test_a_retail_promotion_below_cost_survives_plan_sync(buyer, world, vtu_clock, catalogue):
    """Selling below cost is allowed under a promotion (DESIGN §5): sync must not suspend it."""
    from audit.services import Actor
    from pricing.services import pricing_rule_create
    from vtu.services.purchases import PurchaseRequest, purchase_create
    from vtu.tests.conftest import ALPHA_COST, MTN_NUMBER, PLAN

    pricing_rule_create(actor=Actor.system("t"), kind="data", network="MTN", plan_code=PLAN, method="fixed",
                        amount_kobo=20_000, is_promotion=True, audience="customer")
    world.plans["alpha"] = [vendor(f"A-{PLAN}", ALPHA_COST)]

    report = plans_sync(provider="alpha")

    mapping = ProviderPlan.objects.get(provider="alpha", plan__code=PLAN)
    assert mapping.suspended_at is None, mapping.suspended_reason
    assert f"alpha:{PLAN}" not in report.suspended
    purchase, _ = purchase_create(user=buyer, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    purchase.refresh_from_db()
    assert (purchase.status, purchase.amount_kobo, purchase.margin_kobo) == ("successful", 20_000, 20_000 - ALPHA_COST)


def test_a_non_retail_price_below_cost_alerts_without_suspending(world, catalogue):
    """Resellers, API partners and one-user rules: alert staff, keep the mapping for retail;
    their purchases are refused BELOW_COST meanwhile (pricing)."""
    from accounts.models import User
    from accounts.tests.factories import UserFactory
    from audit.services import Actor
    from pricing.services import pricing_rule_create

    actor = Actor.system("t")
    vip = UserFactory(role=User.Role.RESELLER)
    reseller_rule = pricing_rule_create(actor=actor, kind="data", network="MTN", plan_code="MTN_2GB_30D", method="fixed",
                                        amount_kobo=50_000, audience="reseller")
    partner_rule = pricing_rule_create(actor=actor, kind="data", network="MTN", plan_code="MTN_1GB_30D", method="fixed",
                                       amount_kobo=25_000, audience="api_partner")
    user_rule = pricing_rule_create(actor=actor, kind="data", network="MTN", plan_code="MTN_1GB_30D", method="fixed",
                                    amount_kobo=25_500, audience="user", user_id=vip.pk)
    pricing_rule_create(actor=actor, kind="data", network="MTN", plan_code="MTN_1GB_30D", method="fixed",
                        amount_kobo=1_000, audience="reseller", is_promotion=True)  # below cost on purpose: fine
    glo = vendor("A-GLO_1GB_30D_CG", 27_000, network="GLO", kind="corporate")
    world.plans["alpha"] = [vendor("A-MTN_1GB_30D", 26_000), vendor("A-MTN_2GB_30D", 52_000, size=2048), glo]

    report = plans_sync(provider="alpha")

    assert report.suspended == []
    assert ProviderPlan.objects.filter(provider="alpha", suspended_at__isnull=False).count() == 0
    flagged = {line.rsplit("(rule ", 1)[1].rstrip(")") for line in report.below_cost_for}
    assert flagged == {str(reseller_rule.pk), str(partner_rule.pk), str(user_rule.pk)}
    alert = Alert.objects.get(dedupe_key="price_below_cost:alpha")
    assert alert.resolved_at is None and alert.kind == "price_below_cost"

    world.plans["alpha"] = [vendor("A-MTN_1GB_30D", 24_000), vendor("A-MTN_2GB_30D", 49_000, size=2048), glo]
    assert plans_sync(provider="alpha").below_cost_for == []
    alert.refresh_from_db()
    assert alert.resolved_at is not None
