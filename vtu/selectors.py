"""Reads of the vtu app: querysets with their joins, and the caller's plan prices."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import User
from vtu.errors import NetworkNotFound, PurchaseNotFound
from vtu.models import DataPlan, Network, ProductKind, Purchase
from vtu.services import routing


def purchases_for_user(*, user: User, client_reference: str | None = None) -> QuerySet[Purchase]:
    purchases = Purchase.objects.select_related("network", "plan").filter(user=user)
    if client_reference:
        purchases = purchases.filter(client_reference=client_reference)
    return purchases


def purchase_get_for_user(*, user: User, reference: str) -> Purchase:
    purchase = purchases_for_user(user=user).filter(reference=reference).first()
    if purchase is None:
        raise PurchaseNotFound(f"No purchase {reference}.")
    return purchase


@dataclass(frozen=True)
class PricedPlan:
    plan: DataPlan
    price_kobo: int


def plans_for_user(*, user: User, network: str | None = None, via_api_key: bool = False) -> list[PricedPlan]:
    """Active plans a provider can deliver now, at the caller's own price (resellers and
    API partners see theirs). A plan no rule prices at or above its cost is left out.
    A constant number of queries, however many plans."""
    from pricing.selectors import PriceItem, price_list
    from pricing.services import Audience, ProductKey

    plans = DataPlan.objects.select_related("network").filter(active=True, network__active=True)
    if network:
        if not Network.objects.filter(code=network.upper()).exists():
            raise NetworkNotFound(errors={"network": [f"Unknown network {network!r}."]})
        plans = plans.filter(network__code=network.upper())
    plans = [plan for plan in plans if plan.network.plan_type_active(plan.plan_type)]
    costs = routing.primary_costs(plans)
    sellable = [plan for plan in plans if plan.pk in costs]
    items = [
        PriceItem(
            ProductKey(kind=ProductKind.DATA, network=plan.network.code, plan_type=plan.plan_type, plan_code=plan.code),
            costs[plan.pk],
        )
        for plan in sellable
    ]
    quotes = price_list(audience=Audience(role=user.role, user_id=user.pk, via_api_key=via_api_key), items=items)
    return [PricedPlan(plan=plan, price_kobo=q.price_kobo) for plan, q in zip(sellable, quotes, strict=True) if q]
