"""A reseller following docs/reseller-guide.md end to end: log in, create an API key, register
a callback endpoint, read their own prices, buy data with the key and an Idempotency-Key,
and receive a callback whose signature verifies, on a local HTTPS receiver.

The purchase runs through the real stack (vtu purchase service, wallets hold and capture,
pricing quote) with the sandbox provider, whose outcome is chosen by the number.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.callback_signing import signature_verify
from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.services import Actor
from conftest import authenticate

pytestmark = pytest.mark.django_db

PLAN = "MTN_1GB_30D"  # the sandbox's cost: 26,000 kobo
MARKUP = {"customer": 4_000, "reseller": 2_000, "api_partner": 1_000}


@pytest.fixture
def sandbox_market(settings):
    """MTN data routed to the sandbox provider, its plans synced, and three price lists."""
    from pricing.services import pricing_rule_create
    from vtu.models import Network, Route
    from vtu.services.catalogue import plans_sync

    settings.VTU_PROVIDERS = {**settings.VTU_PROVIDERS, "sandbox": {**settings.VTU_PROVIDERS["sandbox"], "ENABLED": True}}
    Route.objects.create(network=Network.objects.get(code="MTN"), product="data", provider="sandbox", priority=1)
    plans_sync(provider="sandbox")
    for audience, markup in MARKUP.items():
        pricing_rule_create(
            actor=Actor.system("tests"), kind="data", network="MTN", plan_code=PLAN, method="flat",
            amount_kobo=markup, audience=audience,
        )


@pytest.fixture
def reseller(sandbox_market):
    from wallets.tests.factories import fund_wallet

    user = UserFactory(role=User.Role.RESELLER)
    fund_wallet(user, 1_000_000)
    return user


def _price(client, code=PLAN) -> int:
    response = client.get("/api/v1/data/plans", {"network": "MTN"})
    assert response.status_code == 200, response.content
    return {plan["code"]: plan["price"] for plan in response.json()["results"]}[code]


def test_a_reseller_buys_data_with_a_key_and_gets_a_verified_callback(reseller, receiver, clock):
    # 1. Log in (JWT) - guide, "Authentication".
    web = APIClient()
    tokens = web.post("/api/v1/auth/login", {"email": reseller.email, "password": PASSWORD}, format="json").json()
    web.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    # 2. Create a key and a callback endpoint (both shown once).
    key = web.post("/api/v1/keys", {"name": "shop", "scopes": ["read", "purchase"], "expires_in": 90}, format="json")
    assert key.status_code == 201, key.content
    endpoint = web.post(
        "/api/v1/webhooks", {"url": receiver.url(), "events": ["purchase.successful", "purchase.failed"]}, format="json"
    )
    assert endpoint.status_code == 201, endpoint.content
    secret = endpoint.json()["secret"]
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=key.json()["key"])

    # 3. Prices: the reseller's own (and, through the key, the API partner's).
    customer = authenticate(APIClient(), UserFactory())
    assert _price(customer) == 26_000 + MARKUP["customer"]
    assert _price(web) == 26_000 + MARKUP["reseller"]
    assert _price(api) == 26_000 + MARKUP["api_partner"]

    # 4. Buy with the key: no PIN, an Idempotency-Key; a retry replays the first answer.
    body = {"plan_code": PLAN, "phone_number": "08031234567", "reference": "shop-order-1"}
    bought = api.post("/api/v1/data/purchase", body, format="json", HTTP_IDEMPOTENCY_KEY="shop-order-1")
    assert bought.status_code == 202, bought.content
    retry = api.post("/api/v1/data/purchase", body, format="json", HTTP_IDEMPOTENCY_KEY="shop-order-1")
    assert retry.json()["reference"] == bought.json()["reference"] and retry["Idempotency-Replayed"] == "true"
    reference = bought.json()["reference"]
    assert bought.json()["amount"] == 26_000 + MARKUP["api_partner"]
    detail = api.get(f"/api/v1/purchases/{reference}").json()
    assert detail["status"] == "successful"

    # 5. The callback arrived once, signed; the receiver verifies it with the secret.
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert signature_verify(secret=secret, header=got.headers["X-VTU-Signature"], body=got.body, now=clock.now.timestamp())
    event = got.json()
    assert event["type"] == "purchase.successful" and event["id"] == f"purchase.successful:{reference}"
    assert event["data"]["reference"] == reference
    assert event["data"]["client_reference"] == "shop-order-1"
    assert event["data"]["status"] == "successful"
    assert event["data"]["amount"] == 26_000 + MARKUP["api_partner"]
    deliveries = api.get(f"/api/v1/webhooks/{endpoint.json()['id']}/deliveries").json()["results"]
    assert [(d["event_id"], d["status"]) for d in deliveries] == [(event["id"], "succeeded")]


def test_a_failed_purchase_calls_back_purchase_failed(reseller, receiver, clock):
    from accounts import api_keys, callback_endpoints

    raw = api_keys.api_key_create(user=reseller, name="shop", scopes=["purchase"]).plaintext
    secret = callback_endpoints.callback_endpoint_create(user=reseller, url=receiver.url(), events=["purchase.failed"]).secret
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=raw)
    # The sandbox fails numbers ending in 0001 definitively.
    bought = api.post(
        "/api/v1/data/purchase", {"plan_code": PLAN, "phone_number": "08030000001"}, format="json",
        HTTP_IDEMPOTENCY_KEY="o-2",
    )
    assert bought.status_code == 202, bought.content
    [got] = receiver.requests
    assert got.json()["type"] == "purchase.failed"
    assert got.json()["data"]["reference"] == bought.json()["reference"]
    assert signature_verify(secret=secret, header=got.headers["X-VTU-Signature"], body=got.body, now=clock.now.timestamp())


def _bought_with_a_key(reseller, receiver, events: list[str]) -> tuple[str, str]:
    """A successful purchase made with a key; (its reference, the endpoint's secret)."""
    from accounts import api_keys, callback_endpoints

    raw = api_keys.api_key_create(user=reseller, name="shop", scopes=["purchase"]).plaintext
    secret = callback_endpoints.callback_endpoint_create(user=reseller, url=receiver.url(), events=events).secret
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=raw)
    bought = api.post("/api/v1/data/purchase", {"plan_code": PLAN, "phone_number": "08031234567"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="o-3")
    assert bought.status_code == 202, bought.content
    return bought.json()["reference"], secret


def _refunded_callback(receiver, reference: str, secret: str, clock) -> dict:
    got = receiver.requests[-1]
    assert signature_verify(secret=secret, header=got.headers["X-VTU-Signature"], body=got.body, now=clock.now.timestamp())
    event = got.json()
    assert event["type"] == "purchase.refunded" and event["id"] == f"purchase.refunded:{reference}"
    assert event["data"]["reference"] == reference and event["data"]["status"] == "refunded"
    return event


def test_a_staff_refund_calls_back_purchase_refunded(reseller, receiver, clock):
    from vtu.services.staff import purchase_refund

    reference, secret = _bought_with_a_key(reseller, receiver, ["purchase.successful", "purchase.refunded"])
    assert [r.json()["type"] for r in receiver.requests] == ["purchase.successful"]
    purchase_refund(staff=Actor.system("tests"), reference=reference, reason="customer complaint upheld")
    assert [r.json()["type"] for r in receiver.requests] == ["purchase.successful", "purchase.refunded"]
    _refunded_callback(receiver, reference, secret, clock)


def test_a_dispute_refund_calls_back_purchase_refunded_once(reseller, receiver, clock):
    from vtu import disputes

    reference, secret = _bought_with_a_key(reseller, receiver, ["purchase.refunded"])
    assert receiver.requests == []  # not subscribed to purchase.successful
    dispute = disputes.dispute_open(user=reseller, reference=reference, reason="not received",
                                    actor=Actor.for_user(reseller))
    staff = Actor.for_user(UserFactory(is_staff=True, is_superuser=True))
    disputes.dispute_resolve(staff=staff, dispute_id=dispute.pk, outcome="refund", reason="provider confirmed failure",
                                may_refund=True)
    assert len(receiver.requests) == 1
    _refunded_callback(receiver, reference, secret, clock)
