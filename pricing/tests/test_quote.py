"""quote(): exact arithmetic, the rounding rule, specificity, time windows, below cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory
from pricing import rules
from pricing.errors import BelowCost, PriceNotSet
from pricing.selectors import PriceItem, price_list
from pricing.services import Audience, ProductKey, quote
from pricing.tests.factories import RuleFactory

CUSTOMER = Audience(role="customer", user_id=None, via_api_key=False)
RESELLER = Audience(role="reseller", user_id=None, via_api_key=False)
MTN_1GB = ProductKey(kind="data", network="MTN", plan_type="sme", plan_code="MTN_1GB_30D")
MTN_AIRTIME = ProductKey(kind="airtime", network="MTN")


# --- arithmetic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "amount", "rate", "cost", "price"),
    [
        ("percent", None, 1000, 26_000, 28_600),  # 286.00 exactly
        ("percent", None, 1000, 26_050, 28_700),  # 286.55 -> up to 287.00
        ("percent", None, 333, 10_000, 10_400),  # 103.33 -> 104.00
        ("flat", 5_000, None, 26_000, 31_000),
        ("flat", 5_001, None, 26_000, 31_100),  # 310.01 -> 311.00
        ("fixed", 29_950, None, 26_000, 30_000),  # the fixed price is rounded up too
        ("percent", None, 0, 0, 0),
    ],
)
def test_data_price_is_exact_and_rounded_up_to_the_step(no_rules, method, amount, rate, cost, price):
    rule = RuleFactory(method=method, amount_kobo=amount, rate_bps=rate)

    result = quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=cost)

    assert (result.price_kobo, result.cost_kobo, result.margin_kobo) == (price, cost, price - cost)
    assert result.rule_id == rule.pk


@override_settings(PRICE_ROUNDING_STEP_KOBO=1)
def test_step_of_one_kobo_rounds_the_exact_fraction_up(no_rules):
    RuleFactory(rate_bps=1000)

    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=26_051).price_kobo == 28_657  # 28656.1 -> 28657


@pytest.mark.parametrize(
    ("rate", "face", "cost", "price"),
    [
        (0, 50_000, 49_000, 50_000),
        (100, 50_000, 49_000, 49_500),
        (150, 10_000, 9_700, 9_900),  # 98.50 -> 99.00
        (150, 100, 97, 100),  # 0.985 -> rounds to 1.00, capped at face value
    ],
)
def test_airtime_is_a_discount_off_face_value(no_rules, rate, face, cost, price):
    RuleFactory(kind="airtime", method="discount", rate_bps=rate)

    result = quote(audience=CUSTOMER, product=MTN_AIRTIME, cost_kobo=cost, face_value_kobo=face)

    assert result.price_kobo == price and result.margin_kobo == price - cost


def test_airtime_needs_the_face_value(no_rules):
    RuleFactory(kind="airtime", method="discount", rate_bps=100)

    with pytest.raises(ValueError):
        quote(audience=CUSTOMER, product=MTN_AIRTIME, cost_kobo=9_700)


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True, None])
def test_cost_must_be_a_non_negative_integer(no_rules, bad):
    RuleFactory()
    with pytest.raises(ValueError):
        quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=bad)


# --- the rounding rule and "never below cost unless promotion", as properties -------------

costs = st.integers(min_value=0, max_value=10**10)
steps = st.sampled_from([1, 5, 50, 100, 500, 1000])


@given(cost=costs, bps=st.integers(min_value=0, max_value=100_000), step=steps)
def test_percent_price_is_the_least_multiple_of_the_step_at_or_above_the_exact_value(cost, bps, step):
    rule = _Rule(method="percent", rate_bps=bps)

    price = rules.price_for(rule, cost_kobo=cost, face_value_kobo=None, step=step)

    exact_times_bps = cost * (10_000 + bps)  # price must be >= exact = this / 10_000
    assert price % step == 0
    assert price * 10_000 >= exact_times_bps
    assert (price - step) * 10_000 < exact_times_bps


@given(face=st.integers(min_value=1, max_value=10**9), bps=st.integers(min_value=0, max_value=10_000), step=steps)
def test_airtime_price_never_exceeds_face_value(face, bps, step):
    price = rules.price_for(_Rule(method="discount", rate_bps=bps), cost_kobo=0, face_value_kobo=face, step=step)

    assert 0 <= price <= face


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    cost=st.integers(min_value=0, max_value=10**8),
    method=st.sampled_from(["flat", "percent", "fixed"]),
    value=st.integers(min_value=1, max_value=10**8),
    promotion=st.booleans(),
)
@pytest.mark.django_db
def test_never_below_cost_unless_promotion(cost, method, value, promotion):
    from pricing.models import PricingRule

    PricingRule.objects.all().delete()
    amount, rate = (value, None) if method in ("flat", "fixed") else (None, value % 100_001)
    RuleFactory(method=method, amount_kobo=amount, rate_bps=rate, is_promotion=promotion)

    try:
        result = quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=cost)
    except BelowCost:
        assert not promotion and method == "fixed"  # only a fixed price can fall below cost
        return
    assert result.price_kobo >= cost or promotion
    assert result.margin_kobo == result.price_kobo - cost


class _Rule:
    def __init__(self, **fields):
        self.amount_kobo = None
        self.rate_bps = None
        self.__dict__.update(fields)


# --- below cost, promotions, no rule --------------------------------------------------------


def test_below_cost_is_refused_without_a_promotion(no_rules):
    RuleFactory(method="fixed", amount_kobo=25_000, rate_bps=None)

    with pytest.raises(BelowCost) as error:
        quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=26_000)
    assert error.value.code == "BELOW_COST" and error.value.status_code == 400


def test_a_promotion_may_sell_below_cost_with_a_negative_margin(no_rules):
    RuleFactory(method="fixed", amount_kobo=25_000, rate_bps=None, is_promotion=True)

    result = quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=26_000)

    assert (result.price_kobo, result.margin_kobo) == (25_000, -1_000)


def test_no_rule_is_price_not_set(no_rules):
    RuleFactory(kind="airtime", method="discount", rate_bps=0)

    with pytest.raises(PriceNotSet) as error:
        quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=26_000)
    assert error.value.code == "PRICE_NOT_SET"


# --- specificity ------------------------------------------------------------------------


def test_more_specific_scope_wins_within_an_audience(no_rules):
    RuleFactory(rate_bps=1000)
    network = RuleFactory(network="MTN", rate_bps=900)
    plan_type = RuleFactory(plan_type="sme", rate_bps=800)
    both = RuleFactory(network="MTN", plan_type="sme", rate_bps=700)
    plan = RuleFactory(plan_code="MTN_1GB_30D", rate_bps=600)

    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000).rule_id == plan.pk
    plan.delete()
    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000).rule_id == both.pk
    both.delete()
    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000).rule_id == network.pk  # network beats plan type
    network.delete()
    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000).rule_id == plan_type.pk


def test_rules_for_other_scopes_do_not_match(no_rules):
    RuleFactory(network="GLO", rate_bps=100)
    RuleFactory(plan_type="gifting", rate_bps=100)
    RuleFactory(plan_code="MTN_2GB_30D", rate_bps=100)

    with pytest.raises(PriceNotSet):
        quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000)


def test_audience_decides_before_scope(no_rules):
    user = UserFactory()
    RuleFactory(plan_code="MTN_1GB_30D", method="fixed", amount_kobo=30_000, rate_bps=None)  # retail, very specific
    reseller = RuleFactory(audience="reseller", rate_bps=500)  # reseller, kind only
    partner = RuleFactory(audience="api_partner", rate_bps=400)
    mine = RuleFactory(audience="user", user=user, rate_bps=100)

    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=20_000).price_kobo == 30_000
    assert quote(audience=RESELLER, product=MTN_1GB, cost_kobo=20_000).rule_id == reseller.pk
    via_key = Audience(role="reseller", user_id=None, via_api_key=True)
    assert quote(audience=via_key, product=MTN_1GB, cost_kobo=20_000).rule_id == partner.pk
    me = Audience(role="customer", user_id=user.pk, via_api_key=True)
    assert quote(audience=me, product=MTN_1GB, cost_kobo=20_000).rule_id == mine.pk


def test_reseller_rules_do_not_apply_to_customers_nor_user_rules_to_others(no_rules):
    other = UserFactory()
    retail = RuleFactory(rate_bps=1000)
    RuleFactory(audience="reseller", rate_bps=100)
    RuleFactory(audience="user", user=other, rate_bps=0)
    someone = Audience(role="customer", user_id=other.pk + 1000, via_api_key=False)

    assert quote(audience=someone, product=MTN_1GB, cost_kobo=10_000).rule_id == retail.pk


# --- time windows -------------------------------------------------------------------------


def test_windowed_rule_applies_only_inside_its_window_and_beats_the_standing_rule(no_rules):
    now = timezone.now()
    standing = RuleFactory(rate_bps=1000)
    promo = RuleFactory(rate_bps=200, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))

    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000, at=now).rule_id == promo.pk
    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000, at=now + timedelta(hours=1)).rule_id == standing.pk
    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000, at=now - timedelta(hours=2)).rule_id == standing.pk


def test_overlapping_windows_go_to_the_later_start_and_inactive_rules_never_match(no_rules):
    now = timezone.now()
    RuleFactory(rate_bps=200, starts_at=now - timedelta(days=2))
    later = RuleFactory(rate_bps=300, starts_at=now - timedelta(days=1))
    RuleFactory(rate_bps=0, starts_at=now - timedelta(hours=1), active=False)

    assert quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=10_000, at=now).rule_id == later.pk


# --- defaults and price lists ---------------------------------------------------------------


def test_default_rules_price_every_audience(default_rules):
    data = quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=26_000)
    reseller = quote(audience=RESELLER, product=MTN_1GB, cost_kobo=26_000)
    airtime = quote(audience=RESELLER, product=MTN_AIRTIME, cost_kobo=9_700, face_value_kobo=10_000)

    assert (data.price_kobo, reseller.price_kobo, airtime.price_kobo) == (28_600, 27_300, 9_900)


def test_price_list_matches_quote_in_one_query(no_rules, django_assert_num_queries):
    RuleFactory(rate_bps=1000)
    RuleFactory(network="GLO", method="fixed", amount_kobo=20_000, rate_bps=None)
    glo = ProductKey(kind="data", network="GLO", plan_type="corporate", plan_code="GLO_1GB_30D_CG")
    items = [PriceItem(MTN_1GB, 26_000), PriceItem(glo, 19_000), PriceItem(glo, 21_000)]

    with django_assert_num_queries(1):
        quotes = price_list(audience=CUSTOMER, items=items)

    assert quotes[0] == quote(audience=CUSTOMER, product=MTN_1GB, cost_kobo=26_000)
    assert quotes[1].price_kobo == 20_000
    assert quotes[2] is None  # 200 < 210 cost: not sellable, hidden


# --- who is an API partner -----------------------------------------------------------------


def test_api_partner_prices_are_for_resellers_using_a_key_not_for_customers_with_one(default_rules):
    """Any customer can create an API key: a key alone must not unlock a wholesale price."""
    customer_with_key = Audience(role="customer", user_id=None, via_api_key=True)
    reseller_with_key = Audience(role="reseller", user_id=None, via_api_key=True)
    reseller_with_jwt = Audience(role="reseller", user_id=None, via_api_key=False)

    def price(audience: Audience) -> int:
        return quote(audience=audience, product=MTN_1GB, cost_kobo=26_000).price_kobo

    assert price(customer_with_key) == price(CUSTOMER) == 28_600  # cost + 10 %
    assert price(reseller_with_key) == 27_100  # the API partner rule: cost + 4 %
    assert price(reseller_with_jwt) == 27_300  # the reseller rule: cost + 5 %
    items = [PriceItem(MTN_1GB, 26_000)]
    assert price_list(audience=customer_with_key, items=items)[0].price_kobo == 28_600
    assert price_list(audience=reseller_with_key, items=items)[0].price_kobo == 27_100
