"""Schemathesis against the project's own OpenAPI schema, for every operation, as a customer
(JWT), a reseller (API key with every scope) and staff (superuser JWT).

Each (operation, identity) pair is its own test, so every one starts from fresh fixtures:
a destructive staff operation (suspend, freeze, debit, approve) never leaks into the next
pair. Generated requests go through the real WSGI application (middleware, DRF, services,
PostgreSQL). Path parameters are sometimes swapped for ids of real objects the identity
owns (a purchase, a deposit, an API key, a callback endpoint, a pending adjustment, a
wallet), so the happy paths are reached as well as the 404s.

Checks on every response: no 5xx; the status is one the schema documents; the body matches
the documented schema for that status. Afterwards `test_operations_reaching_2xx` asserts a
floor on how many operations answered 2xx for some identity (a run that only collects
401s proves nothing) and writes the per-operation report to $HOSTILE_REPORT
(default /tmp/hostile-openapi-report.json).

Short in `make test` (HOSTILE_EXAMPLES, default 6 per pair); `make hostile` runs 100.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.tests.factories import PIN
from vtu.tests.conftest import _no_catalogue_cache, catalogue, world  # noqa: F401 - fixtures
from wallets.invariants import assert_ledger_invariants

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "6"))
SEED = int(os.environ.get("HOSTILE_SEED", "20261123"))
REPORT = os.environ.get("HOSTILE_REPORT", "/tmp/hostile-openapi-report.json")
IDENTITIES = ("customer", "reseller", "staff")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Floor for "operations that answered 2xx for at least one identity", out of all of them.
MIN_2XX_SHARE = 0.6

_schema = None
RESULTS: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))


def load_schema():
    """Loaded once, from the running application's /api/schema/ (what clients see)."""
    global _schema
    if _schema is None:
        from config.wsgi import application

        _schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    return _schema


def operation_ids() -> list[str]:
    """Read without the database: the schema generator over the URLconf (same as /api/schema/)."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted(f"{method.upper()} {path}" for path, ops in paths.items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete"))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes 'old' connections at request start/end; inside a test that
    would close the test's own transaction (Django's test client disconnects it the same way)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@dataclass
class Identity:
    name: str
    headers: dict[str, str]
    real_params: dict[str, dict[str, str]] = field(default_factory=dict)  # path -> {param: value}
    real_bodies: dict[str, dict] = field(default_factory=dict)  # path -> a valid body for this identity


def _jwt(user) -> str:
    from accounts.services import tokens_for

    return tokens_for(user)["access"]  # as the login issues it (staff: a staff session)


def _owned_objects(user, path_params: dict[str, dict[str, str]]) -> None:
    """A purchase, a deposit, an API key, a callback endpoint with a delivery: real ids."""
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
    path_params.update({
        "/api/v1/purchases/{reference}": {"reference": purchase.reference},
        "/api/v1/wallet/fund/{reference}": {"reference": deposit.reference},
        "/api/v1/keys/{key_id}/revoke": {"key_id": str(key.api_key.pk)},
        "/api/v1/webhooks/{endpoint_id}": {"endpoint_id": str(endpoint.pk)},
        "/api/v1/webhooks/{endpoint_id}/deliveries": {"endpoint_id": str(endpoint.pk)},
        "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend": {
            "endpoint_id": str(endpoint.pk), "delivery_id": str(delivery.pk)},
    })


def _valid_bodies(user, recipient_number: str) -> dict[str, dict]:
    """Valid requests for this user (the PIN where a JWT needs it; a fresh number so the
    duplicate guard stays out of the way): the fuzz reaches the services and moves money, not
    only the validators."""
    from accounts.tests.factories import PASSWORD

    number = "0803" + str(int.from_bytes(os.urandom(3), "big") % 10**6).zfill(6) + "8"
    return {
        "/api/v1/data/purchase": {"plan_code": "MTN_1GB_30D", "phone_number": number, "pin": PIN,
                                  "confirm_duplicate": True},
        "/api/v1/airtime/purchase": {"network": "MTN", "phone_number": number, "amount": 10_000, "pin": PIN,
                                     "confirm_duplicate": True},
        "/api/v1/wallet/transfer": {"recipient": recipient_number, "amount": 100, "pin": PIN, "narration": "fuzz"},
        "/api/v1/auth/login": {"email": user.email, "password": PASSWORD},
        "/api/v1/auth/pin": {"pin": "4321", "current_pin": PIN},
    }


def build_identity(name: str) -> Identity:
    from accounts.api_keys import api_key_create
    from accounts.models import User
    from accounts.tests.factories import StaffFactory, UserFactory
    from audit.services import Actor
    from wallets.services import adjustment_request, wallet_get_or_create
    from wallets.tests.factories import fund_wallet

    customer = UserFactory(kyc_tier=2, pin=PIN)
    fund_wallet(customer, 5_000_000)
    wallet = wallet_get_or_create(user_id=customer.pk)
    other = UserFactory(kyc_tier=2)
    other_wallet = wallet_get_or_create(user_id=other.pk)
    identity = Identity(name=name, headers={})
    if name == "customer":
        identity.headers = {"Authorization": f"Bearer {_jwt(customer)}"}
        _owned_objects(customer, identity.real_params)
        identity.real_bodies = _valid_bodies(customer, other_wallet.number)
    elif name == "reseller":
        reseller = UserFactory(kyc_tier=3, role=User.Role.RESELLER)
        fund_wallet(reseller, 50_000_000)
        issued = api_key_create(user=reseller, name="fuzz", scopes=["read", "purchase", "transfer", "deposit"])
        identity.headers = {"X-API-Key": issued.plaintext}
        _owned_objects(reseller, identity.real_params)
        identity.real_bodies = _valid_bodies(reseller, other_wallet.number)
    else:
        staff = StaffFactory(is_superuser=True)
        identity.headers = {"Authorization": f"Bearer {_jwt(staff)}"}
        pending = adjustment_request(staff=Actor.for_user(StaffFactory(is_superuser=True)), account_id=wallet.pk,
                                     direction="credit", amount_kobo=10**9, reason="fuzz: waits for approval")
        identity.real_params.update({
            "/api/v1/admin/adjustments/{adjustment_id}/approve": {"adjustment_id": str(pending.pk)},
            "/api/v1/admin/adjustments/{adjustment_id}/reject": {"adjustment_id": str(pending.pk)},
            "/api/v1/admin/users/{user_id}/activate": {"user_id": str(customer.pk)},
            "/api/v1/admin/users/{user_id}/suspend": {"user_id": str(customer.pk)},
            "/api/v1/admin/wallets/{number}/freeze": {"number": wallet.number},
            "/api/v1/admin/wallets/{number}/unfreeze": {"number": wallet.number},
        })
        reason = {"reason": "fuzz: staff action on a fresh fixture"}
        identity.real_bodies = {
            "/api/v1/admin/fund-wallet": {"wallet": wallet.number, "amount": 10_000, **reason},
            "/api/v1/admin/debit-wallet": {"wallet": wallet.number, "amount": 10_000, **reason},
            "/api/v1/admin/users/{user_id}/suspend": reason,
            "/api/v1/admin/users/{user_id}/activate": reason,
            "/api/v1/admin/wallets/{number}/freeze": reason,
            "/api/v1/admin/wallets/{number}/unfreeze": reason,
            "/api/v1/admin/adjustments/{adjustment_id}/reject": reason,
        }
    return identity


@pytest.mark.parametrize("identity_name", IDENTITIES)
@pytest.mark.parametrize("operation_id", operation_ids())
def test_operation(operation_id: str, identity_name: str, catalogue):  # noqa: F811 - fixture
    method, path = operation_id.split(" ", 1)
    schema = load_schema()
    operation = schema[path][method]
    identity = build_identity(identity_name)
    real = identity.real_params.get(path, {})
    real_body = identity.real_bodies.get(path)
    record = RESULTS[operation_id][identity_name]

    @seed(SEED)
    @given(case=operation.as_strategy(), use_real=st.booleans())
    @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
               suppress_health_check=list(HealthCheck))
    def run(case, use_real: bool) -> None:
        if real and use_real:
            case.path_parameters = {**(case.path_parameters or {}), **real}
        if real_body is not None and use_real:
            case.body = dict(real_body)
        if method == "POST":
            # Money POSTs require one from key clients; a fresh one per example so replays of
            # an earlier example's stored answer never mask what this body does.
            case.headers = {**(case.headers or {}), "Idempotency-Key": f"fuzz-{os.urandom(8).hex()}"}
        response = case.call(headers=identity.headers)
        record[str(response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    run()
    assert_ledger_invariants()  # whatever the fuzz moved, it moved by the ledger's rules


def test_operations_reaching_2xx():
    """Runs after the parametrized tests (file order). Skipped when only a subset was run."""
    ops = operation_ids()
    if set(RESULTS) != set(ops):
        pytest.skip("only part of the fuzz ran (-k or a failure): no report")
    reached = {op: [who for who, counts in RESULTS[op].items() if any(s.startswith("2") for s in counts)]
               for op in ops}
    report = {
        "examples_per_pair": EXAMPLES, "seed": SEED, "operations": len(ops),
        "operations_with_2xx": sum(1 for who in reached.values() if who),
        "per_operation": {op: {"identities_with_2xx": reached[op],
                               "statuses": {who: dict(c) for who, c in RESULTS[op].items()}} for op in ops},
    }
    with open(REPORT, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    print(f"\nschemathesis: {report['operations_with_2xx']}/{len(ops)} operations reached a 2xx "
          f"({EXAMPLES} examples per operation and identity); report in {REPORT}")
    assert report["operations_with_2xx"] >= MIN_2XX_SHARE * len(ops), [op for op, who in reached.items() if not who]
