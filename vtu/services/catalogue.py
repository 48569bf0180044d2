"""Catalogue: the network a number belongs to, and plan sync from providers (R9).

Plan sync maps each provider plan to one of our plans (by an existing mapping of its id, else
by network, plan type, validity and size within 3 %), records every cost change, and
suspends a mapping whose cost our customer price would not cover, alerting staff (a retail
promotion priced below cost on purpose covers it). A later sync that finds the cost covered
again lifts a suspension it made (never a staff switch). Provider plans that match none of
ours are reported, not invented: staff add the plan.

The other audiences (resellers, API partners, one-user rules) are checked too, but a price of
theirs below cost only alerts staff: the mapping stays on for retail, and their purchases are
refused with BELOW_COST (and the plan hidden from their list) until the rule is fixed, so
nothing sells at a loss meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from django.db import transaction

from audit.services import Actor, audit_record
from config.alerts import alert_raise, alert_resolve
from config.errors import ApiError
from pricing.rules import ProductKey
from pricing.selectors import PriceItem, audiences_priced_apart, candidate_rules, quote_from
from vtu import clock
from vtu.models import DataPlan, Network, ProductKind, ProviderPlan, ProviderPlanCostChange
from vtu.providers.base import ProviderPlan as VendorPlan
from vtu.services.calls import CallRecorder, provider_configured, provider_get

log = structlog.get_logger("vtu.catalogue")

BELOW_COST = "price would be below cost"
NOT_LISTED = "no longer listed by the provider"


def network_for_number(e164: str, networks: list[Network] | None = None) -> Network | None:
    """The network whose prefix (longest match) the number has: a hint, numbers are ported."""
    national = "0" + e164.removeprefix("+234")
    best: tuple[int, Network | None] = (0, None)
    for network in networks if networks is not None else Network.objects.all():
        for prefix in network.prefixes:
            if national.startswith(prefix) and len(prefix) > best[0]:
                best = (len(prefix), network)
    return best[1]


@dataclass
class SyncReport:
    provider: str
    seen: int = 0
    mapped: int = 0
    created: int = 0
    cost_changes: int = 0
    suspended: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    below_cost_for: list[str] = field(default_factory=list)  # non-retail prices below cost: alerted only
    error: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def plans_sync(*, provider: str, actor: Actor | None = None) -> SyncReport:
    """Fetch `provider`'s plan list (outside any transaction) and reconcile our mappings.

    Idempotent: a second run with the same list changes nothing. Raises nothing for a
    provider error: the report carries it and the mappings stay as they were."""
    report = SyncReport(provider=provider)
    recorder = CallRecorder()
    try:
        vendor_plans = provider_get(provider, recorder).list_plans()
    except Exception as exc:  # noqa: BLE001 - any adapter failure leaves the catalogue untouched
        report.error = type(exc).__name__
        log.warning("plans_sync_failed", provider=provider, error=report.error)
        return report
    finally:
        recorder.flush()
    networks = {network.code: network for network in Network.objects.all()}
    with transaction.atomic():
        seen_ids = {_sync_one(provider, plan, networks, report) for plan in vendor_plans}
        _suspend_vanished(provider, seen_ids - {None}, report)
        _check_other_audiences(provider, report)
        audit_record(
            action="catalogue.sync", actor=actor or Actor.system("plans_sync"), target_type="vtu.provider",
            target_id=provider, changes={"report": report.as_dict()},
        )
    _alert_suspensions(report)
    _alert_below_cost(report)
    return report


def _sync_one(provider: str, vendor: VendorPlan, networks: dict[str, Network], report: SyncReport) -> int | None:
    report.seen += 1
    now = clock.now()
    mapping = (
        ProviderPlan.objects.select_related("plan__network")
        .filter(provider=provider, provider_plan_id=vendor.provider_plan_id)
        .first()
    )
    if mapping is None:
        plan = _match_plan(vendor, networks)
        if plan is None:
            report.unmatched.append(f"{vendor.network}:{vendor.provider_plan_id} {vendor.name}")
            return None
        mapping, created = ProviderPlan.objects.get_or_create(
            provider=provider, plan=plan,
            defaults={"provider_plan_id": vendor.provider_plan_id, "cost_kobo": vendor.cost_kobo, "last_seen_at": now},
        )
        if created:
            report.created += 1
            ProviderPlanCostChange.objects.create(provider_plan=mapping, old_cost_kobo=None, new_cost_kobo=vendor.cost_kobo)
        elif mapping.provider_plan_id != vendor.provider_plan_id:
            return mapping.pk  # another vendor id already maps to this plan; keep the staff's choice
    report.mapped += 1
    if mapping.cost_kobo != vendor.cost_kobo:
        ProviderPlanCostChange.objects.create(
            provider_plan=mapping, old_cost_kobo=mapping.cost_kobo, new_cost_kobo=vendor.cost_kobo
        )
        report.cost_changes += 1
    mapping.cost_kobo = vendor.cost_kobo
    mapping.last_seen_at = now
    _apply_price_check(mapping, report)
    mapping.save(update_fields=["cost_kobo", "last_seen_at", "suspended_at", "suspended_reason"])
    return mapping.pk


def _match_plan(vendor: VendorPlan, networks: dict[str, Network]) -> DataPlan | None:
    network = networks.get(vendor.network)
    if network is None:
        return None
    plans = DataPlan.objects.filter(network=network, plan_type=vendor.plan_type, validity_days=vendor.validity_days)
    for plan in plans:
        if abs(plan.size_mb - vendor.size_mb) * 100 <= plan.size_mb * 3:
            return plan
    return None


def _apply_price_check(mapping: ProviderPlan, report: SyncReport) -> None:
    """Suspend when the customer price would not cover this cost; lift our own suspension
    when it does again."""
    covered = customer_price_covers(mapping.plan, mapping.cost_kobo)
    label = f"{mapping.provider}:{mapping.plan.code}"
    if not covered and mapping.suspended_at is None:
        mapping.suspended_at, mapping.suspended_reason = clock.now(), BELOW_COST
        report.suspended.append(label)
    elif covered and mapping.suspended_reason in (BELOW_COST, NOT_LISTED):
        mapping.suspended_at, mapping.suspended_reason = None, ""
        report.restored.append(label)


def customer_price_covers(plan: DataPlan, cost_kobo: int) -> bool:
    """Would a plain customer's quote for this plan at this cost be sellable? `quote` refuses
    a price below cost (BELOW_COST) unless the winning rule is a promotion, so any answer is a
    price we sell at: a promotion priced below cost on purpose covers its cost (DESIGN §5)."""
    from pricing.services import Audience, quote

    try:
        quote(audience=Audience(role="customer", user_id=None, via_api_key=False), product=_product(plan), cost_kobo=cost_kobo)
    except ApiError:
        return False  # BELOW_COST (or no rule prices it): not sellable at this cost
    return True


def _product(plan: DataPlan) -> ProductKey:
    return ProductKey(kind=ProductKind.DATA, network=plan.network.code, plan_type=plan.plan_type, plan_code=plan.code)


def _check_other_audiences(provider: str, report: SyncReport) -> None:
    """Quote every non-retail audience (pricing.selectors.audiences_priced_apart) for each live
    mapping of this provider, one rule query per audience; report a winning rule of theirs
    that now prices below cost without being a promotion."""
    mappings = list(
        ProviderPlan.objects.filter(provider=provider, suspended_at__isnull=True, plan__active=True)
        .select_related("plan__network")
    )
    if not mappings:
        return
    now, seen = clock.now(), set()
    networks = {mapping.plan.network.code for mapping in mappings}
    for audience in audiences_priced_apart(kind=ProductKind.DATA):
        rules = candidate_rules(audience=audience, kinds={ProductKind.DATA}, networks=networks, at=now)
        for mapping in mappings:
            found = quote_from(rules, audience=audience, item=PriceItem(_product(mapping.plan), mapping.cost_kobo), at=now)
            if found is None or found[1] >= mapping.cost_kobo or found[0].is_promotion:
                continue
            rule = found[0]
            if rule.audience != "customer" and (mapping.pk, rule.pk) not in seen:  # retail is suspended above
                seen.add((mapping.pk, rule.pk))
                report.below_cost_for.append(f"{provider}:{mapping.plan.code} {rule.describe()} (rule {rule.pk})")


def _suspend_vanished(provider: str, seen_ids: set[int], report: SyncReport) -> None:
    """A mapping the provider no longer lists cannot be bought there: suspend it."""
    gone = ProviderPlan.objects.filter(provider=provider, suspended_at__isnull=True).exclude(pk__in=seen_ids)
    for mapping in gone.select_related("plan"):
        report.suspended.append(f"{provider}:{mapping.plan.code} ({NOT_LISTED})")
    gone.update(suspended_at=clock.now(), suspended_reason=NOT_LISTED)


def _alert_suspensions(report: SyncReport) -> None:
    key = f"plans_suspended:{report.provider}"
    if report.suspended:
        alert_raise(
            kind="plan_suspended", dedupe_key=key,
            message=f"{len(report.suspended)} plan mapping(s) at {report.provider} suspended: price below cost or delisted",
            details={"suspended": ", ".join(report.suspended[:50])},
        )
    elif report.restored:
        alert_resolve(dedupe_key=key)


def _alert_below_cost(report: SyncReport) -> None:
    key = f"price_below_cost:{report.provider}"
    if report.below_cost_for:
        alert_raise(
            kind="price_below_cost", dedupe_key=key,
            message=f"{len(report.below_cost_for)} reseller/API/user price(s) below cost at {report.provider}: "
                    "those purchases are refused until the rule is fixed",
            details={"below_cost": ", ".join(report.below_cost_for[:50])},
        )
    else:
        alert_resolve(dedupe_key=key)


def plans_sync_all(*, actor: Actor | None = None) -> list[SyncReport]:
    from vtu.models import Route

    providers = sorted(set(Route.objects.filter(enabled=True).values_list("provider", flat=True)))
    return [plans_sync(provider=name, actor=actor) for name in providers if provider_configured(name)]
