"""Disputes: the customer opens one (once, owner only, within the window); staff decide it
(delivered with evidence, refund through the one refund journal, or returned when the money
is already back); the customer is e-mailed; everything audited; bad input moves nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from accounts.tests.reseller_fixtures import issue_key
from audit.models import AuditLog
from audit.selectors import actions_for_target
from audit.services import Actor
from config.errors import ApiError
from conftest import authenticate
from vtu.disputes import dispute_open, dispute_requery, dispute_resolve
from vtu.models import Dispute, Purchase
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.helpers import run_concurrently, snapshot

pytestmark = pytest.mark.django_db
PRICE = 30_000
FUNDS = 1_000_000


@pytest.fixture
def staff_actor():
    return Actor.for_user(UserFactory(is_staff=True, pin="", email="finance@example.com"))


def buy(user, *, again: bool = False) -> Purchase:
    request = PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN, confirm_duplicate=again)
    purchase, _ = purchase_create(user=user, request=request)
    purchase.refresh_from_db()
    return purchase


def post_dispute(user, reference: str, body: dict | None = None):
    client = authenticate(APIClient(), user)
    return client.post(f"/api/v1/purchases/{reference}/dispute", body if body is not None else {"reason": "not received"},
                       format="json")


def disputes_state() -> tuple:
    return (sorted(Dispute.objects.values_list("purchase_id", "status")),
            AuditLog.objects.filter(action__startswith="dispute.").count())


# --- the customer ------------------------------------------------------------------------------


def test_the_owner_disputes_once_and_lists_it(buyer, world, vtu_clock):
    purchase = buy(buyer)

    response = post_dispute(buyer, purchase.reference, {"reason": "debited but no data"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["purchase_reference"], body["status"], body["reason"]) == (purchase.reference, "open", "debited but no data")
    dispute = Dispute.objects.get()
    assert actions_for_target(target=dispute) == ["dispute.open"]
    assert AuditLog.objects.get(action="dispute.open").actor_kind == "user"

    listed = authenticate(APIClient(), buyer).get("/api/v1/disputes").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == dispute.pk
    assert listed["results"][0]["purchase_status"] == "successful"
    assert authenticate(APIClient(), UserFactory()).get("/api/v1/disputes").json()["count"] == 0


def test_a_second_dispute_is_refused_and_changes_nothing(buyer, world, vtu_clock):
    purchase = buy(buyer)
    assert post_dispute(buyer, purchase.reference).status_code == 201
    before = disputes_state(), snapshot()

    again = post_dispute(buyer, purchase.reference, {"reason": "still nothing"})

    assert (again.status_code, again.json()["error_code"]) == (409, "ALREADY_DISPUTED")
    assert (disputes_state(), snapshot()) == before


def test_someone_elses_purchase_is_not_found(buyer, world, vtu_clock):
    purchase = buy(buyer)
    before = disputes_state(), snapshot()

    response = post_dispute(UserFactory(), purchase.reference)
    missing = post_dispute(buyer, "NO-SUCH-REF")

    assert (response.status_code, response.json()["error_code"]) == (404, "NOT_FOUND")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "NOT_FOUND")
    assert (disputes_state(), snapshot()) == before


def test_the_window_closes(buyer, world, vtu_clock, settings):
    settings.DISPUTE_WINDOW_HOURS = 24
    purchase = buy(buyer)
    vtu_clock.advance(hours=24, seconds=1)
    before = disputes_state(), snapshot()

    response = post_dispute(buyer, purchase.reference)

    assert (response.status_code, response.json()["error_code"]) == (400, "DISPUTE_WINDOW_CLOSED")
    assert (disputes_state(), snapshot()) == before


@pytest.mark.parametrize("body", [{}, {"reason": "   "}, {"reason": 12}])
def test_a_reason_is_required(buyer, world, vtu_clock, body):
    purchase = buy(buyer)
    before = disputes_state(), snapshot()

    response = post_dispute(buyer, purchase.reference, body)

    assert (response.status_code, response.json()["error_code"]) == (400, "REASON_REQUIRED")
    assert (disputes_state(), snapshot()) == before


def test_a_failed_purchase_has_nothing_to_dispute(buyer, world, vtu_clock):
    world.script("alpha", "failed")
    purchase = buy(buyer)
    assert purchase.status == Purchase.Status.FAILED
    before = disputes_state(), snapshot()

    response = post_dispute(buyer, purchase.reference)

    assert (response.status_code, response.json()["error_code"]) == (409, "INVALID_STATE")
    assert (disputes_state(), snapshot()) == before


def test_an_api_key_needs_the_purchase_scope(buyer, world, vtu_clock):
    purchase = buy(buyer)
    reader, buyer_key = APIClient(), APIClient()
    reader.credentials(HTTP_X_API_KEY=issue_key(buyer, ["read"]))
    buyer_key.credentials(HTTP_X_API_KEY=issue_key(buyer, ["read", "purchase"]))

    refused = reader.post(f"/api/v1/purchases/{purchase.reference}/dispute", {"reason": "no data"}, format="json")
    assert (refused.status_code, refused.json()["error_code"]) == (403, "INSUFFICIENT_SCOPE")
    assert Dispute.objects.count() == 0

    accepted = buyer_key.post(f"/api/v1/purchases/{purchase.reference}/dispute", {"reason": "no data"}, format="json")
    assert accepted.status_code == 201
    assert AuditLog.objects.get(action="dispute.open").actor_kind == "api_key"


def test_the_list_is_paginated(buyer, world, vtu_clock):
    for _ in range(3):
        dispute_open(user=buyer, reference=buy(buyer, again=True).reference, reason="x", actor=Actor.for_user(buyer))
    page = authenticate(APIClient(), buyer).get("/api/v1/disputes", {"page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]


# --- staff decisions -----------------------------------------------------------------------------


def _open(buyer, purchase) -> Dispute:
    return dispute_open(user=buyer, reference=purchase.reference, reason="not received", actor=Actor.for_user(buyer))


def test_refund_posts_one_refund_journal_and_emails_the_customer(buyer, world, vtu_clock, staff_actor, mailoutbox):
    purchase = buy(buyer)
    dispute = _open(buyer, purchase)
    assert wallet_state(buyer) == (FUNDS - PRICE, 0)

    dispute = dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome="refund", reason="provider cannot prove it")

    assert dispute.status == Dispute.Status.REFUNDED and dispute.resolved_by_id == staff_actor.user_id
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REFUNDED
    assert wallet_state(buyer) == (FUNDS, 0)
    refund = Journal.objects.get(kind="refund")
    assert refund.idempotency_key == f"refund:{purchase.reference}"
    assert {e.account.code: e.amount_kobo for e in refund.entries.select_related("account")}["refunds"] == -PRICE
    assert actions_for_target(target=dispute) == ["dispute.open", "dispute.resolve"]
    assert actions_for_target(target=purchase) == ["purchase.refund"]
    outcome_mail = [m for m in mailoutbox if "dispute" in m.subject]
    assert [m.to for m in outcome_mail] == [[buyer.email]] and "refunded" in outcome_mail[0].subject
    assert "₦300.00" in outcome_mail[0].body and "provider cannot prove it" in outcome_mail[0].body
    assert_ledger_invariants()


def test_delivered_needs_evidence_then_moves_nothing(buyer, world, vtu_clock, staff_actor, mailoutbox):
    purchase = buy(buyer)
    dispute = _open(buyer, purchase)
    before = snapshot(), Dispute.objects.get().status

    with pytest.raises(ApiError) as no_evidence:
        dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome="delivered", reason="delivered", evidence=" ")
    with pytest.raises(ApiError) as no_reason:
        dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome="delivered", reason="", evidence="ref 123")
    with pytest.raises(ApiError) as bad_outcome:
        dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome="maybe", reason="x", evidence="x")

    assert (no_evidence.value.code, no_reason.value.code, bad_outcome.value.code) == (
        "VALIDATION_ERROR", "REASON_REQUIRED", "VALIDATION_ERROR")
    assert no_evidence.value.errors == {"evidence": ["Required when resolving as delivered."]}
    assert (snapshot(), Dispute.objects.get().status) == before
    assert actions_for_target(target=dispute) == ["dispute.open"]
    assert [m.subject for m in mailoutbox if "dispute" in m.subject] == []

    dispute = dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome="delivered", reason="MTN confirms",
                              evidence="provider ref P-77, delivered 10:02")
    assert (dispute.status, dispute.evidence) == ("delivered", "provider ref P-77, delivered 10:02")
    assert wallet_state(buyer) == (FUNDS - PRICE, 0) and not Journal.objects.filter(kind="refund").exists()
    assert [m.subject for m in mailoutbox if "dispute" in m.subject] == [f"Your dispute about {purchase.reference}: delivered"]
    row = AuditLog.objects.get(action="dispute.resolve")
    assert row.reason == "MTN confirms" and row.changes["status"] == ["open", "delivered"]


def test_an_unknown_outcome_is_never_refunded_and_a_failure_closes_as_returned(buyer, world, vtu_clock, staff_actor):
    world.script("alpha", "lost_undelivered")  # no answer: the purchase stays processing
    purchase = buy(buyer)
    assert purchase.status == Purchase.Status.PROCESSING
    dispute = _open(buyer, purchase)
    before = snapshot(), disputes_state()

    for outcome in ("refund", "delivered"):
        with pytest.raises(ApiError) as refused:
            dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome=outcome, reason="customer insists",
                            evidence="x")
        assert refused.value.code == "INVALID_STATE" and "unknown" in refused.value.detail
    assert (snapshot(), disputes_state()) == before

    dispute_requery(staff=staff_actor, dispute_id=dispute.pk)  # the provider says: never arrived
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED and wallet_state(buyer) == (FUNDS, 0)

    dispute = dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome="refund", reason="failed at MTN")
    assert dispute.status == Dispute.Status.RETURNED
    assert wallet_state(buyer) == (FUNDS, 0) and not Journal.objects.filter(kind="refund").exists()
    assert_ledger_invariants()


def test_the_refund_permission_is_checked_against_the_status_under_the_lock(buyer, world, vtu_clock, staff_actor):
    """Support (no refund permission) opened the form while the purchase was processing; it
    was delivered before they submitted "refund": the service refuses, nothing moves."""
    world.script("alpha", "pending")
    purchase = buy(buyer)
    dispute = _open(buyer, purchase)
    world.settle(purchase.attempts.get().request_id, "delivered")
    dispute_requery(staff=staff_actor, dispute_id=dispute.pk)
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    before = snapshot(), disputes_state()

    with pytest.raises(ApiError) as denied:
        dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=False, outcome="refund", reason="sorry")

    assert denied.value.code == "PERMISSION_DENIED"
    assert (snapshot(), disputes_state()) == before
    assert actions_for_target(target=dispute) == ["dispute.open"]
    assert not Journal.objects.filter(kind="refund").exists()
    done = dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=False, outcome="delivered",
                           reason="MTN confirms", evidence="ref 1")
    assert done.status == Dispute.Status.DELIVERED  # deciding "delivered" needs no refund permission


def test_a_decided_dispute_is_not_decided_again(buyer, world, vtu_clock, staff_actor):
    purchase = buy(buyer)
    dispute = _open(buyer, purchase)
    dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome="refund", reason="ok")
    before = snapshot(), disputes_state()

    for outcome in ("refund", "delivered"):
        with pytest.raises(ApiError) as again:
            dispute_resolve(staff=staff_actor, dispute_id=dispute.pk, may_refund=True, outcome=outcome, reason="again", evidence="e")
        assert again.value.code == "INVALID_STATE"
    with pytest.raises(ApiError) as requery:
        dispute_requery(staff=staff_actor, dispute_id=dispute.pk)
    assert requery.value.code == "INVALID_STATE"
    assert (snapshot(), disputes_state()) == before
    assert Journal.objects.filter(kind="refund").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_staff_refunding_at_once_refund_once(world, settings):
    from vtu.tests.conftest import price_rules, reseed_catalogue
    from wallets.tests.factories import fund_wallet

    settings.VTU_CATALOGUE_CACHE_SECONDS = 0
    reseed_catalogue()
    _route_alpha()
    price_rules()
    buyer = UserFactory()
    fund_wallet(buyer, FUNDS)
    purchase = buy(buyer)
    dispute = _open(buyer, purchase)
    staff = [Actor.for_user(UserFactory(is_staff=True, pin="")) for _ in range(4)]

    results = run_concurrently(4, lambda i: dispute_resolve(staff=staff[i], dispute_id=dispute.pk, may_refund=True, outcome="refund",
                                                            reason=f"staff {i}"))

    assert sum(isinstance(result, Dispute) for result in results) == 1
    assert all(result.code == "INVALID_STATE" for result in results if not isinstance(result, Dispute))
    assert Journal.objects.filter(kind="refund").count() == 1
    assert wallet_state(buyer) == (FUNDS, 0)
    assert AuditLog.objects.filter(action="dispute.resolve").count() == 1
    assert_ledger_invariants()


def _route_alpha() -> None:
    from vtu.models import DataPlan, Network, ProviderPlan, Route
    from vtu.tests.conftest import ALPHA_COST

    mtn = Network.objects.get(code="MTN")
    Route.objects.get_or_create(network=mtn, product="data", provider="alpha", defaults={"priority": 1})
    ProviderPlan.objects.get_or_create(provider="alpha", plan=DataPlan.objects.get(code=PLAN),
                                       defaults={"provider_plan_id": "A-1", "cost_kobo": ALPHA_COST})
