"""Which rule prices a product for an audience, and the arithmetic (pure: no database).

Specificity (docs/pricing.md): the audience decides first, then the scope.

  audience   one user (3) > API partner (2) > reseller (1) > customer (0)
  scope      plan code (+4), network (+2), plan type (+1); kind alone scores 0

A rule matches when every field it sets equals the product's (a blank field matches
anything) and its audience applies to the caller: "customer" rules are the retail prices and
apply to everyone, "reseller" rules to resellers, "api_partner" rules to requests a reseller
makes with an API key (a retail customer who creates a key still pays retail prices), "user"
rules to that user. Among matching active rules the one with the highest
(audience rank, scope score) wins; ties go to a rule with a time window over a standing one
(a window is a deliberate temporary override), then to the later start, then to the newer
rule. So a reseller's own discount is never overridden by a retail rule, however specific.

Arithmetic is integer kobo. One rounding rule: the price is rounded UP to a multiple of
PRICE_ROUNDING_STEP_KOBO, computed exactly from the rational value (no intermediate
rounding); airtime is then capped at its face value (rounding never makes airtime dearer than
its face value).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

BPS = 10_000
AUDIENCE_RANK = {"customer": 0, "reseller": 1, "api_partner": 2, "user": 3}


@dataclass(frozen=True)
class Audience:
    role: str  # "customer" | "reseller"
    user_id: int | None
    via_api_key: bool

    def __post_init__(self) -> None:
        if self.role not in ("customer", "reseller"):
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def api_partner(self) -> bool:
        """API-partner prices are for resellers integrating through an API key. Any customer
        can create a key (self-service), so a key alone must not unlock a wholesale price."""
        return self.via_api_key and self.role == "reseller"


@dataclass(frozen=True)
class ProductKey:
    kind: str  # "data" | "airtime"
    network: str  # MTN | AIRTEL | GLO | 9MOBILE
    plan_type: str = ""  # sme | gifting | corporate (data)
    plan_code: str = ""  # our stable code, e.g. MTN_1GB_30D (data)

    def __post_init__(self) -> None:
        if self.kind not in ("data", "airtime"):
            raise ValueError(f"unknown product kind {self.kind!r}")


@dataclass(frozen=True)
class Quote:
    price_kobo: int
    cost_kobo: int
    margin_kobo: int  # price - cost; negative only under a promotion
    rule_id: int
    rule_label: str


class RuleLike(Protocol):
    id: int
    kind: str
    network: str
    plan_type: str
    plan_code: str
    audience: str
    user_id: int | None
    method: str
    amount_kobo: int | None
    rate_bps: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    is_promotion: bool
    active: bool


def audience_matches(rule: RuleLike, audience: Audience) -> bool:
    if rule.audience == "customer":
        return True
    if rule.audience == "reseller":
        return audience.role == "reseller"
    if rule.audience == "api_partner":
        return audience.api_partner
    return rule.audience == "user" and audience.user_id is not None and rule.user_id == audience.user_id


def scope_matches(rule: RuleLike, product: ProductKey) -> bool:
    return (
        rule.kind == product.kind
        and rule.network in ("", product.network)
        and rule.plan_type in ("", product.plan_type)
        and rule.plan_code in ("", product.plan_code)
    )


def in_window(rule: RuleLike, at: datetime) -> bool:
    return rule.active and (rule.starts_at is None or rule.starts_at <= at) and (rule.ends_at is None or at < rule.ends_at)


def specificity(rule: RuleLike) -> tuple[int, int, int, float, int]:
    scope = 4 * bool(rule.plan_code) + 2 * bool(rule.network) + bool(rule.plan_type)
    windowed = int(rule.starts_at is not None or rule.ends_at is not None)
    start = rule.starts_at.timestamp() if rule.starts_at else 0.0
    return AUDIENCE_RANK[rule.audience], scope, windowed, start, rule.id


def best_rule(rules: Iterable[RuleLike], *, audience: Audience, product: ProductKey, at: datetime) -> RuleLike | None:
    matching = [
        rule for rule in rules
        if in_window(rule, at) and scope_matches(rule, product) and audience_matches(rule, audience)
    ]
    return max(matching, key=specificity, default=None)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def round_up(numerator: int, denominator: int, step: int) -> int:
    """ceil(numerator / denominator) rounded up to a multiple of `step`, exactly."""
    return ceil_div(numerator, denominator * step) * step


def price_for(rule: RuleLike, *, cost_kobo: int, face_value_kobo: int | None, step: int) -> int:
    if step < 1:
        raise ValueError("PRICE_ROUNDING_STEP_KOBO must be at least 1")
    if rule.method == "flat":
        return round_up(cost_kobo + int(rule.amount_kobo or 0), 1, step)
    if rule.method == "percent":
        return round_up(cost_kobo * (BPS + int(rule.rate_bps or 0)), BPS, step)
    if rule.method == "fixed":
        return round_up(int(rule.amount_kobo or 0), 1, step)
    if rule.method == "discount":
        if face_value_kobo is None:
            raise ValueError("an airtime price needs the face value")
        return min(round_up(face_value_kobo * (BPS - int(rule.rate_bps or 0)), BPS, step), face_value_kobo)
    raise ValueError(f"unknown pricing method {rule.method!r}")
