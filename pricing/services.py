"""Pricing: quotes (read-only, hot path) and the audited changes staff make to rules.

`quote` is given the audience and the cost and never imports vtu (DESIGN §1, §5). Rule
choice and arithmetic live in pricing/rules.py; docs/pricing.md explains both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import Actor, audit_record, diff, staff_reason
from config.errors import ApiError, NotFound
from pricing.errors import BelowCost, PriceNotSet
from pricing.models import MAX_DISCOUNT_BPS, MAX_MARKUP_BPS, PricingRule
from pricing.rules import Audience, ProductKey, Quote
from pricing.selectors import PriceItem, candidate_rules, quote_from

__all__ = ["Audience", "ProductKey", "Quote", "quote"]

RULE_FIELDS = (
    "label", "kind", "network", "plan_type", "plan_code", "audience", "user_id", "method",
    "amount_kobo", "rate_bps", "starts_at", "ends_at", "is_promotion", "active",
)
MARKUP_METHODS = {PricingRule.Kind.DATA: {"flat", "percent"}, PricingRule.Kind.AIRTIME: {"discount"}}


def quote(
    *, audience: Audience, product: ProductKey, cost_kobo: int, face_value_kobo: int | None = None,
    at: datetime | None = None,
) -> Quote:
    """Price `product` for `audience` at this cost (and face value, for airtime).

    Picks the most specific active rule (pricing/rules.py), rounds the price up to
    PRICE_ROUNDING_STEP_KOBO. Raises PriceNotSet when no rule applies and BelowCost when the
    price is below cost and the rule is not a promotion. Reads only; locks nothing."""
    if isinstance(cost_kobo, bool) or not isinstance(cost_kobo, int) or cost_kobo < 0:
        raise ValueError("cost_kobo must be a non-negative integer")
    if product.kind == "airtime" and (not isinstance(face_value_kobo, int) or face_value_kobo <= 0):
        raise ValueError("an airtime quote needs a positive integer face_value_kobo")
    at = at or timezone.now()
    item = PriceItem(product, cost_kobo, face_value_kobo)
    candidates = candidate_rules(audience=audience, kinds={product.kind}, networks={product.network}, at=at)
    found = quote_from(candidates, audience=audience, item=item, at=at)
    if found is None:
        raise PriceNotSet(errors={"product": [f"{product.kind} {product.network} {product.plan_code}".strip()]})
    rule, price = found
    if price < cost_kobo and not rule.is_promotion:
        raise BelowCost(errors={"rule_id": [rule.pk]})
    return Quote(price_kobo=price, cost_kobo=cost_kobo, margin_kobo=price - cost_kobo, rule_id=rule.pk, rule_label=str(rule)[:120])


# --- staff changes ---------------------------------------------------------------------------


class RuleExists(ApiError):
    code = "ALREADY_EXISTS"


def rule_problems(fields: dict[str, Any]) -> dict[str, list[str]]:
    """Field errors for a rule, mirroring the database constraints (so the API and the admin
    answer a clear message instead of an IntegrityError)."""
    problems: dict[str, list[str]] = {}
    for field, message in [*_method_problems(fields), *_scope_problems(fields)]:
        problems.setdefault(field, []).append(message)
    return problems


def _method_problems(fields: dict[str, Any]) -> list[tuple[str, str]]:
    kind, method = fields.get("kind"), fields.get("method")
    amount, rate = fields.get("amount_kobo"), fields.get("rate_bps")
    found: list[tuple[str, str]] = []
    if kind not in PricingRule.Kind.values:
        found.append(("kind", "Must be data or airtime."))
    if method not in PricingRule.Method.values:
        found.append(("method", "Must be flat, percent, fixed or discount."))
    elif kind == "airtime" and method != "discount":
        found.append(("method", "Airtime is priced as a discount off face value."))
    elif kind == "data" and method == "discount":
        found.append(("method", "A discount off face value applies to airtime only."))
    if method in ("flat", "fixed"):
        if amount is None or amount < (1 if method == "fixed" else 0):
            found.append(("amount_kobo", "Required: a whole number of kobo (a fixed price above zero)."))
        if rate is not None:
            found.append(("rate_bps", f"Not used by the {method} method."))
    if method in ("percent", "discount"):
        limit = MAX_DISCOUNT_BPS if method == "discount" else MAX_MARKUP_BPS
        if rate is None or not 0 <= rate <= limit:
            found.append(("rate_bps", f"Required: basis points between 0 and {limit}."))
        if amount is not None:
            found.append(("amount_kobo", f"Not used by the {method} method."))
    return found


def _scope_problems(fields: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if fields.get("network", "") not in PricingRule.Network.values:
        found.append(("network", "Unknown network."))
    if fields.get("plan_type", "") not in PricingRule.PlanType.values:
        found.append(("plan_type", "Unknown plan type."))
    if fields.get("kind") == "airtime" and (fields.get("plan_type") or fields.get("plan_code")):
        found.append(("plan_code", "Airtime rules have no plan type or plan code."))
    audience, user_id = fields.get("audience"), fields.get("user_id")
    if audience not in PricingRule.Audience.values:
        found.append(("audience", "Must be customer, reseller, api_partner or user."))
    elif (audience == "user") != (user_id is not None):
        found.append(("user_id", "Required with audience 'user', and only then."))
    elif user_id is not None and not get_user_model().objects.filter(pk=user_id).exists():
        found.append(("user_id", "No such user."))
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    if starts is not None and ends is not None and starts >= ends:
        found.append(("ends_at", "Must be after starts_at."))
    return found


RULE_DEFAULTS: dict[str, Any] = {
    "label": "", "network": "", "plan_type": "", "plan_code": "", "audience": "customer", "user_id": None,
    "amount_kobo": None, "rate_bps": None, "starts_at": None, "ends_at": None, "is_promotion": False, "active": True,
}


def _defaults(fields: dict[str, Any]) -> dict[str, Any]:
    return {**RULE_DEFAULTS, **{key: value for key, value in fields.items() if key in RULE_FIELDS}}


def _snapshot(rule: PricingRule) -> dict[str, Any]:
    return {field: getattr(rule, field) for field in RULE_FIELDS}


def standing_duplicate(values: dict[str, Any], exclude_id: int | None = None) -> PricingRule | None:
    """The standing rule (no window) that already covers this scope and audience, if any."""
    if values["starts_at"] is not None or values["ends_at"] is not None:
        return None
    same = PricingRule.objects.filter(
        kind=values["kind"], network=values["network"], plan_type=values["plan_type"],
        plan_code=values["plan_code"], starts_at__isnull=True, ends_at__isnull=True,
    )
    if values["user_id"] is not None:
        same = same.filter(user_id=values["user_id"])
    else:
        same = same.filter(audience=values["audience"], user__isnull=True)
    return same.exclude(pk=exclude_id).first()


def _save(rule: PricingRule, values: dict[str, Any]) -> PricingRule:
    """Validate, refuse a second standing rule for the same scope and audience, save."""
    problems = rule_problems(values)
    if problems:
        raise ApiError(code="VALIDATION_ERROR", detail="Invalid pricing rule.", errors=problems)
    existing = standing_duplicate(values, exclude_id=rule.pk)
    if existing is not None:
        raise RuleExists("A standing rule for this scope and audience exists; update it instead.", errors={"id": [existing.pk]})
    for field, value in values.items():
        setattr(rule, field, value)
    try:
        with transaction.atomic():  # a savepoint: a lost race must not poison the caller's transaction
            rule.save()
    except IntegrityError as exc:  # a concurrent twin won the unique index
        raise RuleExists("A standing rule for this scope and audience exists; update it instead.") from exc
    return rule


def pricing_rule_create(*, actor: Actor, reason: str = "", **fields: Any) -> PricingRule:
    """Create a rule. Raises VALIDATION_ERROR (nothing stored) or ALREADY_EXISTS (a standing
    rule for the same scope and audience exists: update that one). Audited."""
    with transaction.atomic():
        rule = _save(PricingRule(), _defaults(fields))
        audit_record(action="pricing_rule.create", actor=actor, target=rule, changes=_snapshot(rule), reason=reason)
    return rule


def pricing_rule_update(*, rule_id: int, actor: Actor, reason: str = "", **fields: Any) -> PricingRule:
    """Change some fields of a rule (row locked for the change). Audited with the diff."""
    with transaction.atomic():
        rule = PricingRule.objects.select_for_update().filter(pk=rule_id).first()
        if rule is None:
            raise NotFound("No such pricing rule.")
        before = _snapshot(rule)
        values = {**before, **{key: value for key, value in fields.items() if key in RULE_FIELDS}}
        rule = _save(rule, values)
        audit_record(action="pricing_rule.update", actor=actor, target=rule, changes=diff(before, _snapshot(rule)), reason=reason)
    return rule


def pricing_rule_delete(*, rule_id: int, actor: Actor, reason: str = "") -> None:
    with transaction.atomic():
        rule = PricingRule.objects.select_for_update().filter(pk=rule_id).first()
        if rule is None:
            raise NotFound("No such pricing rule.")
        audit_record(action="pricing_rule.delete", actor=actor, target=rule, changes=_snapshot(rule), reason=reason)
        rule.delete()


def pricing_rules_set_markup(
    *, rule_ids: list[int], method: str, actor: Actor, amount_kobo: int | None = None, rate_bps: int | None = None,
    reason: str = "",
) -> int:
    """Set the same markup (method and value) on many rules at once, e.g. every MTN rule.

    All or nothing: every rule is validated with its new markup first, and one audit record
    lists each rule's before/after. Rows are locked in id order. Returns the number changed.
    A staff member must give a reason (REASON_REQUIRED)."""
    reason = staff_reason(actor=actor, reason=reason)
    with transaction.atomic():
        selected = list(PricingRule.objects.select_for_update().filter(pk__in=rule_ids).order_by("pk"))
        changes: dict[str, Any] = {}
        for rule in selected:
            before = _snapshot(rule)
            values = {**before, "method": method, "amount_kobo": amount_kobo, "rate_bps": rate_bps}
            problems = rule_problems(values)
            if problems:
                raise ApiError(code="VALIDATION_ERROR", detail=f"Rule {rule.pk} cannot take this markup.", errors=problems)
            rule.method, rule.amount_kobo, rule.rate_bps = method, amount_kobo, rate_bps
            rule.save(update_fields=["method", "amount_kobo", "rate_bps", "updated_at"])
            changes[str(rule.pk)] = diff(before, _snapshot(rule))
        if selected:
            audit_record(
                action="pricing_rule.bulk_update", actor=actor, target_type="pricing.pricingrule",
                target_id=",".join(changes)[:64], changes=changes, reason=reason,
            )
    return len(selected)


def pricing_rules_bulk_markup(
    *, kind: str, method: str, actor: Actor, network: str = "", plan_type: str = "", audience: str = "",
    amount_kobo: int | None = None, rate_bps: int | None = None, reason: str = "",
) -> int:
    """Change the markup of every markup rule of a network and/or plan type (optionally one
    audience). Fixed-price rules are left alone: a fixed price is a decision about one plan,
    not a markup. Returns the number of rules changed. A staff member must give a reason."""
    reason = staff_reason(actor=actor, reason=reason)
    if not network and not plan_type:
        raise ApiError(code="VALIDATION_ERROR", errors={"network": ["Give a network or a plan type (or both)."]})
    if method not in MARKUP_METHODS.get(kind, set()):
        raise ApiError(code="VALIDATION_ERROR", errors={"method": [f"Not a markup method for {kind}."]})
    rules = PricingRule.objects.filter(kind=kind, method__in=MARKUP_METHODS[kind])
    if network:
        rules = rules.filter(network=network)
    if plan_type:
        rules = rules.filter(plan_type=plan_type)
    if audience:
        rules = rules.filter(audience=audience)
    return pricing_rules_set_markup(
        rule_ids=list(rules.values_list("pk", flat=True)), method=method, amount_kobo=amount_kobo,
        rate_bps=rate_bps, actor=actor, reason=reason,
    )
