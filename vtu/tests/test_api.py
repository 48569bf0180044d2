"""The purchase API: happy paths with JWT and API key, reads, and every bad input of the
issue answering its own code with nothing moved (no purchase, no hold, no task)."""

from __future__ import annotations

import pytest
from celery.app.task import Task
from rest_framework.test import APIClient

from accounts.tests.factories import PIN, UserFactory
from conftest import authenticate
from vtu.models import DataPlan, Network, Purchase
from vtu.tests.conftest import MTN_NUMBER, PLAN, assert_nothing_moved, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.tests.factories import fund_wallet

pytestmark = pytest.mark.django_db

DATA_URL = "/api/v1/data/purchase"
AIRTIME_URL = "/api/v1/airtime/purchase"


@pytest.fixture
def dispatched(monkeypatch):
    """Names of every Celery task sent (eager or not): proves 'no task queued'."""
    sent: list[str] = []
    real = Task.apply_async

    def spy(self, *args, **kwargs):
        sent.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", spy)
    return sent


@pytest.fixture
def client(buyer):
    return authenticate(APIClient(), buyer)


def data_body(**overrides):
    return {"plan_code": PLAN, "phone_number": MTN_NUMBER, "pin": PIN, **overrides}


def airtime_body(**overrides):
    return {"network": "MTN", "phone_number": MTN_NUMBER, "amount": 100_000, "pin": PIN, **overrides}


def test_data_purchase_with_jwt_is_accepted_and_delivered(client, buyer, world, vtu_clock, dispatched):
    response = client.post(DATA_URL, data_body(), format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"  # as accepted; the worker ran after commit
    assert body["amount"] == 30_000 and body["phone_number"] == "+2348031234567" and body["plan_code"] == PLAN
    assert "provider" not in body and "cost" not in body
    assert "vtu.tasks.purchase_process" in dispatched
    detail = client.get(f"/api/v1/purchases/{body['reference']}").json()
    assert detail["status"] == "successful"
    assert wallet_state(buyer) == (1_000_000 - 30_000, 0)
    assert_ledger_invariants()


def test_airtime_purchase_prices_a_discount_off_face_value(client, buyer, world, vtu_clock):
    response = client.post(AIRTIME_URL, airtime_body(), format="json")

    assert response.status_code == 202, response.content
    purchase = Purchase.objects.get(reference=response.json()["reference"])
    assert (purchase.face_value_kobo, purchase.amount_kobo, purchase.cost_kobo) == (100_000, 99_000, 97_000)
    assert purchase.status == "successful"
    assert_ledger_invariants()


def test_api_key_needs_no_pin_but_an_idempotency_key(buyer, world, vtu_clock):
    from accounts.api_keys import api_key_create

    issued = api_key_create(user=buyer, name="shop", scopes=["purchase", "read"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.plaintext)
    body = data_body()
    del body["pin"]

    missing = client.post(DATA_URL, body, format="json")
    first = client.post(DATA_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    replay = client.post(DATA_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert missing.json()["error_code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert first.status_code == 202, first.content
    assert replay.status_code == 202 and replay.headers["Idempotency-Replayed"] == "true"
    assert replay.json()["reference"] == first.json()["reference"]
    assert Purchase.objects.filter(user=buyer).count() == 1
    assert Purchase.objects.get().channel == "api"


def test_api_key_without_purchase_scope_is_refused(buyer, world, vtu_clock):
    from accounts.api_keys import api_key_create

    issued = api_key_create(user=buyer, name="reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.plaintext)

    response = client.post(DATA_URL, data_body(), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 403 and response.json()["error_code"] == "INSUFFICIENT_SCOPE"
    assert not Purchase.objects.exists()


def test_client_reference_same_body_returns_the_original(client, buyer, world, vtu_clock):
    first = client.post(DATA_URL, data_body(reference="shop-42"), format="json")
    again = client.post(DATA_URL, data_body(reference="shop-42", phone_number="+2348031234567"), format="json")

    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["reference"] == first.json()["reference"]
    assert Purchase.objects.filter(user=buyer).count() == 1
    found = client.get("/api/v1/purchases", {"client_reference": "shop-42"}).json()["results"]
    assert [p["reference"] for p in found] == [first.json()["reference"]]


def test_client_reference_is_per_user(client, buyer, world, vtu_clock):
    other = UserFactory()
    fund_wallet(other, 100_000)
    client.post(DATA_URL, data_body(reference="shop-42"), format="json")

    response = authenticate(APIClient(), other).post(DATA_URL, data_body(reference="shop-42"), format="json")

    assert response.status_code == 202


def test_confirm_duplicate_allows_a_second_identical_purchase(client, buyer, world, vtu_clock):
    first = client.post(DATA_URL, data_body(), format="json")
    refused = client.post(DATA_URL, data_body(), format="json")
    confirmed = client.post(DATA_URL, data_body(confirm_duplicate=True), format="json")

    assert first.status_code == 202
    assert refused.status_code == 409 and refused.json()["error_code"] == "DUPLICATE_PURCHASE"
    assert refused.json()["errors"]["duplicate_of"] == first.json()["reference"]
    assert confirmed.status_code == 202
    assert Purchase.objects.filter(user=buyer).count() == 2


def test_duplicate_window_passes(client, buyer, world, vtu_clock, settings):
    client.post(DATA_URL, data_body(), format="json")
    vtu_clock.advance(seconds=settings.DUPLICATE_PURCHASE_WINDOW_SECONDS + 1)

    assert client.post(DATA_URL, data_body(), format="json").status_code == 202


def test_ported_number_may_buy_on_another_network(client, buyer, world, vtu_clock):
    glo = data_body(plan_code="GLO_1GB_30D_CG")

    refused = client.post(DATA_URL, glo, format="json")
    accepted = client.post(DATA_URL, {**glo, "ported": True}, format="json")

    assert refused.status_code == 400 and refused.json()["error_code"] == "NETWORK_MISMATCH"
    assert accepted.status_code == 202
    assert Purchase.objects.get().ported is True


def test_list_is_cursor_paginated_and_private(client, buyer, world, vtu_clock):
    for n in range(3):
        client.post(DATA_URL, data_body(phone_number=f"0803123456{n}"), format="json")
    other = authenticate(APIClient(), UserFactory())

    page = client.get("/api/v1/purchases", {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 1
    assert other.get("/api/v1/purchases").json()["results"] == []
    reference = page["results"][0]["reference"]
    assert other.get(f"/api/v1/purchases/{reference}").status_code == 404


def test_plans_show_the_callers_price(client, buyer, world, vtu_clock):
    from accounts.models import User

    plans = client.get("/api/v1/data/plans", {"network": "MTN"}).json()
    mine = {plan["code"]: plan["price"] for plan in plans["results"]}
    assert mine == {"MTN_1GB_30D": 30_000, "MTN_2GB_30D": 56_000}
    assert client.get("/api/v1/data/plans", {"network": "NTEL"}).json()["error_code"] == "NETWORK_NOT_FOUND"

    reseller = UserFactory(role=User.Role.RESELLER)  # the default reseller rule: cost + 5 %
    theirs = {p["code"]: p["price"] for p in authenticate(APIClient(), reseller).get("/api/v1/data/plans").json()["results"]}
    assert theirs["MTN_1GB_30D"] == 27_300
    assert theirs["GLO_1GB_30D_CG"] == 27_300


def test_the_plan_list_is_paginated_with_the_whole_catalogue_on_one_page_by_default(client, buyer, world, vtu_clock):
    everything = client.get("/api/v1/data/plans").json()
    first = client.get("/api/v1/data/plans", {"page_size": 1}).json()
    second = client.get("/api/v1/data/plans", {"page_size": 1, "page": 2}).json()
    capped = client.get("/api/v1/data/plans", {"page_size": 10_000}).json()

    assert everything["count"] == len(everything["results"]) == 3 and everything["next"] is None
    assert (first["count"], len(first["results"])) == (3, 1) and "page=2" in first["next"]
    assert second["results"][0]["code"] == everything["results"][1]["code"]
    assert capped["results"] == everything["results"]
    assert client.get("/api/v1/data/plans", {"page": 9}).status_code == 404


@pytest.mark.parametrize(
    ("role", "via_key", "price"),
    [
        ("customer", True, 30_000),  # retail (the test catalogue's customer rule), key or not
        ("reseller", True, 27_100),  # the default API partner rule: cost + 4 %
        ("reseller", False, 27_300),  # the default reseller rule: cost + 5 %
    ],
)
def test_an_api_key_gives_api_partner_prices_only_to_resellers(world, vtu_clock, catalogue, role, via_key, price):
    from accounts.api_keys import api_key_create

    user = UserFactory(role=role)
    fund_wallet(user, 1_000_000)
    api = APIClient()
    if via_key:
        api.credentials(HTTP_X_API_KEY=api_key_create(user=user, name="shop", scopes=["purchase", "read"]).plaintext)
    else:
        authenticate(api, user)
    body = data_body() if not via_key else {k: v for k, v in data_body().items() if k != "pin"}

    page = api.get("/api/v1/data/plans", {"network": "MTN"}).json()
    listed = {plan["code"]: plan["price"] for plan in page["results"]}
    bought = api.post(DATA_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert listed[PLAN] == price
    assert bought.status_code == 202, bought.content
    assert bought.json()["amount"] == price
    assert Purchase.objects.get(user=user).amount_kobo == price


def test_a_suspended_staff_member_cannot_sync_plans(world, catalogue):
    from django.utils import timezone

    from audit.models import AuditLog
    from vtu.models import ProviderCall, ProviderPlan

    staff = UserFactory(is_staff=True, is_superuser=True, pin="", suspended_at=timezone.now())
    before = list(ProviderPlan.objects.values_list("pk", "cost_kobo", "suspended_at"))

    response = authenticate(APIClient(), staff).post("/api/v1/data/sync", {"provider": "alpha"}, format="json")

    assert response.status_code == 403 and response.json()["error_code"] == "ACCOUNT_SUSPENDED"
    assert list(ProviderPlan.objects.values_list("pk", "cost_kobo", "suspended_at")) == before
    assert not AuditLog.objects.filter(action="catalogue.sync").exists()
    assert not ProviderCall.objects.exists()


def test_data_sync_is_staff_only(client, world, catalogue):
    from vtu.providers.base import ProviderPlan

    # (StaffFactory's `pin = ""` shadows its post-generation hook, so build staff from UserFactory.)
    staff_client = authenticate(APIClient(), UserFactory(is_staff=True, is_superuser=True, pin=""))

    world.plans["alpha"] = [
        ProviderPlan(provider_plan_id="A-MTN_1GB_30D", network="MTN", name="1GB", size_mb=1024,
                     validity_days=30, plan_type="sme", cost_kobo=26_500),
    ]
    assert client.post("/api/v1/data/sync", {}, format="json").status_code == 403
    response = staff_client.post("/api/v1/data/sync", {"provider": "alpha"}, format="json")

    assert response.status_code == 200, response.content
    report = response.json()["reports"][0]
    assert (report["mapped"], report["cost_changes"]) == (1, 1)


# --- bad input: each its own code, nothing moved ------------------------------------------


def _switch_off(target: str) -> None:
    if target == "plan":
        DataPlan.objects.filter(code=PLAN).update(active=False)
    elif target == "network":
        Network.objects.filter(code="MTN").update(active=False)
    elif target == "plan_type":
        Network.objects.filter(code="MTN").update(sme_active=False)
    elif target == "airtime":
        Network.objects.filter(code="MTN").update(airtime_active=False)


BAD_INPUT = [
    # (id, url, body overrides, setup, status, code)
    ("invalid number", DATA_URL, {"phone_number": "0803123"}, None, 400, "INVALID_PHONE_NUMBER"),
    ("foreign number", DATA_URL, {"phone_number": "+14155552671"}, None, 400, "INVALID_PHONE_NUMBER"),
    ("landline", DATA_URL, {"phone_number": "012345678"}, None, 400, "INVALID_PHONE_NUMBER"),
    ("number not a string", DATA_URL, {"phone_number": 8031234567}, None, 400, "INVALID_PHONE_NUMBER"),
    ("unknown plan", DATA_URL, {"plan_code": "MTN_999GB_30D"}, None, 404, "PLAN_NOT_FOUND"),
    ("inactive plan", DATA_URL, {}, "plan", 403, "PRODUCT_DISABLED"),
    ("inactive network", DATA_URL, {}, "network", 403, "PRODUCT_DISABLED"),
    ("plan type off", DATA_URL, {}, "plan_type", 403, "PRODUCT_DISABLED"),
    ("plan of another network", DATA_URL, {"network": "GLO"}, None, 400, "UNSUPPORTED_PRODUCT"),
    ("unknown network", AIRTIME_URL, {"network": "NTEL"}, None, 404, "NETWORK_NOT_FOUND"),
    ("network mismatch", AIRTIME_URL, {"network": "GLO"}, None, 400, "NETWORK_MISMATCH"),
    ("airtime off", AIRTIME_URL, {}, "airtime", 403, "PRODUCT_DISABLED"),
    ("airtime below minimum", AIRTIME_URL, {"amount": 4_900}, None, 400, "AMOUNT_OUT_OF_RANGE"),
    ("airtime above maximum", AIRTIME_URL, {"amount": 5_000_100}, None, 400, "AMOUNT_OUT_OF_RANGE"),
    ("airtime not whole naira", AIRTIME_URL, {"amount": 100_050}, None, 400, "INVALID_AMOUNT"),
    ("amount as a string", AIRTIME_URL, {"amount": "1000"}, None, 400, "INVALID_AMOUNT"),
    ("amount as a float", AIRTIME_URL, {"amount": 1000.0}, None, 400, "INVALID_AMOUNT"),
    ("wrong PIN", DATA_URL, {"pin": "9999"}, None, 403, "PIN_INVALID"),
    ("malformed PIN", DATA_URL, {"pin": "12"}, None, 403, "PIN_INVALID"),
    ("no PIN", DATA_URL, {"pin": None}, None, 400, "PIN_REQUIRED"),
    ("ported not a boolean", DATA_URL, {"ported": "yes"}, None, 400, "VALIDATION_ERROR"),
]


@pytest.mark.parametrize(("url", "overrides", "setup", "status", "code"),
                         [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_answers_its_code_and_moves_nothing(client, buyer, world, vtu_clock, dispatched,
                                                      url, overrides, setup, status, code):
    if setup:
        _switch_off(setup)
    body = (data_body if url == DATA_URL else airtime_body)(**overrides)
    body = {key: value for key, value in body.items() if value is not None}
    before = wallet_state(buyer)

    response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"bad-{code}")

    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code
    assert set(response.json()) >= {"detail", "error_code", "errors"}
    assert_nothing_moved(buyer, before)
    assert dispatched == []
    replay = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"bad-{code}")
    assert replay.json()["error_code"] == code and replay.headers.get("Idempotency-Replayed") == "true"
    assert_nothing_moved(buyer, before)


def test_insufficient_funds_moves_nothing(world, vtu_clock, dispatched, catalogue):
    poor = UserFactory()
    fund_wallet(poor, 29_900)
    before = wallet_state(poor)

    response = authenticate(APIClient(), poor).post(DATA_URL, data_body(), format="json")

    assert response.status_code == 402 and response.json()["error_code"] == "INSUFFICIENT_FUNDS"
    assert_nothing_moved(poor, before)
    assert dispatched == []
    assert_ledger_invariants()


def test_over_the_tier_limit_moves_nothing(client, buyer, world, vtu_clock, dispatched, settings):
    limits = {tier: dict(row) for tier, row in settings.KYC_TIER_LIMITS_KOBO.items()}
    limits[0]["single"] = 20_000
    settings.KYC_TIER_LIMITS_KOBO = limits
    before = wallet_state(buyer)

    response = client.post(DATA_URL, data_body(), format="json")

    assert response.status_code == 403 and response.json()["error_code"] == "LIMIT_EXCEEDED"
    assert_nothing_moved(buyer, before)
    assert dispatched == []


def test_daily_limit_counts_purchases(client, buyer, world, vtu_clock, settings):
    limits = {tier: dict(row) for tier, row in settings.KYC_TIER_LIMITS_KOBO.items()}
    limits[0]["daily"] = 50_000
    settings.KYC_TIER_LIMITS_KOBO = limits

    assert client.post(DATA_URL, data_body(), format="json").status_code == 202
    before = wallet_state(buyer)
    second = client.post(DATA_URL, data_body(phone_number="08031234568"), format="json")

    assert second.json()["error_code"] == "LIMIT_EXCEEDED"
    assert_nothing_moved(buyer, before, purchases_before=1)


def test_duplicate_client_reference_with_another_body_moves_nothing(client, buyer, world, vtu_clock, dispatched):
    client.post(DATA_URL, data_body(reference="shop-1"), format="json")
    before, sent = wallet_state(buyer), len(dispatched)

    response = client.post(DATA_URL, data_body(reference="shop-1", phone_number="08031234568"), format="json")

    assert response.status_code == 422 and response.json()["error_code"] == "DUPLICATE_REFERENCE"
    assert_nothing_moved(buyer, before, purchases_before=1)
    assert len(dispatched) == sent


def test_no_provider_available_moves_nothing(client, buyer, world, vtu_clock, dispatched):
    from vtu.models import Route

    Route.objects.update(enabled=False)
    before = wallet_state(buyer)

    response = client.post(DATA_URL, data_body(), format="json")

    assert response.status_code == 503 and response.json()["error_code"] == "PROVIDER_UNAVAILABLE"
    assert_nothing_moved(buyer, before)
    assert dispatched == []


def test_suspended_user_cannot_buy(client, buyer, world, vtu_clock):
    from django.utils import timezone

    type(buyer).objects.filter(pk=buyer.pk).update(suspended_at=timezone.now())
    before = wallet_state(buyer)

    response = client.post(DATA_URL, data_body(), format="json")

    assert response.status_code == 403 and response.json()["error_code"] == "ACCOUNT_SUSPENDED"
    assert_nothing_moved(buyer, before)


def test_openapi_schema_describes_the_purchase_operations(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/data/purchase"]["post"]
    assert "202" in operation["responses"] and "402" in operation["responses"]
    assert "/api/v1/purchases/{reference}" in schema["paths"]
    assert "NETWORK_NOT_FOUND" in schema["x-error-codes"]


def test_a_broker_failure_after_commit_still_answers_202(client, buyer, world, vtu_clock, monkeypatch):
    """The purchase and its hold committed: a 5xx now would make the client retry and buy
    twice. The answer is 202 and the sweeper re-sends the purchase (its own outbox)."""
    from vtu import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    from vtu.services import sweeper

    with monkeypatch.context() as patch:
        patch.setattr(tasks.purchase_process, "delay", broker_down)
        response = client.post(DATA_URL, data_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-broker")

    assert response.status_code == 202
    purchase = Purchase.objects.get(reference=response.json()["reference"])
    assert purchase.status == "pending" and purchase.next_check_at is not None
    assert wallet_state(buyer) == (1_000_000, 30_000)
    vtu_clock.advance(seconds=61)
    assert sweeper.purchases_sweep().dispatched == [purchase.pk]
    purchase.refresh_from_db()
    assert purchase.status == "successful"
    assert_ledger_invariants()


def test_a_retry_whose_first_answer_was_never_stored_finds_the_purchase(client, buyer, world, vtu_clock):
    """The process died after the purchase committed but before the Idempotency-Key store
    saved the answer (simulated by deleting the record): the retry must not buy again."""
    from config.models import IdempotencyRecord

    first = client.post(DATA_URL, data_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-lost")
    IdempotencyRecord.objects.filter(key="k-lost").delete()
    retry = client.post(DATA_URL, data_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-lost")

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json()["reference"] == first.json()["reference"]
    assert Purchase.objects.filter(user=buyer).count() == 1
    assert wallet_state(buyer) == (1_000_000 - 30_000, 0)
    assert_ledger_invariants()
