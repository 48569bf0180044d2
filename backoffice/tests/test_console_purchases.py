"""The purchase pages: search (reference, phone in any format, provider reference), filters,
requery now, resolve a flagged purchase, refund a successful one, attempts and provider calls
inline with secrets redacted; the dispute queue; circuit breaker reset. Refusals move nothing
and audit nothing as done."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditLog
from audit.selectors import actions_for_target
from audit.services import Actor
from backoffice.tests.factories import staff_user
from vtu.disputes import dispute_open
from vtu.models import Dispute, ProviderState, Purchase
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
PRICE = 30_000
FUNDS = 1_000_000


def browser(group: str) -> Client:
    client = Client()
    client.force_login(staff_user(group))
    return client


def buy(user, *, again: bool = False) -> Purchase:
    request = PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN, confirm_duplicate=again)
    purchase, _ = purchase_create(user=user, request=request)
    purchase.refresh_from_db()
    return purchase


def found(client: Client, **params: str) -> list[str]:
    response = client.get(reverse("admin:vtu_purchase_changelist"), params)
    assert response.status_code == 200
    return sorted(p.reference for p in response.context["cl"].queryset)


def test_search_and_filters(buyer, world, vtu_clock):
    world.script("alpha", "success", "failed")
    delivered, failed = buy(buyer), buy(buyer, again=True)
    client = browser("support")

    for term in ("0803 123 4567", "+2348031234567", "2348031234567"):
        assert found(client, q=term) == sorted([delivered.reference, failed.reference])
    assert found(client, q=delivered.reference) == [delivered.reference]
    assert delivered.provider_reference and found(client, q=delivered.provider_reference) == [delivered.reference]
    assert found(client, q=delivered.attempts.get().request_id) == [delivered.reference]
    assert found(client, status="failed") == [failed.reference]
    assert found(client, provider="alpha", network__id__exact=str(delivered.network_id)) == sorted(
        [delivered.reference, failed.reference])
    assert found(client, flagged="yes") == []


def test_the_page_shows_attempts_and_calls_with_secrets_redacted(buyer, world, vtu_clock):
    purchase = buy(buyer)
    client = browser("admin")

    html = client.get(reverse("admin:vtu_purchase_change", args=[purchase.pk])).content.decode()

    assert purchase.attempts.get().request_id in html and "scripted://alpha/buy" in html
    assert "secret-key-value" not in html and "&quot;api_key&quot;: &quot;[REDACTED]&quot;" in html
    assert 'name="_save"' not in html and "Requery now" in html and "Refund" in html
    call = purchase.calls.first()
    call_page = client.get(reverse("admin:vtu_providercall_change", args=[call.pk])).content.decode()
    assert call.request_id in call_page and "secret-key-value" not in call_page


def test_requery_from_the_page_is_audited(buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase = buy(buyer)
    world.settle(purchase.attempts.get().request_id, "delivered")
    client = browser("support")
    url = reverse("admin:vtu_purchase_requery", args=[purchase.pk])

    assert client.get(url).status_code == 200
    assert client.post(url, {}).status_code == 302

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert actions_for_target(target=purchase) == ["purchase.requery"]


def test_only_a_flagged_purchase_is_resolved_by_hand(buyer, world, vtu_clock):
    world.script("alpha", "lost")
    purchase = buy(buyer)
    assert purchase.status == Purchase.Status.PROCESSING and purchase.needs_review_at is None
    client = browser("finance")
    url = reverse("admin:vtu_purchase_resolve", args=[purchase.pk])
    before = snapshot()

    refused = client.post(url, {"delivered": "yes", "reason": "portal says delivered"})
    no_reason = client.post(url, {"delivered": "yes", "reason": ""})
    no_choice = client.post(url, {"delivered": "", "reason": "x"})

    assert "Only a purchase flagged for review can be resolved" in refused.content.decode()
    assert no_reason.status_code == 200 and no_choice.status_code == 200
    assert snapshot() == before and actions_for_target(target=purchase) == []

    Purchase.objects.filter(pk=purchase.pk).update(needs_review_at=purchase.created_at)  # the sweeper flags it
    assert client.post(url, {"delivered": "yes", "reason": "portal says delivered"}).status_code == 302
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL and wallet_state(buyer) == (FUNDS - PRICE, 0)
    row = AuditLog.objects.get(action="purchase.resolve")
    assert (row.reason, row.changes["delivered"]) == ("portal says delivered", True)
    assert_ledger_invariants()


def test_refund_a_successful_purchase_and_refuse_the_rest(buyer, world, vtu_clock):
    world.script("alpha", "success", "pending")
    delivered, pending = buy(buyer), buy(buyer, again=True)
    client = browser("finance")
    before = snapshot()

    refused = client.post(reverse("admin:vtu_purchase_refund", args=[pending.pk]), {"reason": "customer asked"})
    blank = client.post(reverse("admin:vtu_purchase_refund", args=[delivered.pk]), {"reason": "  "})

    assert "Only a successful purchase can be refunded" in refused.content.decode()
    assert blank.status_code == 200
    assert snapshot() == before and not AuditLog.objects.filter(action="purchase.refund").exists()
    assert browser("support").post(reverse("admin:vtu_purchase_refund", args=[delivered.pk]), {"reason": "x"}).status_code == 403

    done = client.post(reverse("admin:vtu_purchase_refund", args=[delivered.pk]), {"reason": "dispute upheld"})

    assert done.status_code == 302
    delivered.refresh_from_db()
    assert delivered.status == Purchase.Status.REFUNDED
    refund = Journal.objects.get(idempotency_key=f"refund:{delivered.reference}")
    assert {e.account.code: e.amount_kobo for e in refund.entries.select_related("account")}["refunds"] == -PRICE
    assert AuditLog.objects.get(action="purchase.refund").reason == "dispute upheld"
    assert_ledger_invariants()


# --- disputes ------------------------------------------------------------------------------------


def _disputed(buyer) -> Dispute:
    purchase = buy(buyer)
    return dispute_open(user=buyer, reference=purchase.reference, reason="no data", actor=Actor.for_user(buyer))


def test_the_queue_lists_open_disputes_first(buyer, world, vtu_clock):
    first = _disputed(buyer)
    second = dispute_open(user=buyer, reference=buy(buyer, again=True).reference, reason="x", actor=Actor.for_user(buyer))
    Dispute.objects.filter(pk=first.pk).update(status="delivered", evidence="e", resolution_reason="r",
                                               resolved_at=first.created_at)
    response = browser("support").get(reverse("admin:vtu_dispute_changelist"))
    assert [d.pk for d in response.context["cl"].queryset] == [second.pk, first.pk]


def test_support_decides_delivered_but_refunds_need_finance(buyer, world, vtu_clock, mailoutbox):
    dispute = _disputed(buyer)
    url = reverse("admin:vtu_dispute_resolve", args=[dispute.pk])
    support = browser("support")
    before = snapshot()

    no_evidence = support.post(url, {"outcome": "delivered", "evidence": "", "reason": "MTN confirms"})
    assert "Required when resolving as delivered" in no_evidence.content.decode()
    assert support.post(url, {"outcome": "refund", "evidence": "", "reason": "sorry"}).status_code == 403
    assert snapshot() == before and actions_for_target(target=dispute) == ["dispute.open"]

    assert browser("finance").post(url, {"outcome": "refund", "evidence": "", "reason": "cannot prove"}).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.REFUNDED and wallet_state(buyer) == (FUNDS, 0)
    assert actions_for_target(target=dispute) == ["dispute.open", "dispute.resolve"]
    assert [m.to for m in mailoutbox if "dispute" in m.subject] == [[buyer.email]]
    assert_ledger_invariants()


def test_support_requeries_a_dispute(buyer, world, vtu_clock):
    world.script("alpha", "pending")
    dispute = _disputed(buyer)
    world.settle(dispute.purchase.attempts.get().request_id, "failed")

    assert browser("support").post(reverse("admin:vtu_dispute_requery", args=[dispute.pk]), {}).status_code == 302

    dispute.purchase.refresh_from_db()
    assert dispute.purchase.status == Purchase.Status.FAILED
    assert AuditLog.objects.filter(action="purchase.requery", target_id=str(dispute.purchase_id)).count() == 1


# --- circuit breaker ------------------------------------------------------------------------------


def test_admin_resets_an_open_breaker_with_a_reason(db):
    state = ProviderState.objects.create(provider="alpha", circuit="open", consecutive_failures=7)
    changelist = reverse("admin:vtu_providerstate_changelist")
    client = browser("admin")
    finance = browser("finance").post(changelist, {"action": "reset_circuit", "_selected_action": [state.pk],
                                                   "apply": "1", "reason": "finance tries"})
    state.refresh_from_db()
    assert finance.status_code == 200 and state.circuit == "open"  # not offered to finance: nothing runs

    asked = client.post(changelist, {"action": "reset_circuit", "_selected_action": [state.pk]})
    assert asked.status_code == 200 and "Reset the circuit breaker" in asked.content.decode()
    client.post(changelist, {"action": "reset_circuit", "_selected_action": [state.pk], "apply": "1", "reason": ""})
    state.refresh_from_db()
    assert state.circuit == "open" and not AuditLog.objects.filter(action="circuit.reset").exists()

    client.post(changelist, {"action": "reset_circuit", "_selected_action": [state.pk], "apply": "1",
                             "reason": "VTpass status page: back up"})

    state.refresh_from_db()
    assert (state.circuit, state.consecutive_failures, state.opened_at) == ("closed", 0, None)
    row = AuditLog.objects.get(action="circuit.reset")
    assert row.reason == "VTpass status page: back up" and row.changes["circuit"] == ["open", "closed"]
