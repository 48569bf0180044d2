"""Quotes for the purchase hot path: `pricing.services.quote` semantics, with the candidate
rules of an audience kept per process for the catalogue's TTL (VTU_CATALOGUE_CACHE_SECONDS).

The rule query was a seventh of a purchase request's time. Rules are read through
`pricing.selectors` and chosen and priced by `pricing.rules` (quote_from), so the choice and
the arithmetic are pricing's own; only the two refusals of `quote` are repeated here, and a
contract test holds this function to `quote` case by case. The price of the cache: a rule
switched on, off or starting reaches a process up to the TTL later (its end is exact: the
window is checked at every quote). A TTL of 0 calls `pricing.services.quote` itself.
"""

from __future__ import annotations

import threading
import time

from django.utils import timezone

from pricing.errors import BelowCost, PriceNotSet
from pricing.rules import Audience, ProductKey, Quote
from pricing.selectors import PriceItem, candidate_rules, quote_from
from vtu.services import snapshot

MAX_ENTRIES = 10_000
_lock = threading.Lock()
_rules: dict[tuple, tuple[float, list]] = {}


def quote(
    *, audience: Audience, product: ProductKey, cost_kobo: int, face_value_kobo: int | None = None
) -> Quote:
    ttl = snapshot.ttl_seconds()
    if ttl <= 0:
        from pricing.services import quote as pricing_quote

        return pricing_quote(audience=audience, product=product, cost_kobo=cost_kobo, face_value_kobo=face_value_kobo)
    now = timezone.now()
    rules = _candidates(audience, product, now, ttl)
    found = quote_from(rules, audience=audience, item=PriceItem(product, cost_kobo, face_value_kobo), at=now)
    if found is None:
        raise PriceNotSet(errors={"product": [f"{product.kind} {product.network} {product.plan_code}".strip()]})
    rule, price = found
    if price < cost_kobo and not rule.is_promotion:
        raise BelowCost(errors={"rule_id": [rule.pk]})
    return Quote(price_kobo=price, cost_kobo=cost_kobo, margin_kobo=price - cost_kobo, rule_id=rule.pk,
                 rule_label=str(rule)[:120])


def _candidates(audience: Audience, product: ProductKey, now: object, ttl: float) -> list:
    # Keyed by role and channel, not by user: with thousands of customers a per-user key
    # would miss on nearly every request. One-user rules of every user ride along (they are
    # few) and pricing's own audience match picks the caller's.
    key = (audience.role, audience.api_partner, product.kind, product.network)
    entry = _rules.get(key)
    if entry is not None and time.monotonic() - entry[0] < ttl:
        return entry[1]
    rules = candidate_rules(
        audience=audience, kinds={product.kind}, networks={product.network}, at=now, every_user=True
    )
    with _lock:
        if len(_rules) >= MAX_ENTRIES:
            _rules.clear()
        _rules[key] = (time.monotonic(), rules)
    return rules


def forget() -> None:
    with _lock:
        _rules.clear()
