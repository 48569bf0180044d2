"""POST/GET /api/v1/admin/pricing, the bulk markup service and the Django admin for rules.
Every rejection asserts that nothing was stored and nothing audited."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from accounts.tests.reseller_fixtures import issue_key
from audit.models import AuditLog
from audit.services import Actor
from config.errors import ApiError
from conftest import authenticate
from pricing import services
from pricing.models import PricingRule
from pricing.tests.factories import RuleFactory

URL = "/api/v1/admin/pricing"
MTN_SME = {"kind": "data", "network": "MTN", "plan_type": "sme", "audience": "reseller", "method": "percent", "rate_bps": 350}


@pytest.fixture
def staff_user(db):
    # (StaffFactory's `pin = ""` shadows its post-generation hook: build staff from UserFactory.)
    return UserFactory(is_staff=True, is_superuser=True, pin="")


@pytest.fixture
def staff_client(staff_user):
    return authenticate(APIClient(), staff_user)


def snapshot() -> tuple[list, int]:
    rules = list(PricingRule.objects.order_by("pk").values())
    return rules, AuditLog.objects.filter(action__startswith="pricing_rule.").count()


@pytest.mark.django_db
def test_staff_creates_a_rule_and_it_is_audited(staff_client, staff_user):
    response = staff_client.post(URL, {**MTN_SME, "label": "MTN SME resellers", "reason": "new float price"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    rule = PricingRule.objects.get(pk=body["id"])
    assert (rule.network, rule.audience, rule.method, rule.rate_bps, rule.amount_kobo) == ("MTN", "reseller", "percent", 350, None)
    assert body["description"] == "data/MTN/sme/* reseller percent 350bps"
    audit = AuditLog.objects.get(action="pricing_rule.create")
    assert (audit.actor_user_id, audit.target_id, audit.reason) == (staff_user.pk, str(rule.pk), "new float price")
    assert audit.changes["rate_bps"] == 350


@pytest.mark.django_db
def test_staff_updates_a_rule_by_id_and_the_diff_is_audited(staff_client):
    rule = RuleFactory(network="MTN", rate_bps=1000)

    response = staff_client.post(URL, {"id": rule.pk, "rate_bps": 800, "label": "cheaper"}, format="json")

    assert response.status_code == 200, response.content
    rule.refresh_from_db()
    assert (rule.rate_bps, rule.label, rule.method) == (800, "cheaper", "percent")
    assert AuditLog.objects.get(action="pricing_rule.update").changes == {"rate_bps": [1000, 800], "label": ["", "cheaper"]}


@pytest.mark.django_db
def test_staff_lists_rules(staff_client, default_rules):
    response = staff_client.get(URL)

    assert response.status_code == 200
    assert response.json()["count"] == PricingRule.objects.count() >= 6  # the default rules


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({**MTN_SME, "method": "discount"}, "VALIDATION_ERROR", "method"),  # discount is for airtime
        ({**MTN_SME, "rate_bps": "350"}, "VALIDATION_ERROR", "rate_bps"),  # JSON integers only
        ({**MTN_SME, "rate_bps": 3.5}, "VALIDATION_ERROR", "rate_bps"),
        ({**MTN_SME, "rate_bps": None}, "VALIDATION_ERROR", "rate_bps"),
        ({**MTN_SME, "amount_kobo": 100}, "VALIDATION_ERROR", "amount_kobo"),  # not used by percent
        ({**MTN_SME, "method": "fixed", "rate_bps": None, "amount_kobo": 0}, "VALIDATION_ERROR", "amount_kobo"),
        ({**MTN_SME, "rate_bps": 100_001}, "VALIDATION_ERROR", "rate_bps"),
        ({"kind": "airtime", "audience": "reseller", "method": "discount", "rate_bps": 10_001}, "VALIDATION_ERROR", "rate_bps"),
        ({"kind": "airtime", "plan_code": "X", "method": "discount", "rate_bps": 100}, "VALIDATION_ERROR", "plan_code"),
        ({**MTN_SME, "audience": "user"}, "VALIDATION_ERROR", "user_id"),
        ({**MTN_SME, "audience": "user", "user_id": 987654321}, "VALIDATION_ERROR", "user_id"),
        ({**MTN_SME, "user_id": 1}, "VALIDATION_ERROR", "user_id"),  # a user only with audience user
        ({**MTN_SME, "network": "SMILE"}, "VALIDATION_ERROR", "network"),
        ({**MTN_SME, "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}, "VALIDATION_ERROR", "ends_at"),
        ({"network": "MTN", "rate_bps": 1}, "VALIDATION_ERROR", "kind"),  # create needs kind and method
        ({"id": 987654321, "rate_bps": 1}, "NOT_FOUND", None),
        ({**MTN_SME, "audience": "customer", "network": "", "plan_type": ""}, "ALREADY_EXISTS", "id"),  # the default rule
    ],
)
def test_bad_rules_are_refused_and_nothing_is_stored(staff_client, default_rules, body, code, field):
    before = snapshot()

    response = staff_client.post(URL, body, format="json")

    assert response.json()["error_code"] == code, response.content
    if field:
        assert field in response.json()["errors"]
    assert snapshot() == before


@pytest.mark.django_db
def test_a_bad_update_changes_nothing(staff_client):
    rule = RuleFactory(network="MTN", rate_bps=1000)
    before = snapshot()

    response = staff_client.post(URL, {"id": rule.pk, "method": "fixed"}, format="json")  # fixed needs amount_kobo

    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.django_db
def test_non_staff_and_api_keys_are_refused(user_client, user):
    staff = UserFactory(is_staff=True, is_superuser=True, pin="")  # staff, but an API key never reaches staff views
    key_client = APIClient()
    key_client.credentials(HTTP_X_API_KEY=issue_key(staff, ["read", "purchase"]))
    before = snapshot()

    assert user_client.post(URL, MTN_SME, format="json").status_code == 403
    assert user_client.get(URL).status_code == 403
    assert key_client.post(URL, MTN_SME, format="json").status_code == 403
    assert APIClient().post(URL, MTN_SME, format="json").status_code == 401
    assert snapshot() == before


@pytest.mark.django_db
def test_staff_without_the_model_permission_is_refused():
    staff = UserFactory(is_staff=True, is_superuser=False, pin="")
    before = snapshot()

    response = authenticate(APIClient(), staff).post(URL, MTN_SME, format="json")

    assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED")
    assert snapshot() == before


@pytest.mark.django_db
def test_the_created_rule_prices_at_once(staff_client, default_rules):
    from pricing.services import Audience, ProductKey, quote

    staff_client.post(URL, MTN_SME, format="json")
    product = ProductKey(kind="data", network="MTN", plan_type="sme", plan_code="MTN_1GB_30D")

    assert quote(audience=Audience("reseller", None, False), product=product, cost_kobo=26_000).price_kobo == 27_000


# --- bulk markup --------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_markup_for_a_network_changes_its_markup_rules_only(no_rules, staff_user):
    mtn_customer = RuleFactory(network="MTN", rate_bps=1000)
    mtn_reseller = RuleFactory(network="MTN", plan_type="sme", audience="reseller", method="flat", amount_kobo=500, rate_bps=None)
    mtn_fixed = RuleFactory(network="MTN", plan_code="MTN_1GB_30D", method="fixed", amount_kobo=30_000, rate_bps=None)
    glo = RuleFactory(network="GLO", rate_bps=1000)

    changed = services.pricing_rules_bulk_markup(
        kind="data", network="MTN", method="percent", rate_bps=1200, actor=Actor.for_user(staff_user), reason="MTN cost up",
    )

    assert changed == 2
    for rule in (mtn_customer, mtn_reseller, mtn_fixed, glo):
        rule.refresh_from_db()
    assert (mtn_customer.method, mtn_customer.rate_bps) == ("percent", 1200)
    assert (mtn_reseller.method, mtn_reseller.rate_bps, mtn_reseller.amount_kobo) == ("percent", 1200, None)
    assert (mtn_fixed.method, mtn_fixed.amount_kobo) == ("fixed", 30_000)
    assert glo.rate_bps == 1000
    audit = AuditLog.objects.get(action="pricing_rule.bulk_update")
    assert set(audit.changes) == {str(mtn_customer.pk), str(mtn_reseller.pk)} and audit.reason == "MTN cost up"


@pytest.mark.django_db
def test_bulk_markup_by_plan_type_and_refusals_change_nothing(no_rules, staff_user):
    sme = RuleFactory(plan_type="sme", rate_bps=1000)
    airtime = RuleFactory(kind="airtime", method="discount", rate_bps=100)
    actor = Actor.for_user(staff_user)
    before = snapshot()

    with pytest.raises(ApiError):
        services.pricing_rules_bulk_markup(kind="data", method="percent", rate_bps=5, actor=actor, reason="r")  # no scope
    with pytest.raises(ApiError):
        services.pricing_rules_bulk_markup(kind="data", plan_type="sme", method="discount", rate_bps=5, actor=actor,
                                           reason="r")
    with pytest.raises(ApiError):
        services.pricing_rules_set_markup(rule_ids=[sme.pk, airtime.pk], method="percent", rate_bps=5, actor=actor,
                                          reason="r")
    assert snapshot() == before  # all or nothing

    assert services.pricing_rules_bulk_markup(kind="data", plan_type="sme", method="flat", amount_kobo=700, actor=actor,
                                              reason="r") == 1
    sme.refresh_from_db()
    assert (sme.method, sme.amount_kobo, sme.rate_bps) == ("flat", 700, None)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_the_same_standing_rule_store_one(staff_user):
    PricingRule.objects.filter(audience="reseller").delete()
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            barrier.wait()
            services.pricing_rule_create(actor=Actor.for_user(staff_user), **MTN_SME)
            result = "created"
        except ApiError as error:
            result = error.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ALREADY_EXISTS"] * 3 + ["created"]
    assert PricingRule.objects.filter(network="MTN", plan_type="sme", audience="reseller").count() == 1
    assert AuditLog.objects.filter(action="pricing_rule.create").count() == 1


# --- the Django admin ----------------------------------------------------------------------


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def admin_url(suffix: str = "") -> str:
    from django.urls import reverse

    return reverse(f"admin:pricing_pricingrule_{suffix or 'changelist'}")


@pytest.mark.django_db
def test_admin_lists_and_adds_rules_through_the_service(admin_client):
    assert admin_client.get(admin_url()).status_code == 200
    form = {
        "label": "Glo promo", "kind": "data", "network": "GLO", "plan_type": "", "plan_code": "", "audience": "customer",
        "user": "", "method": "fixed", "amount_kobo": "20000", "rate_bps": "", "starts_at_0": "", "starts_at_1": "",
        "ends_at_0": "", "ends_at_1": "", "is_promotion": "on", "active": "on", "reason": "Glo promo week",
    }

    response = admin_client.post(admin_url("add"), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = PricingRule.objects.get(label="Glo promo")
    assert (rule.method, rule.amount_kobo, rule.is_promotion) == ("fixed", 20_000, True)
    assert AuditLog.objects.get(action="pricing_rule.create", target_id=str(rule.pk)).reason == "Glo promo week"


@pytest.mark.django_db
def test_admin_refuses_a_bad_rule_with_a_form_error(admin_client):
    before = snapshot()
    form = {
        "label": "bad", "kind": "airtime", "network": "", "plan_type": "", "plan_code": "", "audience": "customer",
        "user": "", "method": "percent", "amount_kobo": "", "rate_bps": "100", "starts_at_0": "", "starts_at_1": "",
        "ends_at_0": "", "ends_at_1": "", "active": "on",
    }

    response = admin_client.post(admin_url("add"), form)

    assert response.status_code == 200 and "Airtime is priced as a discount" in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_admin_bulk_markup_action(admin_client, no_rules):
    first, second = RuleFactory(network="MTN", rate_bps=1000), RuleFactory(network="MTN", audience="reseller", rate_bps=500)
    form = {"action": "set_markup", "_selected_action": [first.pk, second.pk], "method": "percent", "rate_bps": "900",
            "amount_kobo": ""}

    without_reason = admin_client.post(admin_url(), form)  # the back office asks for a reason
    assert without_reason.status_code == 302
    assert set(PricingRule.objects.values_list("rate_bps", flat=True)) == {1000, 500}
    assert not AuditLog.objects.filter(action="pricing_rule.bulk_update").exists()

    response = admin_client.post(admin_url(), {**form, "reason": "MTN cost up"})

    assert response.status_code == 302
    assert set(PricingRule.objects.values_list("rate_bps", flat=True)) == {900}
    assert AuditLog.objects.get(action="pricing_rule.bulk_update").reason == "MTN cost up"
