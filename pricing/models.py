"""Pricing rules: what a product sells for, per scope and audience (DESIGN §5, docs/pricing.md).

A rule applies to a scope (product kind, and optionally network, plan type and one plan) and
an audience (retail customers, resellers, API partners, or one user). It prices by one method:
a flat markup in kobo on the cost, a percentage markup in basis points of the cost, a fixed
price, or (airtime only) a discount in basis points off the face value. The most specific
active rule wins (pricing/rules.py). The database refuses a rule whose fields do not fit its
method, so a bad rule can never reach a quote.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

MAX_MARKUP_BPS = 100_000  # 1000 %: anything above is a typo
MAX_DISCOUNT_BPS = 10_000  # 100 %


class PricingRule(models.Model):
    class Kind(models.TextChoices):
        DATA = "data"
        AIRTIME = "airtime"

    class Network(models.TextChoices):
        ANY = "", "Any network"
        MTN = "MTN", "MTN"
        AIRTEL = "AIRTEL", "Airtel"
        GLO = "GLO", "Glo"
        NINE_MOBILE = "9MOBILE", "9mobile"

    class PlanType(models.TextChoices):
        ANY = "", "Any plan type"
        SME = "sme", "SME"
        GIFTING = "gifting", "Gifting"
        CORPORATE = "corporate", "Corporate gifting"

    class Audience(models.TextChoices):
        CUSTOMER = "customer", "Customers (retail, everyone)"
        RESELLER = "reseller", "Resellers"
        API_PARTNER = "api_partner", "API partners (resellers' requests made with an API key)"
        USER = "user", "One user"

    class Method(models.TextChoices):
        FLAT = "flat", "Cost + flat markup (kobo)"
        PERCENT = "percent", "Cost + percent markup (basis points)"
        FIXED = "fixed", "Fixed price (kobo)"
        DISCOUNT = "discount", "Face value - discount (basis points; airtime)"

    label = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    network = models.CharField(max_length=16, choices=Network.choices, blank=True, default="")
    plan_type = models.CharField(max_length=16, choices=PlanType.choices, blank=True, default="")
    plan_code = models.CharField(max_length=64, blank=True, default="", help_text="Our stable plan code, e.g. MTN_1GB_30D")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.CUSTOMER)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="pricing_rules"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    amount_kobo = models.BigIntegerField(null=True, blank=True, help_text="Flat markup or fixed price, in kobo")
    rate_bps = models.IntegerField(null=True, blank=True, help_text="Percent markup or discount, in basis points")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    is_promotion = models.BooleanField(default=False, help_text="May sell below cost")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "network", "plan_type", "plan_code", "audience", "id"]
        indexes = [models.Index(fields=["kind", "active"], name="pricing_rule_kind_active")]
        constraints = [
            models.CheckConstraint(
                name="pricing_rule_method_fields",
                condition=(
                    Q(method__in=["flat", "fixed"], amount_kobo__isnull=False, rate_bps__isnull=True)
                    | Q(method__in=["percent", "discount"], rate_bps__isnull=False, amount_kobo__isnull=True)
                ),
            ),
            models.CheckConstraint(
                name="pricing_rule_amounts_in_range",
                condition=(
                    (Q(amount_kobo__isnull=True) | Q(amount_kobo__gte=0))
                    & (Q(rate_bps__isnull=True) | Q(rate_bps__gte=0, rate_bps__lte=MAX_MARKUP_BPS))
                    & ~Q(method="fixed", amount_kobo__lte=0)
                    & ~Q(method="discount", rate_bps__gt=MAX_DISCOUNT_BPS)
                ),
            ),
            # Airtime is priced off its face value; data off its cost.
            models.CheckConstraint(
                name="pricing_rule_method_fits_kind",
                condition=Q(kind="airtime", method="discount") | Q(kind="data", method__in=["flat", "percent", "fixed"]),
            ),
            models.CheckConstraint(
                name="pricing_rule_airtime_has_no_plan",
                condition=~Q(kind="airtime") | Q(plan_type="", plan_code=""),
            ),
            models.CheckConstraint(
                name="pricing_rule_user_iff_audience_user",
                condition=Q(audience="user", user__isnull=False) | (~Q(audience="user") & Q(user__isnull=True)),
            ),
            models.CheckConstraint(
                name="pricing_rule_window_ordered",
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(starts_at__lt=models.F("ends_at")),
            ),
            # One standing (no time window) rule per scope and audience; promotions with a
            # window may overlap and are ordered by start (pricing/rules.py).
            models.UniqueConstraint(
                fields=["kind", "network", "plan_type", "plan_code", "audience"],
                condition=Q(user__isnull=True, starts_at__isnull=True, ends_at__isnull=True),
                name="pricing_rule_one_standing_per_audience",
            ),
            models.UniqueConstraint(
                fields=["kind", "network", "plan_type", "plan_code", "user"],
                condition=Q(user__isnull=False, starts_at__isnull=True, ends_at__isnull=True),
                name="pricing_rule_one_standing_per_user",
            ),
        ]

    def __str__(self) -> str:
        return self.label or self.describe()

    def describe(self) -> str:
        scope = "/".join(part or "*" for part in (self.kind, self.network, self.plan_type, self.plan_code))
        who = f"user {self.user_id}" if self.audience == self.Audience.USER else self.audience
        value = self.amount_kobo if self.method in (self.Method.FLAT, self.Method.FIXED) else f"{self.rate_bps}bps"
        return f"{scope} {who} {self.method} {value}"
