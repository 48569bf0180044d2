"""The world the OpenAPI fuzz runs in (tests/hostile/test_openapi_fuzz.py): three identities,
the objects they own, one known-good request per operation, and who must reach a 2xx.

- Identities: a customer (JWT; KYC tier 1, PIN, ₦50,000), a reseller (API key with every
  scope; tier 3) and staff (superuser JWT; tier 0, PIN, ₦50,000: staff are users too). Each
  owns a purchase, a deposit, an API key, a callback endpoint with a delivery and (below tier
  3) a rejected KYC submission; a second staff member has requested an adjustment on the
  customer's wallet that waits for approval.
- `known_good(operation_id, world)`: a request that must succeed for an identity allowed to
  make it (real ids, valid bodies, fresh tokens); run once per pair before the fuzz.
- `expected_2xx(operation_id, identity)`: who is allowed. Staff: everything. Customer:
  everything but the staff API. Reseller key: reads, the scoped writes (purchase, transfer,
  deposit) and the open endpoints; never the staff API or the JWT-only writes (keys,
  callbacks, profile, PIN, password, KYC), which refuse API keys by design.
- `gateway_http()`: Paystack (the one enabled gateway here) through `responses` in its wire
  format; `public_dns()`: callback URLs resolve to a public address (the connection itself
  is still refused by the suite's closed network).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from accounts.tests.factories import PASSWORD, PIN

NEW_PASSWORD = "Fuzz-new-pass-8261"
GOOGLE_CLIENT_ID = "fuzz-client.apps.googleusercontent.com"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
ADMIN_EXTRA = {"POST /api/v1/data/sync"}  # staff-only outside /admin/
OPEN = {f"POST /api/v1/auth/{name}" for name in (
    "forgot-password", "google", "login", "refresh", "register", "resend-verification", "reset-password",
    "verify-email")}
API_KEY_WRITES = {"POST /api/v1/data/purchase", "POST /api/v1/airtime/purchase", "POST /api/v1/wallet/transfer",
                  "POST /api/v1/wallet/fund", "POST /api/v1/wallet/virtual-accounts",
                  "POST /api/v1/purchases/{reference}/dispute"}


def is_staff_api(operation_id: str) -> bool:
    return operation_id.split(" ", 1)[1].startswith("/api/v1/admin/") or operation_id in ADMIN_EXTRA


def expected_2xx(operation_id: str, identity: str) -> bool:
    if identity == "staff":
        return True
    if identity == "customer":
        return not is_staff_api(operation_id)
    return not is_staff_api(operation_id) and (
        operation_id.startswith("GET ") or operation_id in OPEN or operation_id in API_KEY_WRITES)


@dataclass
class World:
    name: str  # the acting identity
    user: Any
    headers: dict[str, str]
    customer: Any
    other_wallet_number: str
    customer_wallet_number: str
    owned: dict[str, Any] = field(default_factory=dict)  # purchase, deposit, key, endpoint, delivery, kyc
    adjustment_id: int = 0


def _jwt(user: Any) -> str:
    from accounts.services import tokens_for

    return tokens_for(user)["access"]  # as the login issues it (staff: a staff session)


def _owned(user: Any) -> dict[str, Any]:
    from django.utils import timezone

    from accounts import callback_signing
    from accounts.api_keys import api_key_create
    from accounts.models import CallbackDelivery, CallbackEndpoint
    from payments.models import Deposit
    from payments.services import new_reference
    from vtu.services.purchases import PurchaseRequest, purchase_create
    from vtu.tests.conftest import MTN_NUMBER, PLAN

    purchase, _ = purchase_create(user=user, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER,
                                                                     plan_code=PLAN))
    deposit = Deposit.objects.create(user=user, gateway="paystack", amount_kobo=500_000, currency="NGN",
                                     reference=new_reference())
    key = api_key_create(user=user, name="fuzz-owned", scopes=["read"])
    secret = callback_signing.secret_generate()
    endpoint = CallbackEndpoint.objects.create(
        user=user, url="https://hooks.example.com/vtu", events=["purchase.successful"],
        secret_encrypted=callback_signing.secret_encrypt(secret), secret_hint=callback_signing.secret_hint(secret),
    )
    delivery = CallbackDelivery.objects.create(endpoint=endpoint, event_id="purchase.successful:FUZZ",
                                               event_type="purchase.successful", body="{}",
                                               status="succeeded", delivered_at=timezone.now())
    return {"purchase": purchase, "deposit": deposit, "key": key.api_key, "endpoint": endpoint,
            "delivery": delivery, "kyc": _rejected_kyc(user)}


def _rejected_kyc(user: Any) -> Any:
    """A rejected submission the user may resubmit (none on the top tier: nothing to ask for)."""
    if user.kyc_tier >= 3:
        return None
    from accounts import kyc
    from accounts.tests.factories import StaffFactory
    from audit.services import Actor

    submitted = kyc.kyc_submit(user=user, id_type="bvn", id_number="22212345678",
                               date_of_birth=dt.date(1990, 1, 1), tier=user.kyc_tier + 1)
    return kyc.kyc_reject(staff=Actor.for_user(StaffFactory(is_superuser=True)), submission_id=submitted.pk,
                          reason="fuzz: blurred")


def build_world(name: str) -> World:
    from accounts.api_keys import api_key_create
    from accounts.models import User
    from accounts.tests.factories import StaffFactory, UserFactory
    from audit.services import Actor
    from wallets.services import adjustment_request, wallet_get_or_create
    from wallets.tests.factories import fund_wallet

    customer = UserFactory(kyc_tier=1, pin=PIN)
    fund_wallet(customer, 5_000_000)
    wallet = wallet_get_or_create(user_id=customer.pk)
    other_wallet = wallet_get_or_create(user_id=UserFactory(kyc_tier=2).pk)
    pending = adjustment_request(staff=Actor.for_user(StaffFactory(is_superuser=True)), account_id=wallet.pk,
                                 direction="credit", amount_kobo=6_000_000,  # above the approval threshold
                                 reason="fuzz: waits for approval")
    if name == "customer":
        user, headers = customer, {"Authorization": f"Bearer {_jwt(customer)}"}
    elif name == "reseller":
        user = UserFactory(kyc_tier=3, role=User.Role.RESELLER, pin=PIN)
        fund_wallet(user, 50_000_000)
        issued = api_key_create(user=user, name="fuzz", scopes=["read", "purchase", "transfer", "deposit"])
        headers = {"X-API-Key": issued.plaintext}
    else:
        user = StaffFactory(is_superuser=True, kyc_tier=0, pin=PIN)
        fund_wallet(user, 5_000_000)
        headers = {"Authorization": f"Bearer {_jwt(user)}"}
    return World(name=name, user=user, headers=headers, customer=customer, owned=_owned(user),
                 other_wallet_number=other_wallet.number, customer_wallet_number=wallet.number,
                 adjustment_id=pending.pk)


# --- the known-good request of each operation ---------------------------------------------------


def _number() -> str:
    return "0803" + str(int.from_bytes(os.urandom(3), "big") % 10**6).zfill(6) + "8"


def _refresh(world: World) -> str:
    from accounts.services import tokens_for

    return tokens_for(world.user)["refresh"]


def _unverified_token(world: World) -> str:
    from accounts import tokens
    from accounts.tests.factories import UserFactory

    return tokens.email_verification_token(UserFactory(email_verified_at=None))


def _reset_token(world: World) -> str:
    from accounts import tokens

    return tokens.password_reset_token(world.user)


REASON = {"reason": "fuzz: staff action on a fresh fixture"}
KYC_BODY = {"id_type": "bvn", "id_number": "22212345678", "date_of_birth": "1990-01-01"}
Known = Callable[[World], dict[str, Any]]
KNOWN_GOOD: dict[str, Known] = {
    "POST /api/v1/admin/adjustments/{adjustment_id}/approve": lambda w: {
        "path_parameters": {"adjustment_id": w.adjustment_id}},
    "POST /api/v1/admin/adjustments/{adjustment_id}/reject": lambda w: {
        "path_parameters": {"adjustment_id": w.adjustment_id}, "body": REASON},
    "GET /api/v1/admin/analytics": lambda w: {},
    "GET /api/v1/admin/pricing": lambda w: {},
    "POST /api/v1/admin/pricing": lambda w: {"body": {
        "kind": "data", "network": "MTN", "plan_type": "sme", "audience": "reseller", "method": "percent",
        "rate_bps": 350, "label": "fuzz", "reason": "fuzz: a new rule"}},
    "POST /api/v1/admin/debit-wallet": lambda w: {"body": {"wallet": w.customer_wallet_number, "amount": 10_000,
                                                           **REASON}},
    "POST /api/v1/admin/fund-wallet": lambda w: {"body": {"wallet": w.customer_wallet_number, "amount": 10_000,
                                                          **REASON}},
    "POST /api/v1/admin/users/{user_id}/activate": lambda w: {"path_parameters": {"user_id": w.customer.pk},
                                                              "body": REASON},
    "POST /api/v1/admin/users/{user_id}/suspend": lambda w: {"path_parameters": {"user_id": w.customer.pk},
                                                             "body": REASON},
    "POST /api/v1/admin/wallets/{number}/freeze": lambda w: {"path_parameters": {"number": w.customer_wallet_number},
                                                             "body": REASON},
    "POST /api/v1/admin/wallets/{number}/unfreeze": lambda w: {
        "path_parameters": {"number": w.customer_wallet_number}, "body": REASON},
    "POST /api/v1/data/sync": lambda w: {"body": {}},
    "POST /api/v1/airtime/purchase": lambda w: {"body": {
        "network": "MTN", "phone_number": _number(), "amount": 10_000, "pin": PIN, "confirm_duplicate": True}},
    "POST /api/v1/data/purchase": lambda w: {"body": {
        "plan_code": "MTN_1GB_30D", "phone_number": _number(), "pin": PIN, "confirm_duplicate": True}},
    "GET /api/v1/data/plans": lambda w: {"query": {"network": "MTN"}},
    "POST /api/v1/auth/change-password": lambda w: {"body": {"current_password": PASSWORD,
                                                             "new_password": NEW_PASSWORD}},
    "POST /api/v1/auth/forgot-password": lambda w: {"body": {"email": w.user.email}},
    "POST /api/v1/auth/google": lambda w: {"body": {"id_token": google_token(f"g-{os.urandom(4).hex()}@example.com")}},
    "POST /api/v1/auth/login": lambda w: {"body": {"email": w.user.email, "password": PASSWORD}},
    "POST /api/v1/auth/logout": lambda w: {"body": {"refresh": _refresh(w)}},
    "POST /api/v1/auth/refresh": lambda w: {"body": {"refresh": _refresh(w)}},
    "POST /api/v1/auth/register": lambda w: {"body": {"email": f"new-{os.urandom(4).hex()}@example.com",
                                                      "password": NEW_PASSWORD}},
    "POST /api/v1/auth/resend-verification": lambda w: {"body": {"email": w.user.email}},
    "POST /api/v1/auth/reset-password": lambda w: {"body": {"token": _reset_token(w), "new_password": NEW_PASSWORD}},
    "POST /api/v1/auth/verify-email": lambda w: {"body": {"token": _unverified_token(w)}},
    "PATCH /api/v1/auth/me": lambda w: {"body": {"first_name": "Fuzz"}},
    "POST /api/v1/auth/pin": lambda w: {"body": {"pin": "4321", "current_pin": PIN}},
    "POST /api/v1/keys": lambda w: {"body": {"name": "fuzz-known", "scopes": ["read"]}},
    "POST /api/v1/keys/rollover": lambda w: {"body": {"key_id": w.owned["key"].pk}},
    "POST /api/v1/keys/{key_id}/revoke": lambda w: {"path_parameters": {"key_id": w.owned["key"].pk}},
    "POST /api/v1/kyc/submit": lambda w: {"body": {**KYC_BODY, "tier": min(w.user.kyc_tier + 1, 2)},
                                          "media_type": "application/json"},
    "POST /api/v1/kyc/resubmit/{submission_id}": lambda w: {
        "path_parameters": {"submission_id": w.owned["kyc"].pk if w.owned["kyc"] else 1},
        "body": {**KYC_BODY, "tier": min(w.user.kyc_tier + 1, 2)}, "media_type": "application/json"},
    "GET /api/v1/purchases/{reference}": lambda w: {"path_parameters": {"reference": w.owned["purchase"].reference}},
    "POST /api/v1/purchases/{reference}/dispute": lambda w: {
        "path_parameters": {"reference": w.owned["purchase"].reference}, "body": {"reason": "fuzz: never arrived"}},
    "POST /api/v1/wallet/fund": lambda w: {"body": {"amount": 500_000, "gateway": "paystack"}},
    "GET /api/v1/wallet/fund/{reference}": lambda w: {"path_parameters": {"reference": w.owned["deposit"].reference}},
    "POST /api/v1/wallet/transfer": lambda w: {"body": {
        "recipient": w.other_wallet_number, "amount": 100, "pin": PIN, "narration": "fuzz"}},
    "POST /api/v1/wallet/virtual-accounts": lambda w: {"body": {"gateway": "paystack"}},
    "POST /api/v1/webhooks": lambda w: {"body": {"url": "https://hooks.example.com/known",
                                                 "events": ["purchase.successful"]}},
    "DELETE /api/v1/webhooks/{endpoint_id}": lambda w: {"path_parameters": {"endpoint_id": w.owned["endpoint"].pk}},
    "GET /api/v1/webhooks/{endpoint_id}/deliveries": lambda w: {
        "path_parameters": {"endpoint_id": w.owned["endpoint"].pk}},
    "POST /api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend": lambda w: {
        "path_parameters": {"endpoint_id": w.owned["endpoint"].pk, "delivery_id": w.owned["delivery"].pk}},
}


def known_good(operation_id: str, world: World) -> dict[str, Any]:
    """Case(...) arguments of the operation's known-good request ({} for a plain GET)."""
    make = KNOWN_GOOD.get(operation_id)
    return make(world) if make is not None else {}


# --- the outside world -----------------------------------------------------------------------------


@cache
def _google_key() -> tuple[Any, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz google")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


def google_token(email: str) -> str:
    """An ID token as Google signs it (RS256, our own key served at the certs URL)."""
    import jwt
    from cryptography.hazmat.primitives import serialization

    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": GOOGLE_CLIENT_ID, "sub": f"sub-{email}", "email": email,
              "email_verified": True, "iat": now, "exp": now + 600}
    pem = _google_key()[0].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "fuzz-kid"})


@contextmanager
def outside_world(settings: Any, monkeypatch: Any) -> Iterator[None]:
    """Paystack enabled (the others off: a fuzzed gateway name gets its documented 404), its
    API answered through `responses`; Google's certs; callback hosts resolve publicly."""
    import json

    import responses

    from accounts import callback_http
    from payments.tests.helpers import BASE_URLS, fixture, gateway_settings

    configs = gateway_settings()
    for name, config in configs.items():
        config["ENABLED"] = name == "paystack"
    settings.PAYMENT_GATEWAYS = configs
    settings.GOOGLE_OAUTH_CLIENT_IDS = [GOOGLE_CLIENT_ID]
    settings.GOOGLE_CERTS_URL = GOOGLE_CERTS_URL
    monkeypatch.setattr(callback_http, "resolve", lambda host, port: ["93.184.215.14"])
    paystack = BASE_URLS["paystack"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.POST, f"{paystack}/transaction/initialize", callback=lambda request: (
            200, {}, json.dumps(fixture("paystack", "initialize", REF=json.loads(request.body)["reference"]))))
        http.add(responses.POST, f"{paystack}/dedicated_account/assign",
                 json={"status": True, "message": "Assign dedicated account in progress"})
        http.add(responses.GET, GOOGLE_CERTS_URL, json={"fuzz-kid": _google_key()[1]})
        yield
