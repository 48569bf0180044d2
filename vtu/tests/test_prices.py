"""The hot path's cached quote must answer exactly what pricing.services.quote answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from audit.services import Actor
from config.errors import ApiError
from pricing.rules import Audience, ProductKey
from pricing.services import pricing_rule_create
from pricing.services import quote as pricing_quote
from vtu.services import prices, snapshot

pytestmark = pytest.mark.django_db


def _outcome(function, **kwargs):
    try:
        result = function(**kwargs)
    except ApiError as error:
        return ("error", error.code)
    return ("quote", result.price_kobo, result.margin_kobo, result.rule_id, result.rule_label)


def test_cached_quote_matches_pricing_case_by_case(settings):
    actor = Actor.system("test")
    user = UserFactory()
    pricing_rule_create(actor=actor, kind="data", network="MTN", plan_code="MTN_1GB_30D", method="fixed",
                        amount_kobo=25_000, audience="customer")
    pricing_rule_create(actor=actor, kind="data", network="GLO", method="fixed", amount_kobo=20_000,
                        audience="customer", is_promotion=True)
    pricing_rule_create(actor=actor, kind="data", network="AIRTEL", method="flat", amount_kobo=1_000,
                        audience="user", user_id=user.pk)
    pricing_rule_create(actor=actor, kind="data", network="9MOBILE", method="fixed", amount_kobo=10_000,
                        audience="customer", starts_at=timezone.now() - timedelta(days=2),
                        ends_at=timezone.now() - timedelta(days=1))
    audiences = [
        Audience(role="customer", user_id=None, via_api_key=False),
        Audience(role="reseller", user_id=None, via_api_key=False),
        Audience(role="customer", user_id=user.pk, via_api_key=True),
        # Same role and channel as the line above, so the same cached rules: the one-user
        # rule must still not reach another user.
        Audience(role="customer", user_id=UserFactory().pk, via_api_key=True),
    ]
    products = [
        (ProductKey("data", "MTN", "sme", "MTN_1GB_30D"), 20_000, None),  # fixed price
        (ProductKey("data", "MTN", "sme", "MTN_1GB_30D"), 26_000, None),  # fixed price below cost: refused
        (ProductKey("data", "MTN", "sme", "MTN_2GB_30D"), 50_000, None),  # default percent rules
        (ProductKey("data", "GLO", "corporate", "GLO_1GB_30D_CG"), 27_000, None),  # promotion below cost
        (ProductKey("data", "AIRTEL", "corporate", "AIRTEL_1GB_30D_CG"), 29_000, None),  # one user's rule
        (ProductKey("data", "9MOBILE", "corporate", "9MOBILE_1GB_30D_CG"), 30_000, None),  # expired rule ignored
        (ProductKey("airtime", "MTN"), 97_000, 100_000),
    ]
    settings.VTU_CATALOGUE_CACHE_SECONDS = 60
    snapshot.forget()
    for audience in audiences:
        for product, cost, face in products:
            kwargs = {"audience": audience, "product": product, "cost_kobo": cost, "face_value_kobo": face}
            for _ in range(2):  # the second answer comes from the cached rules
                assert _outcome(prices.quote, **kwargs) == _outcome(pricing_quote, **kwargs), (audience, product)


def test_no_rule_at_all_is_price_not_set(settings):
    from pricing.models import PricingRule

    PricingRule.objects.all().delete()
    settings.VTU_CATALOGUE_CACHE_SECONDS = 60
    snapshot.forget()
    kwargs = {"audience": Audience(role="customer", user_id=None, via_api_key=False),
              "product": ProductKey("data", "MTN", "sme", "MTN_1GB_30D"), "cost_kobo": 1}
    assert _outcome(prices.quote, **kwargs) == _outcome(pricing_quote, **kwargs) == ("error", "PRICE_NOT_SET")
