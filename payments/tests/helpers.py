"""Shared test helpers: gateway settings with test secrets, fixtures, correctly signed deliveries.

Signatures are computed from the test secrets with each gateway's documented algorithm;
Stripe's with the official library (stripe.WebhookSignature.generate_signature_header).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import stripe

FIXTURES = Path(__file__).parent / "fixtures"

SECRETS = {
    "paystack": "sk_test_paystacksecret0001",
    "flutterwave": "flw-secret-hash-0001",
    "monnify": "monnify-client-secret-0001",
    "stripe": "whsec_teststripesecret0001",
    "chapa": "chapa-secret-hash-0001",
    "mercadopago": "mp-secret-signature-0001",
    "sandbox": "sandbox-test-secret",
}
BASE_URLS = {
    "paystack": "https://api.paystack.co",
    "flutterwave": "https://api.flutterwave.com/v3",
    "monnify": "https://sandbox.monnify.com",
    "stripe": "https://api.stripe.com/v1",
    "chapa": "https://api.chapa.co/v1",
    "mercadopago": "https://api.mercadopago.com",
    "sandbox": "http://testserver",
}
CURRENCIES = {"chapa": "ETB", "mercadopago": "BRL"}
NGN_GATEWAYS = ("paystack", "flutterwave", "monnify", "stripe")
ALL_REAL = (*NGN_GATEWAYS, "chapa", "mercadopago")


def gateway_settings(fee_bearer: str = "platform", enabled_foreign: bool = False, **overrides: Any) -> dict:
    """PAYMENT_GATEWAYS for tests: every gateway configured with test credentials. Chapa and
    Mercado Pago keep their own currency (so they stay disabled for a naira wallet) unless a
    test runs with that wallet currency."""
    result = {}
    for name, base_url in BASE_URLS.items():
        currency = CURRENCIES.get(name, "NGN")
        entry = {
            "NAME": name, "BASE_URL": base_url, "CURRENCY": currency, "FEE_BEARER": fee_bearer, "MODE": "test",
            "TIMEOUT_SECONDS": 5.0, "SANDBOX": name == "sandbox", "WEBHOOK_SECRET": SECRETS[name],
            "SECRET_KEY": SECRETS[name] if name == "paystack" else f"{name}-api-secret",
            "API_KEY": "MK_TEST_APIKEY0001", "CONTRACT_CODE": "7059707855", "ACCESS_TOKEN": "TEST-mp-access-token",
            "REQUIRED": ["WEBHOOK_SECRET"], "ENABLED": currency == "NGN" or enabled_foreign,
        }
        entry.update(overrides.get(name, {}))
        result[name] = entry
    return result


def _replace(value: Any, replacements: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, replacements) for v in value]
    if isinstance(value, str) and value in replacements:
        return replacements[value]
    return value


def fixture(gateway: str, name: str, **replacements: Any) -> dict:
    """A documented payload; string values equal to a key of `replacements` are replaced
    (e.g. REF="DEP-..."). The `_source` key (the citation) stays: gateways add fields too."""
    data = json.loads((FIXTURES / gateway / f"{name}.json").read_text())
    return _replace(copy.deepcopy(data), replacements)


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(gateway: str, body: bytes, *, secret: str | None = None, query: dict | None = None,
         timestamp: int | None = None, legacy: bool = False) -> dict[str, str]:
    """Headers a genuine delivery of `body` carries, as the gateway documents them."""
    secret = secret or SECRETS[gateway]
    if gateway == "paystack":
        return {"x-paystack-signature": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()}
    if gateway == "monnify":
        return {"monnify-signature": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()}
    if gateway == "flutterwave":
        if legacy:
            return {"verif-hash": secret}
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        return {"flutterwave-signature": base64.b64encode(digest).decode()}
    if gateway == "stripe":
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode(), secret, timestamp=timestamp or int(time.time())
        )
        return {"stripe-signature": header}
    if gateway == "chapa":
        if legacy:
            return {"chapa-signature": hmac.new(secret.encode(), secret.encode(), hashlib.sha256).hexdigest()}
        return {"x-chapa-signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    if gateway == "mercadopago":
        ts = str(timestamp or int(time.time() * 1000))
        request_id = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e"
        data_id = (query or {}).get("data.id", "")
        manifest = (f"id:{data_id.lower() if data_id.isalnum() else data_id};" if data_id else "")
        manifest += f"request-id:{request_id};ts:{ts};"
        v1 = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
        return {"x-signature": f"ts={ts},v1={v1}", "x-request-id": request_id}
    if gateway == "sandbox":
        return {"x-sandbox-signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    raise ValueError(gateway)


def funding_event(gateway: str, reference: str, *, amount_kobo: int = 500_000, txn_id: str = "") -> tuple[dict, dict]:
    """(payload, query) of a successful-funding webhook for `reference` on `gateway`."""
    naira = amount_kobo / 100
    if gateway == "paystack":
        payload = fixture("paystack", "charge_success", REF=reference)
        payload["data"]["amount"] = amount_kobo
        if txn_id:
            payload["data"]["id"] = int(txn_id)
        return payload, {}
    if gateway == "flutterwave":
        payload = fixture("flutterwave", "charge_completed", REF=reference)
        payload["data"]["amount"] = payload["data"]["charged_amount"] = naira
        return payload, {}
    if gateway == "monnify":
        payload = fixture("monnify", "successful_transaction", REF=reference)
        payload["eventData"]["amountPaid"] = payload["eventData"]["totalPayable"] = naira
        return payload, {}
    if gateway == "stripe":
        payload = fixture("stripe", "checkout_session_completed", REF=reference)
        payload["data"]["object"]["amount_total"] = amount_kobo
        return payload, {}
    if gateway == "chapa":
        payload = fixture("chapa", "charge_success", REF=reference)
        payload["amount"] = f"{naira:.2f}"
        return payload, {}
    if gateway == "mercadopago":
        return fixture("mercadopago", "payment_notification"), {"data.id": "999999999", "type": "payment"}
    if gateway == "sandbox":
        return {"id": "evt_test", "event": "charge.success",
                "data": {"id": "sbx_1", "reference": reference, "amount": amount_kobo, "currency": "NGN"}}, {}
    raise ValueError(gateway)


def verify_answer(gateway: str, reference: str, *, amount_kobo: int = 500_000, status: str = "success",
                  currency: str | None = None) -> tuple[str, str, dict]:
    """(method, url, JSON body) of the gateway's verify API saying `status` for `reference`."""
    naira = f"{amount_kobo / 100:.2f}"
    base = BASE_URLS[gateway]
    if gateway == "paystack":
        body = fixture("paystack", "verify_success", REF=reference)
        body["data"].update(amount=amount_kobo, status=status, currency=currency or "NGN")
        return "GET", f"{base}/transaction/verify/{reference}", body
    if gateway == "flutterwave":
        body = fixture("flutterwave", "verify_success", REF=reference)
        body["data"].update(amount=float(naira), currency=currency or "NGN",
                            status={"success": "successful"}.get(status, status))
        return "GET", f"{base}/transactions/285959875/verify", body
    if gateway == "monnify":
        body = fixture("monnify", "verify_paid", REF=reference)
        body["responseBody"].update(amountPaid=naira, totalPayable=naira, settlementAmount=naira,
                                    currencyCode=currency or "NGN",
                                    paymentStatus={"success": "PAID"}.get(status, status.upper()))
        return "GET", f"{base}/api/v2/transactions/MNFY%7C20%7C20261006%7C000123", body
    if gateway == "stripe":
        body = fixture("stripe", "session_paid", REF=reference)
        body.update(amount_total=amount_kobo, currency=(currency or "NGN").lower(),
                    payment_status={"success": "paid"}.get(status, status))
        return "GET", f"{base}/checkout/sessions/cs_test_a1B2c3", body
    if gateway == "chapa":
        body = fixture("chapa", "verify_success", REF=reference)
        body["data"].update(amount=naira, status=status, currency=currency or "ETB")
        return "GET", f"{base}/transaction/verify/{reference}", body
    if gateway == "mercadopago":
        body = fixture("mercadopago", "payment_approved", REF=reference)
        body.update(transaction_amount=naira, currency_id=currency or "BRL",
                    status={"success": "approved"}.get(status, status))
        return "GET", f"{base}/v1/payments/999999999", body
    raise ValueError(gateway)


MONNIFY_LOGIN_URL = f"{BASE_URLS['monnify']}/api/v1/auth/login"
