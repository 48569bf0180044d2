"""Staff services (refund, resolve, requery now) and unsigned provider callbacks."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from audit.services import Actor
from config.errors import ApiError
from vtu.models import Purchase
from vtu.services import staff
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import ALPHA_COST, MTN_NUMBER, PLAN, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal

pytestmark = pytest.mark.django_db
PRICE = 30_000
STAFF = Actor(kind="staff", user_id=None, label="support@example.com")


def buy(user) -> Purchase:
    purchase, _ = purchase_create(user=user, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    purchase.refresh_from_db()
    return purchase


def legs(key: str) -> dict[str, int]:
    journal = Journal.objects.get(idempotency_key=key)
    return {entry.account.code: entry.amount_kobo for entry in journal.entries.select_related("account")}


def test_refund_is_paid_from_the_refunds_account_and_leaves_the_float(buyer, world, vtu_clock):
    purchase = buy(buyer)

    staff.purchase_refund(staff=STAFF, reference=purchase.reference, reason="dispute upheld: not received")

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REFUNDED
    assert wallet_state(buyer) == (1_000_000, 0)
    refund = legs(f"refund:{purchase.reference}")
    assert refund["refunds"] == -PRICE and sum(refund.values()) == 0
    assert "float:alpha" not in refund
    assert legs(f"capture:{purchase.reference}")["float:alpha"] == ALPHA_COST
    assert AuditLog.objects.filter(action="purchase.refund", target_id=str(purchase.pk)).exists()
    with pytest.raises(ApiError) as second:
        staff.purchase_refund(staff=STAFF, reference=purchase.reference, reason="again")
    assert second.value.code == "INVALID_STATE"
    assert Journal.objects.filter(idempotency_key__startswith="refund:").count() == 1
    assert_ledger_invariants()


def test_refund_needs_a_reason_and_a_successful_purchase(buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)

    with pytest.raises(ApiError) as no_reason:
        staff.purchase_refund(staff=STAFF, reference=purchase.reference, reason=" ")
    with pytest.raises(ApiError) as not_delivered:
        staff.purchase_refund(staff=STAFF, reference=purchase.reference, reason="customer asked")

    assert (no_reason.value.code, not_delivered.value.code) == ("REASON_REQUIRED", "INVALID_STATE")
    assert wallet_state(buyer) == (1_000_000, PRICE)


@pytest.mark.parametrize(("delivered", "status", "balance"), [(True, "successful", 1_000_000 - PRICE), (False, "failed", 1_000_000)])
def test_resolve_a_stuck_purchase(buyer, world, vtu_clock, delivered, status, balance):
    world.script("alpha", "lost")
    purchase = buy(buyer)
    with pytest.raises(ApiError) as not_flagged:
        staff.purchase_resolve(staff=STAFF, reference=purchase.reference, delivered=delivered, reason="too early")
    assert not_flagged.value.code == "INVALID_STATE"
    assert not AuditLog.objects.filter(action="purchase.resolve").exists()
    assert wallet_state(buyer) == (1_000_000, PRICE)
    Purchase.objects.filter(pk=purchase.pk).update(needs_review_at=vtu_clock())

    staff.purchase_resolve(staff=STAFF, reference=purchase.reference, delivered=delivered, reason="checked on the portal")

    purchase.refresh_from_db()
    assert purchase.status == status
    assert wallet_state(buyer) == (balance, 0)
    log = AuditLog.objects.get(action="purchase.resolve")
    assert log.reason == "checked on the portal" and log.changes["delivered"] is delivered
    with pytest.raises(ApiError):
        staff.purchase_resolve(staff=STAFF, reference=purchase.reference, delivered=True, reason="again")
    assert_ledger_invariants()


@pytest.mark.parametrize("delivered", [True, False])
def test_a_resolve_that_a_worker_beat_is_refused_and_not_audited(buyer, world, vtu_clock, monkeypatch, delivered):
    """Staff read the purchase as stuck; the requery settled it (delivered) before their
    decision landed: the decision is refused and no audit row claims it happened."""
    world.script("alpha", "lost")
    purchase = buy(buyer)
    Purchase.objects.filter(pk=purchase.pk).update(needs_review_at=vtu_clock())
    stale = staff._resolvable(purchase.reference, delivered=delivered)  # what the staff member's request read
    vtu_clock.advance(minutes=5)
    from vtu.services import flow

    flow.purchase_requery(purchase_id=purchase.pk)  # meanwhile the worker: the provider says delivered
    monkeypatch.setattr(staff, "_resolvable", lambda reference, delivered: stale)

    with pytest.raises(ApiError) as refused:
        staff.purchase_resolve(staff=STAFF, reference=purchase.reference, delivered=delivered, reason="checked")

    assert refused.value.code == "INVALID_STATE"
    assert not AuditLog.objects.filter(action="purchase.resolve").exists()
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert wallet_state(buyer) == (1_000_000 - PRICE, 0)
    assert Journal.objects.filter(idempotency_key__startswith="capture:").count() == 1
    assert_ledger_invariants()


def test_requery_now_settles_and_is_audited(buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)
    world.settle(purchase.attempts.get().request_id, "delivered")

    staff.purchase_requery_now(staff=STAFF, reference=purchase.reference)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert AuditLog.objects.filter(action="purchase.requery").count() == 1
    assert_ledger_invariants()


def test_a_callback_only_triggers_a_requery(api_client, buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)
    request_id = purchase.attempts.get().request_id

    # The callback claims delivery, but the provider (asked) says it is still pending: nothing moves.
    response = api_client.post("/api/v1/providers/alpha/callback", {"request_id": request_id, "status": "delivered"}, format="json")
    assert response.status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING and world.queries["alpha"] == 1

    world.settle(request_id, "delivered")
    from django.core.cache import cache

    cache.clear()
    api_client.post("/api/v1/providers/alpha/callback", {"request_id": request_id}, format="json")
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert_ledger_invariants()


def test_callbacks_are_rate_limited_per_purchase(api_client, buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)
    body = {"request_id": purchase.attempts.get().request_id}
    for _ in range(5):
        api_client.post("/api/v1/providers/alpha/callback", body, format="json")
    assert world.queries["alpha"] == 1


def test_callback_edge_cases(api_client, catalogue):
    assert api_client.post("/api/v1/providers/nobody/callback", {}, format="json").status_code == 404
    bad = api_client.generic("POST", "/api/v1/providers/alpha/callback", "{not json", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error_code"] == "MALFORMED_JSON"
    unknown = api_client.post("/api/v1/providers/alpha/callback", {"request_id": "nope"}, format="json")
    assert unknown.status_code == 200
    assert api_client.get("/api/v1/providers/alpha/callback", {"request_id": "nope"}).status_code == 200


# --- the callback inbox (R6) ------------------------------------------------------------------


def test_every_callback_is_kept_with_its_verdict_and_only_triggers_a_requery(api_client, buyer, world, vtu_clock):
    from django.core.cache import cache

    from vtu.models import ProviderCallback

    cache.clear()
    world.script("alpha", "pending")
    purchase = buy(buyer)
    request_id = purchase.attempts.get().request_id
    url = "/api/v1/providers/alpha/callback"

    api_client.post(url, {"request_id": request_id, "status": "delivered"}, format="json",
                    HTTP_AUTHORIZATION="Bearer abcdefghijklmnop", HTTP_USER_AGENT="vendor/1.0")
    api_client.post(url, {"request_id": request_id}, format="json")  # within 30 s: no second requery
    api_client.post(url, {"request_id": "not-ours"}, format="json")
    api_client.post(url, {"note": "no id"}, format="json")
    api_client.generic("POST", url, "[1, 2]", content_type="application/json")
    api_client.get(url, {"request_id": request_id, "orderstatus": "ORDER_COMPLETED"})  # GET, ClubKonnect style

    rows = list(ProviderCallback.objects.order_by("id"))
    assert [row.verdict for row in rows] == [
        "requery_queued", "requery_recent", "unmatched", "no_request_id", "malformed", "requery_recent",
    ]
    assert [row.purchase_id for row in rows] == [purchase.pk, purchase.pk, None, None, None, purchase.pk]
    first = rows[0]
    assert first.request_id == request_id and first.method == "POST" and '"delivered"' in first.body
    assert first.headers["User-Agent"] == "vendor/1.0" and "Authorization" not in first.headers
    assert rows[-1].method == "GET" and "orderstatus=ORDER_COMPLETED" in rows[-1].body
    assert world.queries["alpha"] == 1
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING and wallet_state(buyer) == (1_000_000, PRICE)


def test_the_callback_inbox_keeps_a_capped_masked_excerpt(api_client, catalogue):
    from vtu.models import ProviderCallback

    body = '{"request_id": "nope", "token": "Bearer abcdefghijklmnopqrstuvwxyz", "pad": "' + "x" * 10_000 + '"}'

    response = api_client.generic("POST", "/api/v1/providers/alpha/callback", body, content_type="application/json")

    assert response.status_code == 200
    row = ProviderCallback.objects.get()
    assert row.body_bytes == len(body) and len(row.body) == ProviderCallback.BODY_EXCERPT_CHARS
    assert "abcdefghijklmnopqrstuvwxyz" not in row.body and row.verdict == "unmatched"

