"""The funding API: POST /wallet/fund, GET /wallet/fund/{reference}, virtual accounts."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from rest_framework.test import APIClient

from audit.models import AuditLog
from payments.models import Deposit, VirtualAccount, VirtualAccountRequest
from payments.tests.helpers import BASE_URLS, MONNIFY_LOGIN_URL, fixture, verify_answer
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
INIT_URL = f"{BASE_URLS['paystack']}/transaction/initialize"


def initialize_ok(http, reference_holder: dict | None = None):
    def callback(request):
        body = json.loads(request.body)
        if reference_holder is not None:
            reference_holder["body"] = body
        return 200, {}, json.dumps(fixture("paystack", "initialize", REF=body["reference"]))

    return http.add_callback(responses.POST, INIT_URL, callback=callback)


def test_fund_opens_a_checkout_after_committing_the_deposit(user_client, user, http):
    sent: dict = {}
    call = initialize_ok(http, sent)

    response = user_client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["authorization_url"] == "https://checkout.paystack.com/0peioxfhpn"
    deposit = Deposit.objects.get(reference=data["reference"])
    assert (deposit.user_id, deposit.amount_kobo, deposit.status) == (user.pk, 500_000, "initialized")
    assert deposit.authorization_url == data["authorization_url"]
    assert deposit.next_check_at is not None  # the sweep will verify it if no webhook comes
    assert sent["body"]["amount"] == 500_000 and sent["body"]["reference"] == deposit.reference
    assert call.call_count == 1
    assert not Journal.objects.exists()  # nothing is credited before the gateway confirms


def test_fund_replays_with_the_same_idempotency_key(user_client, http):
    call = initialize_ok(http)
    first = user_client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json",
                             HTTP_IDEMPOTENCY_KEY="fund-1")
    second = user_client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="fund-1")
    assert second.status_code == 201 and second.json() == first.json()
    assert Deposit.objects.count() == 1 and call.call_count == 1


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"amount": 9_999, "gateway": "paystack"}, 400, "AMOUNT_OUT_OF_RANGE"),
        ({"amount": 100_000_001, "gateway": "paystack"}, 400, "AMOUNT_OUT_OF_RANGE"),
        ({"amount": "5000", "gateway": "paystack"}, 400, "INVALID_AMOUNT"),
        ({"amount": 5000.5, "gateway": "paystack"}, 400, "INVALID_AMOUNT"),
        ({"amount": 500_000, "gateway": "bitcoin"}, 404, "UNKNOWN_GATEWAY"),
        ({"amount": 500_000, "gateway": "chapa"}, 403, "GATEWAY_DISABLED"),  # ETB: off for naira wallets
        ({"amount": 500_000, "gateway": "mercadopago"}, 403, "GATEWAY_DISABLED"),
        ({"amount": 500_000, "gateway": "sandbox"}, 403, "GATEWAY_DISABLED"),  # DEBUG off
        ({"amount": 500_000}, 400, "VALIDATION_ERROR"),
    ],
)
def test_bad_fund_requests_are_refused_and_write_nothing(user_client, http, payload, status, code):
    before = snapshot()
    response = user_client.post("/api/v1/wallet/fund", payload, format="json")
    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code
    assert not Deposit.objects.exists()
    assert snapshot() == before
    assert len(http.calls) == 0


def test_a_gateway_without_credentials_is_disabled(user_client, settings, http):
    settings.PAYMENT_GATEWAYS["stripe"]["ENABLED"] = False
    response = user_client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "stripe"}, format="json")
    assert response.status_code == 403 and response.json()["error_code"] == "GATEWAY_DISABLED"


def test_a_gateway_timeout_on_checkout_is_502_and_leaves_the_deposit_for_the_sweep(user_client, http):
    http.add(responses.POST, INIT_URL, body=requests.ConnectTimeout())
    response = user_client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json")
    assert response.status_code == 502
    assert response.json()["error_code"] == "GATEWAY_ERROR"
    deposit = Deposit.objects.get()
    assert deposit.status == "initialized" and "checkout failed" in deposit.status_reason
    assert not Journal.objects.exists()


def test_an_api_key_needs_the_deposit_scope(user, http):
    from accounts.api_keys import api_key_create

    initialize_ok(http)
    read_only = api_key_create(user=user, name="read", scopes=["read"]).plaintext
    deposit_key = api_key_create(user=user, name="dep", scopes=["deposit"]).plaintext
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=read_only)
    refused = client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="k1")
    assert refused.status_code == 403 and refused.json()["error_code"] == "INSUFFICIENT_SCOPE"
    client.credentials(HTTP_X_API_KEY=deposit_key)
    no_key = client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json")
    assert no_key.json()["error_code"] == "IDEMPOTENCY_KEY_REQUIRED"
    ok = client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k2")
    assert ok.status_code == 201
    assert Deposit.objects.count() == 1


# --- status ---------------------------------------------------------------------------------------------


def test_status_asks_the_gateway_while_pending_and_credits_once(user_client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)
    verify = http.add(method, url, json=answer)

    first = user_client.get(f"/api/v1/wallet/fund/{deposit.reference}")
    second = user_client.get(f"/api/v1/wallet/fund/{deposit.reference}")

    assert first.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "successful"
    assert first.json()["credited"] == 500_000
    assert verify.call_count == 1  # successful: not asked again
    assert wallet_for(user).balance_kobo == 500_000
    assert_ledger_invariants()


def test_status_of_someone_elses_deposit_is_404(user_client, make_deposit):
    from accounts.tests.factories import UserFactory

    other = make_deposit(UserFactory(), "paystack")
    response = user_client.get(f"/api/v1/wallet/fund/{other.reference}")
    assert response.status_code == 404 and response.json()["error_code"] == "NOT_FOUND"


def test_status_survives_a_gateway_outage(user_client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    method, url, _ = verify_answer("paystack", deposit.reference)
    http.add(method, url, status=503, json={})
    response = user_client.get(f"/api/v1/wallet/fund/{deposit.reference}")
    assert response.status_code == 200 and response.json()["status"] == "initialized"


# --- virtual accounts -------------------------------------------------------------------------------------


def test_monnify_reserved_accounts_need_an_identity_number_which_is_never_stored(user_client, user, http, caplog):
    call = http.add(responses.POST, f"{BASE_URLS['monnify']}/api/v2/bank-transfer/reserved-accounts",
                    json=fixture("monnify", "reserved_account"))
    missing = user_client.post("/api/v1/wallet/virtual-accounts", {"gateway": "monnify"}, format="json")
    assert missing.status_code == 400 and missing.json()["error_code"] == "INVALID_ID_NUMBER"
    short = user_client.post("/api/v1/wallet/virtual-accounts",
                             {"gateway": "monnify", "id_type": "bvn", "id_number": "1234"}, format="json")
    assert short.json()["error_code"] == "INVALID_ID_NUMBER"
    assert call.call_count == 0

    response = user_client.post("/api/v1/wallet/virtual-accounts",
                                {"gateway": "monnify", "id_type": "bvn", "id_number": "22212345678"}, format="json")

    assert response.status_code == 201, response.content
    assert sorted(a["account_number"] for a in response.json()["accounts"]) == ["5000218391", "6000140770"]
    assert json.loads(call.calls[0].request.body)["bvn"] == "22212345678"
    request = VirtualAccountRequest.objects.get()
    assert (request.id_type, request.id_last4) == ("bvn", "5678")
    assert "22212345678" not in response.content.decode()
    assert "22212345678" not in caplog.text
    assert not AuditLog.objects.filter(changes__icontains="22212345678").exists()
    listed = user_client.get("/api/v1/wallet/virtual-accounts").json()
    assert (listed["count"], len(listed["results"]), listed["next"]) == (2, 2, None)
    again = user_client.post("/api/v1/wallet/virtual-accounts",
                             {"gateway": "monnify", "id_type": "bvn", "id_number": "22212345678"}, format="json")
    assert again.status_code == 409 and again.json()["error_code"] == "ALREADY_EXISTS"


def test_paystack_dedicated_account_is_assigned_by_webhook(user_client, client, user, http):
    from payments.tests.conftest import post_webhook
    from payments.tests.helpers import body_of, sign

    http.add(responses.POST, f"{BASE_URLS['paystack']}/dedicated_account/assign",
             json={"status": True, "message": "Assign dedicated account in progress"})
    response = user_client.post("/api/v1/wallet/virtual-accounts", {"gateway": "paystack"}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert not VirtualAccount.objects.exists()

    payload = fixture("paystack", "dva_assign_success")
    payload["data"]["customer"]["email"] = user.email
    body = body_of(payload)
    assert post_webhook(client, "paystack", body, sign("paystack", body)).status_code == 200

    account = VirtualAccount.objects.get()
    assert (account.user_id, account.account_number, account.customer_reference) == (
        user.pk, "9930000737", "CUS_dk7bs9mj8ygrtid")
    assert VirtualAccountRequest.objects.get().status == "assigned"


def test_the_list_of_accounts_is_paginated(user_client, user):
    for number in range(3):
        VirtualAccount.objects.create(user=user, gateway="monnify", bank_name=f"Bank {number}",
                                      account_number=f"600014077{number}")
    first = user_client.get("/api/v1/wallet/virtual-accounts", {"page_size": 2}).json()
    assert (first["count"], len(first["results"])) == (3, 2) and first["next"]
    second = user_client.get(first["next"]).json()
    assert [a["bank_name"] for a in first["results"] + second["results"]] == ["Bank 0", "Bank 1", "Bank 2"]


def test_virtual_accounts_are_refused_where_the_gateway_has_none(user_client, http):
    response = user_client.post("/api/v1/wallet/virtual-accounts", {"gateway": "stripe"}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"
    assert not VirtualAccountRequest.objects.exists()


def test_monnify_login_is_used_for_reserved_accounts(user_client, http):
    call = http.add(responses.POST, f"{BASE_URLS['monnify']}/api/v2/bank-transfer/reserved-accounts",
                    json=fixture("monnify", "reserved_account"))
    user_client.post("/api/v1/wallet/virtual-accounts",
                     {"gateway": "monnify", "id_type": "nin", "id_number": "12345678901"}, format="json")
    assert call.calls[0].request.headers["Authorization"].startswith("Bearer ")
    assert any(c.request.url == MONNIFY_LOGIN_URL for c in http.calls)


def test_openapi_schema_documents_the_funding_operations(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/wallet/fund", "/api/v1/wallet/fund/{reference}", "/api/v1/wallet/virtual-accounts"):
        assert path in schema["paths"], path
    listing = schema["paths"]["/api/v1/wallet/virtual-accounts"]["get"]["responses"]["200"]
    ref = listing["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {"count", "next", "previous", "results"}


def test_a_checkout_over_the_tiers_maximum_balance_is_refused(user_client, user, http, settings):
    from wallets.tests.factories import fund_wallet

    fund_wallet(user, 29_000_000)  # tier 0 maximum balance: 30,000,000 kobo
    before = snapshot()
    response = user_client.post("/api/v1/wallet/fund", {"amount": 1_000_001, "gateway": "paystack"}, format="json")
    assert response.status_code == 403
    assert response.json()["error_code"] == "LIMIT_EXCEEDED"
    assert response.json()["errors"]["limit"] == "max_balance"
    assert not Deposit.objects.exists() and snapshot() == before and len(http.calls) == 0
    initialize_ok(http)
    assert user_client.post("/api/v1/wallet/fund", {"amount": 1_000_000, "gateway": "paystack"},
                            format="json").status_code == 201
