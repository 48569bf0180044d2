"""Webhook receive -> event -> task -> verify -> one credit (reference gateways.md §9).

Every rejection asserts that nothing moved: no event, no journal, balances unchanged.
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
import responses
from django.db import DatabaseError
from django.test import Client

from config.models import Alert
from payments.models import Deposit, WebhookDelivery, WebhookEvent
from payments.tests.conftest import post_webhook
from payments.tests.helpers import (
    ALL_REAL,
    BASE_URLS,
    NGN_GATEWAYS,
    body_of,
    fixture,
    funding_event,
    sign,
    verify_answer,
)
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
CREDITING = (*NGN_GATEWAYS, "sandbox")


def fund_journals(reference: str) -> list[Journal]:
    return list(Journal.objects.filter(idempotency_key__endswith=f":{reference}", kind="deposit"))


def deliver(client, gateway: str, deposit: Deposit, *, amount_kobo: int | None = None, payload=None, query=None,
            headers=None):
    if payload is None:
        payload, query = funding_event(gateway, deposit.reference, amount_kobo=amount_kobo or deposit.amount_kobo)
    body = body_of(payload)
    return post_webhook(client, gateway, body, headers or sign(gateway, body, query=query), query)


def expect_verify(http, gateway: str, deposit: Deposit, **kwargs):
    if gateway == "sandbox":
        from payments.models import SandboxCharge

        SandboxCharge.objects.update_or_create(
            reference=deposit.reference,
            defaults={"amount_kobo": kwargs.get("amount_kobo", deposit.amount_kobo), "status": "success"},
        )
        return None
    method, url, body = verify_answer(gateway, deposit.reference, **{"amount_kobo": deposit.amount_kobo, **kwargs})
    return http.add(method, url, json=body)


@pytest.fixture
def sandbox_on(settings):
    settings.DEBUG = True
    settings.PAYMENT_GATEWAYS["sandbox"]["ENABLED"] = True


# --- the happy path, every gateway (case 1) ------------------------------------------------------


@pytest.mark.parametrize("gateway", CREDITING)
def test_a_signed_success_credits_the_wallet_once(client, user, make_deposit, http, gateway, sandbox_on):
    deposit = make_deposit(user, gateway)
    verify = expect_verify(http, gateway, deposit)

    response = deliver(client, gateway, deposit)

    assert response.status_code == 200, response.content
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    assert deposit.credited_kobo == 500_000
    assert wallet_for(user).balance_kobo == 500_000
    assert [j.idempotency_key for j in fund_journals(deposit.reference)] == [f"fund:{gateway}:{deposit.reference}"]
    event = WebhookEvent.objects.get()
    assert (event.outcome, event.deposit_id) == (WebhookEvent.Outcome.CREDITED, deposit.pk)
    assert WebhookDelivery.objects.get().verdict == WebhookDelivery.Verdict.ACCEPTED
    if verify is not None:
        assert verify.call_count == 1  # the gateway was asked before any money moved
    assert_ledger_invariants()


def test_the_seed_paystack_alias_path_is_the_same_webhook(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    expect_verify(http, "paystack", deposit)
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    response = post_webhook(client, "paystack", body, sign("paystack", body), path="/api/v1/wallet/paystack/webhook")
    assert response.status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL


# --- rejections (cases 2-4, 33-35) ------------------------------------------------------------------


@pytest.mark.parametrize("gateway", ALL_REAL)
@pytest.mark.parametrize("forgery", ["bad_signature", "missing_header", "reserialised", "other_secret"])
def test_forged_deliveries_get_401_and_move_nothing(client, user, make_deposit, http, gateway, forgery):
    deposit = make_deposit(user, gateway)
    payload, query = funding_event(gateway, deposit.reference)
    body = body_of(payload)
    headers = sign(gateway, body, query=query)
    if forgery == "bad_signature":
        name = next(k for k in headers if k != "x-request-id")
        value = headers[name]
        headers[name] = value[:-4] + ("0000" if value[-4:] != "0000" else "1111")
    elif forgery == "missing_header":
        headers = {}
    elif forgery == "reserialised":
        if gateway == "mercadopago":  # its signature does not cover the body: use the query instead
            query = {**query, "data.id": "111111111"}
        else:
            body = json.dumps(json.loads(body), indent=1).encode()
    else:
        headers = sign(gateway, body, secret="not-the-secret", query=query)
    before = snapshot()

    response = post_webhook(client, gateway, body, headers, query)

    assert response.status_code == 401
    assert response.json()["error_code"] == "WEBHOOK_SIGNATURE_INVALID"
    delivery = WebhookDelivery.objects.get()
    assert delivery.verdict == WebhookDelivery.Verdict.REJECTED_SIGNATURE
    assert delivery.reason  # visible to staff, with why
    assert bytes(delivery.body) == body
    assert not WebhookEvent.objects.exists()
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.INITIALIZED
    assert snapshot() == before
    assert len(http.calls) == 0  # a forgery does not even cost a verify call


def test_a_forgery_cannot_pre_empt_the_genuine_event(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    expect_verify(http, "paystack", deposit)
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    assert post_webhook(client, "paystack", body, {"x-paystack-signature": "00" * 64}).status_code == 401
    assert post_webhook(client, "paystack", body, sign("paystack", body)).status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.CREDITED


@pytest.mark.parametrize("gateway", CREDITING)
def test_valid_signature_over_malformed_json_is_400_and_stored_as_rejected(client, gateway, sandbox_on):
    body = b'{"event": "charge.success", "data": '
    response = post_webhook(client, gateway, body, sign(gateway, body))
    assert response.status_code == 400
    assert response.json()["error_code"] == "MALFORMED_JSON"
    assert WebhookDelivery.objects.get().verdict == WebhookDelivery.Verdict.REJECTED_MALFORMED
    assert not WebhookEvent.objects.exists()
    assert not Journal.objects.exists()


def test_unknown_gateway_is_404(client):
    response = post_webhook(client, "notagateway", b"{}", {})
    assert response.status_code == 404
    assert response.json()["error_code"] == "UNKNOWN_GATEWAY"
    assert not WebhookDelivery.objects.exists()


def test_oversized_body_is_413_and_get_is_405(client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = b'{"pad": "' + b"x" * 2048 + b'"}'
    response = post_webhook(client, "paystack", body, sign("paystack", body))
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert client.get("/api/v1/payments/webhooks/paystack").status_code == 405
    assert not WebhookDelivery.objects.exists()


def test_body_over_the_cap_without_content_length_is_refused_by_the_view(rf, settings):
    from payments.views import gateway_webhook

    settings.WEBHOOK_MAX_BODY_BYTES = 100
    request = rf.post("/api/v1/payments/webhooks/paystack", data=b"x" * 200, content_type="application/json")
    del request.META["CONTENT_LENGTH"]
    assert gateway_webhook(request, gateway="paystack").status_code == 413


def test_a_database_error_storing_the_delivery_answers_500_so_the_gateway_retries(user, make_deposit):
    deposit = make_deposit(user, "paystack")
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    client = Client(raise_request_exception=False)
    with mock.patch.object(WebhookDelivery.objects, "create", side_effect=DatabaseError("disk full")):
        response = post_webhook(client, "paystack", body, sign("paystack", body))
    assert response.status_code == 500
    assert not WebhookEvent.objects.exists()
    assert not Journal.objects.exists()


def test_secret_equivalent_headers_are_not_stored(client, user, make_deposit, http):
    deposit = make_deposit(user, "flutterwave")
    expect_verify(http, "flutterwave", deposit)
    payload, _ = funding_event("flutterwave", deposit.reference)
    body = body_of(payload)
    post_webhook(client, "flutterwave", body, sign("flutterwave", body, legacy=True))
    delivery = WebhookDelivery.objects.get()
    assert "flw-secret-hash-0001" not in json.dumps(delivery.headers)
    assert delivery.headers["verif-hash"] == "[present, not stored]"
    assert "origin-only" in delivery.reason


# --- duplicates and replays (cases 12, 13, 16, 17) ---------------------------------------------------


@pytest.mark.parametrize("gateway", CREDITING)
def test_the_same_delivery_twice_credits_once(client, user, make_deposit, http, gateway, sandbox_on):
    deposit = make_deposit(user, gateway)
    expect_verify(http, gateway, deposit)
    payload, query = funding_event(gateway, deposit.reference)
    body = body_of(payload)
    headers = sign(gateway, body, query=query)

    first = post_webhook(client, gateway, body, headers, query)
    second = post_webhook(client, gateway, body, headers, query)

    assert (first.status_code, second.status_code) == (200, 200)
    assert list(WebhookDelivery.objects.order_by("pk").values_list("verdict", flat=True)) == ["accepted", "duplicate"]
    assert WebhookEvent.objects.count() == 1
    assert len(fund_journals(deposit.reference)) == 1
    assert wallet_for(user).balance_kobo == 500_000


def test_an_old_event_replayed_days_later_credits_nothing_more(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    expect_verify(http, "paystack", deposit)
    deliver(client, "paystack", deposit)
    # Replayed with another Paystack transaction id (a new dedupe key): same deposit, no new money.
    payload, _ = funding_event("paystack", deposit.reference, txn_id="999")
    response = deliver(client, "paystack", deposit, payload=payload)
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 2
    assert WebhookEvent.objects.order_by("pk").last().outcome == WebhookEvent.Outcome.ALREADY_CREDITED
    assert len(fund_journals(deposit.reference)) == 1
    assert wallet_for(user).balance_kobo == 500_000


def test_stripe_session_completed_and_intent_succeeded_credit_once(client, user, make_deposit, http):
    deposit = make_deposit(user, "stripe")
    expect_verify(http, "stripe", deposit)
    deliver(client, "stripe", deposit)
    intent = fixture("stripe", "payment_intent_succeeded", REF=deposit.reference)
    assert deliver(client, "stripe", deposit, payload=intent).status_code == 200
    assert WebhookEvent.objects.count() == 2
    assert len(fund_journals(deposit.reference)) == 1
    assert wallet_for(user).balance_kobo == 500_000


def test_the_task_run_twice_credits_once(client, user, make_deposit, http):
    from payments import tasks

    deposit = make_deposit(user, "paystack")
    expect_verify(http, "paystack", deposit)
    deliver(client, "paystack", deposit)
    event = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=event.pk).update(processed_at=None)  # an acks_late redelivery
    tasks.webhook_event_process.apply(args=[event.pk])
    tasks.webhook_event_process.apply(args=[event.pk])
    assert len(fund_journals(deposit.reference)) == 1
    assert wallet_for(user).balance_kobo == 500_000
    assert_ledger_invariants()


# --- amount, currency, status (cases 18-21, 23, 24) --------------------------------------------------


@pytest.mark.parametrize(
    ("gateway", "verify_kwargs", "reason"),
    [
        ("paystack", {"amount_kobo": 50_000}, "underpaid"),  # webhook claims 500000, verify says 50000
        ("monnify", {"status": "PARTIALLY_PAID", "amount_kobo": 300_000}, "underpaid"),
        ("flutterwave", {"amount_kobo": 600_000}, "overpaid"),
        ("stripe", {"currency": "USD"}, "currency"),
        ("paystack", {"currency": "GHS"}, "currency"),
    ],
)
def test_a_mismatch_goes_to_review_and_credits_nothing(client, user, make_deposit, http, gateway, verify_kwargs,
                                                       reason):
    deposit = make_deposit(user, gateway)
    expect_verify(http, gateway, deposit, **verify_kwargs)
    before = snapshot()

    response = deliver(client, gateway, deposit)

    assert response.status_code == 200  # business failures are not the gateway's problem
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.NEEDS_REVIEW
    assert reason in deposit.status_reason
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.NEEDS_REVIEW
    assert Alert.objects.filter(kind="deposit_review").exists()
    after = snapshot()
    assert (after["journals"], after["entries"], after["accounts"]) == (
        before["journals"], before["entries"], before["accounts"])


@pytest.mark.parametrize("gateway", ["chapa", "mercadopago"])
def test_foreign_currency_gateways_verify_and_never_credit_a_naira_wallet(client, user, make_deposit, http, gateway):
    """Chapa (ETB) and Mercado Pago (BRL) run the whole path; a payment in their currency on a
    naira deposit is a currency mismatch, so it goes to review, never to the wallet."""
    deposit = make_deposit(user, gateway, amount_kobo=15_075)
    expect_verify(http, gateway, deposit)
    response = deliver(client, gateway, deposit)
    assert response.status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.NEEDS_REVIEW
    assert "currency" in deposit.status_reason
    assert not fund_journals(deposit.reference)


@pytest.mark.parametrize("verify_status", ["abandoned", "ongoing"])
def test_webhook_says_success_but_the_gateway_says_pending(client, user, make_deposit, http, verify_status):
    from datetime import timedelta

    from django.utils import timezone

    deposit = make_deposit(user, "paystack", next_check_at=timezone.now() + timedelta(hours=3))
    expect_verify(http, "paystack", deposit, status=verify_status)
    assert deliver(client, "paystack", deposit).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.INITIALIZED
    assert deposit.next_check_at < timezone.now() + timedelta(minutes=4)  # the sweep asks again soon
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.NOT_PAID
    assert not fund_journals(deposit.reference)


@pytest.mark.parametrize("gateway", ["paystack", "stripe", "mercadopago", "chapa"])
def test_a_test_mode_event_on_a_live_account_is_ignored(client, user, make_deposit, http, settings, gateway):
    """Paystack data.domain, Stripe livemode, Mercado Pago live_mode, Chapa mode (case 24)."""
    settings.PAYMENT_GATEWAYS[gateway]["MODE"] = "live"
    deposit = make_deposit(user, gateway)
    response = deliver(client, gateway, deposit)  # every fixture is a test-mode event
    assert response.status_code == 200
    assert WebhookDelivery.objects.get().verdict == WebhookDelivery.Verdict.IGNORED
    assert "test event on a live account" in WebhookDelivery.objects.get().reason
    assert not WebhookEvent.objects.exists()
    assert len(http.calls) == 0


@pytest.mark.parametrize("gateway", ["stripe", "mercadopago"])
def test_a_live_event_on_a_test_account_is_ignored(client, user, make_deposit, http, gateway):
    deposit = make_deposit(user, gateway)
    payload, query = funding_event(gateway, deposit.reference)
    payload["livemode" if gateway == "stripe" else "live_mode"] = True
    response = deliver(client, gateway, deposit, payload=payload, query=query)
    assert response.status_code == 200
    assert WebhookDelivery.objects.get().reason == "live event on a test account"
    assert not WebhookEvent.objects.exists() and len(http.calls) == 0


def test_a_tampered_body_under_a_valid_verif_hash_credits_nothing(client, user, make_deposit, http):
    """Case 8: the legacy verif-hash proves only the origin. A captured delivery of a ₦1,000
    payment replayed with its amount raised to ₦5,000 and our ₦5,000 deposit's reference: the
    verify (by the transaction id) says ₦1,000 was paid, so nothing is credited."""
    deposit = make_deposit(user, "flutterwave")
    expect_verify(http, "flutterwave", deposit, amount_kobo=100_000)
    tampered = fixture("flutterwave", "charge_completed", REF=deposit.reference)
    tampered["data"].update(amount=5000, charged_amount=5000)
    before = snapshot()

    response = deliver(client, "flutterwave", deposit, payload=tampered,
                       headers=sign("flutterwave", body_of(tampered), legacy=True))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().body_signed is False
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.NEEDS_REVIEW
    assert "underpaid: paid 100000" in deposit.status_reason
    after = snapshot()
    assert (after["journals"], after["entries"]) == (before["journals"], before["entries"])
    assert wallet_for(user).balance_kobo == 0


# --- unknown references (cases 25-27) -------------------------------------------------------------


def test_an_unknown_reference_is_an_orphan_with_an_alert(client, user, make_deposit, http):
    payload, _ = funding_event("paystack", "DEP-NOSUCHREFERENCE")
    body = body_of(payload)
    assert post_webhook(client, "paystack", body, sign("paystack", body)).status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.ORPHAN
    assert Alert.objects.filter(kind="webhook_orphan").exists()
    assert not Journal.objects.exists()


def test_a_transfer_into_an_unknown_virtual_account_is_an_orphan(client, http):
    body = body_of(fixture("monnify", "reserved_account_transaction"))
    assert post_webhook(client, "monnify", body, sign("monnify", body)).status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.ORPHAN
    assert not Deposit.objects.exists()
    assert not Journal.objects.exists()


def test_a_reference_of_another_gateways_deposit_is_an_orphan(client, user, make_deposit, http):
    deposit = make_deposit(user, "flutterwave")
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    assert post_webhook(client, "paystack", body, sign("paystack", body)).status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.ORPHAN
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.INITIALIZED
    assert not Journal.objects.exists()


# --- order of events (cases 28, 29) ----------------------------------------------------------------


def test_a_failure_after_success_never_uncredits(client, user, make_deposit, http):
    deposit = make_deposit(user, "flutterwave")
    expect_verify(http, "flutterwave", deposit)
    deliver(client, "flutterwave", deposit)
    failed = fixture("flutterwave", "charge_completed", REF=deposit.reference)
    failed["data"]["status"] = "failed"
    assert deliver(client, "flutterwave", deposit, payload=failed).status_code == 200
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    assert wallet_for(user).balance_kobo == 500_000
    assert len(fund_journals(deposit.reference)) == 1


def test_failed_first_then_a_verified_success_credits_once(client, user, make_deposit, http):
    deposit = make_deposit(user, "flutterwave")
    method, url, failed_answer = verify_answer("flutterwave", deposit.reference, status="failed")
    http.add(method, url, json=failed_answer)
    failed = fixture("flutterwave", "charge_completed", REF=deposit.reference)
    failed["data"]["status"] = "failed"
    deliver(client, "flutterwave", deposit, payload=failed)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.FAILED

    http.replace(method, url, json=verify_answer("flutterwave", deposit.reference)[2])
    deliver(client, "flutterwave", deposit)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL  # a late payment is real money
    assert len(fund_journals(deposit.reference)) == 1


# --- virtual accounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gateway", "fixture_name", "account_kwargs", "verify_url", "verify_body"),
    [
        ("paystack", "charge_success_dva", {"account_number": "9930000737",
                                            "customer_reference": "CUS_dk7bs9mj8ygrtid"},
         "/transaction/verify/1641389813553e5f7r8yf3t", "paystack_dva"),
        ("monnify", "reserved_account_transaction", {"account_number": "6000140770",
                                                     "customer_reference": "ACCOUNT_REF"},
         "/api/v2/transactions/MNFY%7C04%7C20261006112842%7C000170", "monnify_va"),
    ],
)
def test_a_transfer_into_a_virtual_account_credits_its_owner_once(client, user, http, gateway, fixture_name,
                                                                  account_kwargs, verify_url, verify_body):
    from payments.models import VirtualAccount

    VirtualAccount.objects.create(user=user, gateway=gateway, bank_name="Test Bank", **account_kwargs)
    payload = fixture(gateway, fixture_name)
    if verify_body == "paystack_dva":
        answer = fixture("paystack", "verify_success", REF="1641389813553e5f7r8yf3t")
        answer["data"].update(id=1504248187, amount=2_000_000, fees=10_000)
        answer["data"]["customer"]["customer_code"] = "CUS_dk7bs9mj8ygrtid"
    else:
        answer = fixture("monnify", "verify_paid", REF="MNFY|04|20261006112842|000170")
        answer["responseBody"].update(transactionReference="MNFY|04|20261006112842|000170", amountPaid="3000",
                                      settlementAmount="2990.00")
    http.add(responses.GET, BASE_URLS[gateway] + verify_url, json=answer)
    body = body_of(payload)

    for _ in range(2):
        assert post_webhook(client, gateway, body, sign(gateway, body)).status_code == 200

    deposit = Deposit.objects.get()
    assert (deposit.source, deposit.status, deposit.user_id) == ("virtual_account", "successful", user.pk)
    expected = 2_000_000 if gateway == "paystack" else 300_000
    assert wallet_for(user).balance_kobo == expected  # platform bears the fee by default
    assert deposit.fee_kobo == (10_000 if gateway == "paystack" else 1_000)
    assert len(fund_journals(deposit.reference)) == 1
    assert_ledger_invariants()
