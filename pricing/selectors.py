"""Reads: the active rules that may price a set of products, and price lists.

`price_list` prices many (product, cost) pairs for one caller with one query (the plan list
endpoint), using the same rule choice and arithmetic as `pricing.services.quote`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from pricing import rules
from pricing.models import PricingRule
from pricing.rules import Audience, ProductKey, Quote


@dataclass(frozen=True)
class PriceItem:
    product: ProductKey
    cost_kobo: int
    face_value_kobo: int | None = None


def candidate_rules(
    *, audience: Audience, kinds: Iterable[str], networks: Iterable[str], at: datetime, every_user: bool = False
) -> list[PricingRule]:
    """Active rules in their window that could apply to this audience for these kinds and
    networks; the exact choice is made in Python (pricing/rules.py, which also matches a
    one-user rule to its user). `every_user` includes the one-user rules of all users, for a
    cache shared by every caller of a role (one-user rules are few)."""
    who = Q(audience=PricingRule.Audience.CUSTOMER)
    if audience.role == "reseller":
        who |= Q(audience=PricingRule.Audience.RESELLER)
    if audience.api_partner:
        who |= Q(audience=PricingRule.Audience.API_PARTNER)
    if every_user:
        who |= Q(audience=PricingRule.Audience.USER)
    elif audience.user_id is not None:
        who |= Q(audience=PricingRule.Audience.USER, user_id=audience.user_id)
    queryset = PricingRule.objects.filter(
        who,
        Q(starts_at__isnull=True) | Q(starts_at__lte=at),
        Q(ends_at__isnull=True) | Q(ends_at__gt=at),
        active=True,
        kind__in=set(kinds),
        network__in={"", *networks},
    )
    return list(queryset)


def quote_from(
    candidates: Sequence[PricingRule], *, audience: Audience, item: PriceItem, at: datetime
) -> tuple[PricingRule, int] | None:
    """The winning rule and its price, or None when no rule applies."""
    rule = rules.best_rule(candidates, audience=audience, product=item.product, at=at)
    if rule is None:
        return None
    price = rules.price_for(
        rule, cost_kobo=item.cost_kobo, face_value_kobo=item.face_value_kobo, step=settings.PRICE_ROUNDING_STEP_KOBO
    )
    return rule, price


def price_list(*, audience: Audience, items: Sequence[PriceItem], at: datetime | None = None) -> list[Quote | None]:
    """One Quote per item, in order; None where no rule prices it or the price would be below
    cost without a promotion (the caller hides that product). One database query."""
    at = at or timezone.now()
    candidates = candidate_rules(
        audience=audience, kinds={i.product.kind for i in items}, networks={i.product.network for i in items}, at=at
    )
    quotes: list[Quote | None] = []
    for item in items:
        found = quote_from(candidates, audience=audience, item=item, at=at)
        if found is None or (found[1] < item.cost_kobo and not found[0].is_promotion):
            quotes.append(None)
            continue
        rule, price = found
        quotes.append(Quote(price, item.cost_kobo, price - item.cost_kobo, rule.pk, str(rule)[:120]))
    return quotes


def audiences_priced_apart(*, kind: str) -> list[Audience]:
    """Every audience that may have a price of its own beside retail: resellers through the
    web app and through an API key, and each user with an active one-user rule of `kind`.
    Plan sync quotes each of them to warn staff of a price now below cost."""
    audiences = [Audience(role="reseller", user_id=None, via_api_key=False),
                 Audience(role="reseller", user_id=None, via_api_key=True)]
    users = (
        PricingRule.objects.filter(audience=PricingRule.Audience.USER, active=True, kind=kind)
        .values_list("user_id", "user__role").distinct().order_by("user_id")
    )
    for user_id, role in users:
        channels = (False, True) if role == "reseller" else (False,)  # only a reseller's key is an API partner's
        audiences.extend(Audience(role=role, user_id=user_id, via_api_key=via_api_key) for via_api_key in channels)
    return audiences


def rules_list() -> QuerySet[PricingRule]:
    return PricingRule.objects.select_related("user").order_by("kind", "network", "plan_type", "plan_code", "audience", "id")
