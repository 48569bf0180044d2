"""A refused query or resend says nothing about the order sent earlier (R3, R4).

The first send timed out (the order may have been delivered); the requery or Amigo resend is
then refused (401/403/429, bad credentials, IP not whitelisted, connection refused). The
purchase stays processing with its hold intact, never fails over and is checked again later.
Real adapters over `responses`; the scripted providers alpha/beta are the failover targets.
"""

from __future__ import annotations

import pytest
import requests
import responses
import urllib3

from vtu.models import Network, ProviderAttempt, ProviderPlan, Purchase, Route
from vtu.services import flow
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN, wallet_state
from vtu.tests.providers.conftest import BASE_URLS, provider_config
from vtu.tests.providers.test_status_tables import RECHECK
from wallets.invariants import assert_ledger_invariants
from wallets.models import Hold

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("vtpass", "buy"): ("POST", "/pay"), ("vtpass", "recheck"): ("POST", "/requery"),
    ("clubkonnect", "buy"): ("GET", "/APIDatabundleV1.asp"), ("clubkonnect", "recheck"): ("GET", "/APIQueryV1.asp"),
    ("amigo", "buy"): ("POST", "/data/"), ("amigo", "recheck"): ("POST", "/data/"),
}
PLAN_IDS = {"vtpass": "mtn-1gb", "clubkonnect": "1000.0", "amigo": "1001"}
REFUSED_CONNECTION = requests.ConnectionError(
    urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.NewConnectionError(None, "refused"))
)
REFUSALS = [
    ("vtpass", {"status": 401, "json": {"message": "Unauthenticated."}}),
    ("vtpass", {"status": 429, "body": ""}),
    ("vtpass", {"status": 200, "json": {"code": "087", "response_description": "INVALID CREDENTIALS"}}),
    ("vtpass", {"status": 200, "json": {"code": "027", "response_description": "IP NOT WHITELISTED"}}),
    ("vtpass", {"status": 200, "json": {"code": "021", "response_description": "ACCOUNT LOCKED"}}),
    ("vtpass", {"status": 200, "json": {"code": "018", "response_description": "LOW WALLET BALANCE"}}),
    ("vtpass", {"body": REFUSED_CONNECTION}),
    ("clubkonnect", {"status": 200, "json": {"status": "INVALID_CREDENTIALS"}}),
    ("clubkonnect", {"status": 403, "body": "<html>403 - Forbidden: Access is denied.</html>"}),
    ("clubkonnect", {"body": REFUSED_CONNECTION}),
    ("amigo", {"status": 429, "json": {"success": False, "error": "rate_limited"}}),
    ("amigo", {"status": 401, "json": {"success": False, "error": "invalid_token"}}),
    ("amigo", {"status": 400, "json": {"success": False, "error": "plan_not_found"}}),
    ("amigo", {"status": 403, "body": "<html>Forbidden</html>"}),
    ("amigo", {"body": REFUSED_CONNECTION}),
]


@pytest.fixture
def route_first(settings, world, catalogue):
    """Route MTN data to `vendor` first, the scripted alpha/beta after it."""

    def install(vendor: str) -> None:
        settings.VTU_PROVIDERS = {
            **settings.VTU_PROVIDERS, vendor: {**provider_config(vendor), "ENABLED": True, "REQUIRED": []},
        }
        mtn = Network.objects.get(code="MTN")
        Route.objects.filter(network=mtn, product="data").update(priority=5)
        Route.objects.create(network=mtn, product="data", provider=vendor, priority=1)
        ProviderPlan.objects.create(provider=vendor, plan=catalogue[PLAN], provider_plan_id=PLAN_IDS[vendor], cost_kobo=25_000)

    return install


def _mock(mock: responses.RequestsMock, vendor: str, step: str, answer: dict) -> None:
    method, path = ENDPOINTS[(vendor, step)]
    mock.add(method, BASE_URLS[vendor] + path, **answer)


def _buy_timing_out(buyer, vendor: str) -> Purchase:
    with responses.RequestsMock() as mock:
        _mock(mock, vendor, "buy", {"body": requests.ReadTimeout("read timed out")})
        purchase, _ = purchase_create(
            user=buyer, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN)
        )
    purchase.refresh_from_db()
    assert (purchase.status, purchase.provider) == (Purchase.Status.PROCESSING, vendor)
    return purchase


@pytest.mark.parametrize(("vendor", "answer"), REFUSALS, ids=[f"{v}-{i}" for i, (v, _a) in enumerate(REFUSALS)])
def test_a_refused_recheck_after_a_timeout_keeps_the_purchase_processing(buyer, world, vtu_clock, route_first, vendor, answer):
    route_first(vendor)
    purchase = _buy_timing_out(buyer, vendor)
    vtu_clock.advance(minutes=5)

    with responses.RequestsMock() as mock:
        _mock(mock, vendor, "recheck", answer)
        outcome = flow.purchase_requery(purchase_id=purchase.pk)

    purchase.refresh_from_db()
    assert outcome == "unknown"
    assert purchase.status == Purchase.Status.PROCESSING
    assert purchase.next_check_at > vtu_clock.current, "checked again later"
    assert Hold.objects.get(reference=purchase.hold_reference).status == Hold.Status.ACTIVE
    assert wallet_state(buyer) == (1_000_000, purchase.amount_kobo)
    assert world.buys["alpha"] == world.buys["beta"] == 0, "no failover after an unknown"
    attempt = ProviderAttempt.objects.get(purchase=purchase)
    assert attempt.state == ProviderAttempt.State.UNKNOWN and not attempt.failover_allowed
    assert RECHECK[vendor] in ("query", "resend")
    assert_ledger_invariants()


def test_a_refused_requery_with_no_other_provider_still_refunds_nothing(buyer, world, vtu_clock, route_first):
    route_first("vtpass")
    Route.objects.exclude(provider="vtpass").update(enabled=False)
    purchase = _buy_timing_out(buyer, "vtpass")
    vtu_clock.advance(minutes=5)

    with responses.RequestsMock() as mock:
        _mock(mock, "vtpass", "recheck", {"status": 200, "json": {"code": "027", "response_description": "IP NOT WHITELISTED"}})
        flow.purchase_requery(purchase_id=purchase.pk)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING
    assert Hold.objects.get(reference=purchase.hold_reference).status == Hold.Status.ACTIVE
    assert_ledger_invariants()


def test_a_requery_that_says_the_transaction_failed_refunds(buyer, world, vtu_clock, route_first):
    """016 on a requery describes the transaction itself: definitive, no failover."""
    route_first("vtpass")
    purchase = _buy_timing_out(buyer, "vtpass")
    vtu_clock.advance(minutes=5)

    with responses.RequestsMock() as mock:
        _mock(mock, "vtpass", "recheck", {"status": 200, "json": {"code": "016", "response_description": "TRANSACTION FAILED"}})
        flow.purchase_requery(purchase_id=purchase.pk)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED
    assert Hold.objects.get(reference=purchase.hold_reference).status == Hold.Status.RELEASED
    assert world.buys["alpha"] == 0
    assert_ledger_invariants()


def test_a_requery_proving_the_order_never_arrived_fails_over(buyer, world, vtu_clock, route_first):
    """015 once the request id is older than the grace: VTpass never saw it (R4), so the
    next provider may take the order."""
    route_first("vtpass")
    purchase = _buy_timing_out(buyer, "vtpass")
    vtu_clock.advance(hours=1)

    with responses.RequestsMock() as mock:
        _mock(mock, "vtpass", "recheck", {"status": 200, "json": {"code": "015", "response_description": "INVALID REQUEST ID"}})
        flow.purchase_requery(purchase_id=purchase.pk)

    purchase.refresh_from_db()
    assert (purchase.status, purchase.provider) == (Purchase.Status.SUCCESSFUL, "alpha")
    assert world.buys["alpha"] == 1
    assert_ledger_invariants()
