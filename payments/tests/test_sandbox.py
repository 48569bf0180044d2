"""The sandbox gateway: checkout page -> signed webhook through the real path -> credit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.models import Alert
from payments.models import Deposit, SandboxCharge, WebhookDelivery, WebhookEvent
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_on(settings):
    settings.DEBUG = True
    settings.PAYMENT_GATEWAYS["sandbox"]["ENABLED"] = True


def start(user_client, amount=250_000):
    response = user_client.post("/api/v1/wallet/fund", {"amount": amount, "gateway": "sandbox"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_pay_on_the_checkout_page_credits_the_wallet_through_the_signed_webhook(sandbox_on, user_client, client,
                                                                                 user):
    started = start(user_client)
    url = started["authorization_url"].replace("http://127.0.0.1:8000", "")
    assert url == f"/sandbox/checkout/{started['reference']}"
    page = client.get(url)
    assert page.status_code == 200 and b"Pay" in page.content and b"2,500.00" in page.content

    paid = client.post(url, {"action": "pay"}, follow=True)

    assert paid.status_code == 200
    deposit = Deposit.objects.get(reference=started["reference"])
    assert deposit.status == Deposit.Status.SUCCESSFUL
    assert wallet_for(user).balance_kobo == 250_000
    delivery = WebhookDelivery.objects.get()
    assert delivery.verdict == WebhookDelivery.Verdict.ACCEPTED  # the signature was checked
    assert "x-sandbox-signature" in delivery.headers
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.CREDITED
    assert b"successful" in paid.content
    # Pressing Pay again (a reload) changes nothing.
    client.post(url, {"action": "pay"})
    assert Journal.objects.filter(kind="deposit").count() == 1
    assert_ledger_invariants()


def test_fail_on_the_checkout_page_fails_the_deposit(sandbox_on, user_client, client, user):
    started = start(user_client)
    client.post(f"/sandbox/checkout/{started['reference']}", {"action": "fail"})
    deposit = Deposit.objects.get(reference=started["reference"])
    assert deposit.status == Deposit.Status.FAILED
    assert SandboxCharge.objects.get().status == "failed"
    assert not Journal.objects.exists()


def test_the_page_is_404_with_debug_off(settings, user, make_deposit):
    settings.DEBUG = False
    settings.PAYMENT_GATEWAYS["sandbox"]["ENABLED"] = True
    SandboxCharge.objects.create(reference="DEP-X", amount_kobo=100)
    from django.test import Client

    assert Client().get("/sandbox/checkout/DEP-X").status_code == 404
    assert Client().post("/sandbox/checkout/DEP-X", {"action": "pay"}).status_code == 404
    assert SandboxCharge.objects.get().status == "pending"


def test_the_process_refuses_to_start_with_the_sandbox_enabled_and_debug_off(settings):
    from config.startup import check_or_refuse

    settings.DEBUG = False
    settings.PAYMENT_GATEWAYS["sandbox"]["ENABLED"] = True
    with pytest.raises(ImproperlyConfigured, match="sandbox"):
        check_or_refuse()


def test_a_forged_sandbox_webhook_is_refused(sandbox_on, client, user_client):
    started = start(user_client)
    body = b'{"id":"evt_x","event":"charge.success","data":{"reference":"%s","amount":250000}}' % (
        started["reference"].encode())
    response = client.post("/api/v1/payments/webhooks/sandbox", data=body, content_type="application/json",
                           headers={"x-sandbox-signature": "0" * 64})
    assert response.status_code == 401
    assert not Journal.objects.exists()


@pytest.mark.parametrize(("debug", "enabled"), [(False, True), (False, False), (True, False)])
def test_the_sandbox_webhook_is_404_unless_the_sandbox_is_on(client, settings, debug, enabled):
    """Its secret has a public default: with the sandbox off, a post to its webhook is not
    even stored (no orphan alert anyone could raise)."""
    from payments.tests.helpers import body_of, funding_event, sign

    settings.DEBUG = debug
    settings.PAYMENT_GATEWAYS["sandbox"]["ENABLED"] = enabled
    body = body_of(funding_event("sandbox", "DEP-NOPE")[0])
    response = client.post("/api/v1/payments/webhooks/sandbox", data=body, content_type="application/json",
                           headers=sign("sandbox", body))
    assert response.status_code == 404 and response.json()["error_code"] == "UNKNOWN_GATEWAY"
    assert not WebhookDelivery.objects.exists() and not WebhookEvent.objects.exists()
    assert not Alert.objects.exists()


def test_a_real_gateway_without_a_webhook_secret_is_404_and_one_switched_off_still_receives(client, settings, user,
                                                                                             make_deposit, http):
    """Switched off for new checkouts (PAYSTACK_ENABLED=false) but still configured: payments
    made before, transfers and refunds keep arriving and must not be lost."""
    from payments.tests.helpers import body_of, funding_event, sign, verify_answer

    settings.PAYMENT_GATEWAYS["monnify"].update(ENABLED=False, WEBHOOK_SECRET="")
    body = body_of(funding_event("monnify", "DEP-NOPE")[0])
    assert client.post("/api/v1/payments/webhooks/monnify", data=body, content_type="application/json",
                       headers=sign("monnify", body)).status_code == 404
    assert not WebhookDelivery.objects.exists()

    settings.PAYMENT_GATEWAYS["paystack"]["ENABLED"] = False
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)
    http.add(method, url, json=answer)
    body = body_of(funding_event("paystack", deposit.reference)[0])
    assert client.post("/api/v1/payments/webhooks/paystack", data=body, content_type="application/json",
                       headers=sign("paystack", body)).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
