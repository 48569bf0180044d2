"""The funding pages: a deposit shows its events' outcomes and each delivery's signature
verdict; a webhook event is re-processed (money moves at most once); a deposit in review is
credited or failed with a reason. Refusals move nothing."""

from __future__ import annotations

import pytest
import responses as responses_lib
from django.test import Client
from django.urls import reverse

from audit.models import AuditLog
from backoffice.tests.factories import staff_user
from payments.models import Deposit, WebhookEvent
from payments.services import new_reference
from payments.tests.conftest import post_webhook
from payments.tests.helpers import body_of, funding_event, gateway_settings, sign, verify_answer
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _gateways(settings):
    settings.PAYMENT_GATEWAYS = gateway_settings()
    settings.WALLET_CURRENCY = "NGN"
    settings.OPS_ALERT_EMAILS = []


@pytest.fixture
def http():
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def browser(group: str) -> Client:
    client = Client()
    client.force_login(staff_user(group))
    return client


def webhook(client: Client, deposit: Deposit, http, *, paid_kobo: int = 500_000, forged: bool = False) -> None:
    method, url, answer = verify_answer("paystack", deposit.reference, amount_kobo=paid_kobo)
    http.add(method, url, json=answer)
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    headers = sign("paystack", body, secret="wrong-secret") if forged else sign("paystack", body)
    post_webhook(client, "paystack", body, headers)


def deposit_for(user) -> Deposit:
    return Deposit.objects.create(user=user, gateway="paystack", amount_kobo=500_000, reference=new_reference())


def test_the_deposit_page_shows_outcomes_and_verdicts(client, user, http):
    deposit = deposit_for(user)
    webhook(client, deposit, http, forged=True)
    webhook(client, deposit, http)

    html = browser("support").get(reverse("admin:payments_deposit_change", args=[deposit.pk])).content.decode()

    assert "<b>credited</b>" in html and "rejected_signature" not in html  # a forgery never reaches an event
    event = WebhookEvent.objects.get()
    event_html = browser("support").get(reverse("admin:payments_webhookevent_change", args=[event.pk])).content.decode()
    assert "accepted" in event_html and "Re-process" not in event_html  # support cannot re-process
    deliveries = browser("support").get(reverse("admin:payments_webhookdelivery_changelist")).content.decode()
    assert "rejected_signature" in deliveries and "accepted" in deliveries


def test_reprocess_an_event_moves_money_once_and_is_audited(client, user, http):
    deposit = deposit_for(user)
    webhook(client, deposit, http)
    event = WebhookEvent.objects.get()
    url = reverse("admin:payments_webhookevent_reprocess", args=[event.pk])
    finance = browser("finance")
    before = snapshot()

    assert finance.post(url, {"reason": ""}).status_code == 200
    assert snapshot() == before and not AuditLog.objects.filter(action="webhook_event.reprocess").exists()
    assert browser("support").post(url, {"reason": "x"}).status_code == 403

    for _ in range(2):
        assert finance.post(url, {"reason": "customer says not credited"}).status_code == 302

    event.refresh_from_db()
    assert event.outcome == WebhookEvent.Outcome.ALREADY_CREDITED
    assert Journal.objects.filter(idempotency_key__startswith=f"fund:paystack:{deposit.reference}").count() == 1
    assert wallet_for(user).balance_kobo == 500_000
    assert list(AuditLog.objects.filter(action="webhook_event.reprocess").values_list("reason", flat=True)) == [
        "customer says not credited"] * 2
    assert_ledger_invariants()


def test_decide_a_deposit_in_review(client, user, http):
    deposit = deposit_for(user)
    webhook(client, deposit, http, paid_kobo=300_000)  # underpaid: staff decide
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.NEEDS_REVIEW
    url = reverse("admin:payments_deposit_resolve", args=[deposit.pk])
    finance = browser("finance")
    before = snapshot()

    assert finance.post(url, {"action": "credit", "reason": " "}).status_code == 200
    assert snapshot() == before

    method, verify_url, answer = verify_answer("paystack", deposit.reference, amount_kobo=300_000)
    http.add(method, verify_url, json=answer)
    assert finance.post(url, {"action": "credit", "reason": "customer paid less; credit what arrived"}).status_code == 302

    deposit.refresh_from_db()
    assert (deposit.status, deposit.credited_kobo) == ("successful", 300_000)
    assert wallet_for(user).balance_kobo == 300_000
    assert AuditLog.objects.get(action="deposit.resolve").reason == "customer paid less; credit what arrived"
    again = finance.post(url, {"action": "fail", "reason": "twice"})
    assert "not needs_review" in again.content.decode() and wallet_for(user).balance_kobo == 300_000
    assert_ledger_invariants()
