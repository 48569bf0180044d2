"""Gateway adapters in isolation: signatures (reference §9 cases 1-11), parsing, unit
conversion (case 22), verify and checkout wire formats through `responses`."""

from __future__ import annotations

import hmac
import json
import time
from decimal import Decimal
from unittest import mock
from urllib.parse import parse_qs

import pytest
import responses

from payments.gateways import registry
from payments.gateways.base import GatewayPermanentError, GatewayTransientError, MalformedEvent
from payments.gateways.monnify import MonnifyGateway
from payments.gateways.types import (
    AmountError,
    CheckoutRequest,
    InboundWebhook,
    Money,
    Reversal,
    Status,
    to_major,
    to_minor,
)
from payments.tests.helpers import (
    ALL_REAL,
    BASE_URLS,
    MONNIFY_LOGIN_URL,
    SECRETS,
    body_of,
    fixture,
    funding_event,
    gateway_settings,
    sign,
    verify_answer,
)

SIGNED_GATEWAYS = (*ALL_REAL, "sandbox")


def adapter(name: str, **overrides: object):
    config = gateway_settings()[name]
    config.update(overrides)
    return registry.ADAPTERS[name](config)


def inbound(name: str, body: bytes, headers: dict, query: dict | None = None) -> InboundWebhook:
    return InboundWebhook(gateway=name, headers={k.lower(): v for k, v in headers.items()}, body=body,
                          query=query or {})


def delivery(name: str, reference: str = "DEP-TEST0001") -> tuple[bytes, dict, dict]:
    payload, query = funding_event(name, reference)
    body = body_of(payload)
    return body, sign(name, body, query=query), query


# --- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED_GATEWAYS)
def test_a_genuine_signature_verifies(name):
    body, headers, query = delivery(name)
    check = adapter(name).verify_signature(inbound(name, body, headers, query))
    assert check.ok, check.reason


@pytest.mark.parametrize("name", SIGNED_GATEWAYS)
def test_one_changed_character_in_the_signature_is_refused(name):
    body, headers, query = delivery(name)
    header, value = next((k, v) for k, v in headers.items() if k != "x-request-id")
    position = len(value) - 3
    flipped = value[:position] + ("0" if value[position] != "0" else "1") + value[position + 1:]
    check = adapter(name).verify_signature(inbound(name, body, {**headers, header: flipped}, query))
    assert not check.ok


@pytest.mark.parametrize("name", SIGNED_GATEWAYS)
def test_a_missing_signature_header_is_refused(name):
    body, _, query = delivery(name)
    check = adapter(name).verify_signature(inbound(name, body, {"content-type": "application/json"}, query))
    assert not check.ok
    assert "missing" in check.reason


@pytest.mark.parametrize("name", ["paystack", "monnify", "flutterwave", "stripe", "chapa", "sandbox"])
def test_a_signature_over_reserialised_json_is_refused(name):
    """Same data, other whitespace and key order: proves the raw bytes are what is hashed."""
    body, headers, query = delivery(name)
    reserialised = json.dumps(json.loads(body), indent=2, sort_keys=True).encode()
    assert json.loads(reserialised) == json.loads(body)
    assert not adapter(name).verify_signature(inbound(name, reserialised, headers, query)).ok


@pytest.mark.parametrize("name", SIGNED_GATEWAYS)
def test_a_delivery_signed_with_another_secret_is_refused(name):
    payload, query = funding_event(name, "DEP-TEST0001")
    body = body_of(payload)
    headers = sign(name, body, secret="some-other-secret", query=query)
    assert not adapter(name).verify_signature(inbound(name, body, headers, query)).ok


@pytest.mark.parametrize("name", SIGNED_GATEWAYS)
def test_rotation_accepts_the_old_and_the_new_secret(name):
    body, headers, query = delivery(name)  # signed with the old secret
    rotated = adapter(name, WEBHOOK_SECRET=f"new-secret-after-rotation,{SECRETS[name]}")
    assert rotated.verify_signature(inbound(name, body, headers, query)).ok
    new_headers = sign(name, body, secret="new-secret-after-rotation", query=query)
    assert rotated.verify_signature(inbound(name, body, new_headers, query)).ok
    assert not adapter(name).verify_signature(inbound(name, body, new_headers, query)).ok


def test_stripe_second_v1_signed_with_a_rotated_out_secret_still_verifies():
    body, _, _ = delivery("stripe")
    now = int(time.time())
    old = sign("stripe", body, secret="whsec_oldsecret", timestamp=now)["stripe-signature"]
    new = sign("stripe", body, secret="whsec_newsecret", timestamp=now)["stripe-signature"]
    header = f"{new},v1={old.split('v1=')[1]}"
    gateway = adapter("stripe", WEBHOOK_SECRET="whsec_oldsecret")
    assert gateway.verify_signature(inbound("stripe", body, {"stripe-signature": header})).ok


@pytest.mark.parametrize("offset", [-301, +301])
def test_stripe_timestamp_outside_the_tolerance_is_refused(offset):
    body, _, _ = delivery("stripe")
    gateway = adapter("stripe")
    now = 1_760_000_000
    gateway.clock = lambda: now  # type: ignore[method-assign]
    headers = sign("stripe", body, timestamp=now + offset)
    check = gateway.verify_signature(inbound("stripe", body, headers))
    assert not check.ok and "tolerance" in check.reason
    assert gateway.verify_signature(inbound("stripe", body, sign("stripe", body, timestamp=now - 299))).ok


def test_stripe_header_with_only_v0_is_refused():
    body, headers, _ = delivery("stripe")
    only_v0 = headers["stripe-signature"].replace("v1=", "v0=")
    assert not adapter("stripe").verify_signature(inbound("stripe", body, {"stripe-signature": only_v0})).ok


def test_monnify_hmac_keyed_with_the_api_key_is_refused():
    body, _, _ = delivery("monnify")
    headers = sign("monnify", body, secret="MK_TEST_APIKEY0001")
    assert not adapter("monnify").verify_signature(inbound("monnify", body, headers)).ok


def test_flutterwave_legacy_verif_hash_proves_origin_only():
    body, _, _ = delivery("flutterwave")
    gateway = adapter("flutterwave")
    check = gateway.verify_signature(inbound("flutterwave", body, sign("flutterwave", body, legacy=True)))
    assert check.ok and not check.body_bound
    # The same static hash with a tampered body still "verifies": the verify API must decide.
    tampered = body.replace(b"5000", b"500000")
    assert gateway.verify_signature(inbound("flutterwave", tampered, sign("flutterwave", body, legacy=True))).ok
    assert not gateway.verify_signature(inbound("flutterwave", body, {"verif-hash": "wrong"})).ok


def test_flutterwave_body_bound_signature_catches_tampering():
    body, headers, _ = delivery("flutterwave")
    gateway = adapter("flutterwave")
    assert gateway.verify_signature(inbound("flutterwave", body, headers)).body_bound
    assert not gateway.verify_signature(inbound("flutterwave", body.replace(b"5000", b"500000"), headers)).ok


def test_flutterwave_new_signature_failing_falls_back_to_the_legacy_hash():
    body, _, _ = delivery("flutterwave")
    gateway = adapter("flutterwave")
    both = {**sign("flutterwave", body, secret="a-secret-we-do-not-hold"), **sign("flutterwave", body, legacy=True)}
    check = gateway.verify_signature(inbound("flutterwave", body, both))
    assert check.ok and not check.body_bound  # origin only: the body's amounts are never used
    wrong_both = {**both, "verif-hash": "wrong"}
    assert not gateway.verify_signature(inbound("flutterwave", body, wrong_both)).ok


def test_stripe_signature_is_checked_by_the_official_library():
    body, headers, _ = delivery("stripe")
    with mock.patch("payments.gateways.stripe.stripe.WebhookSignature.verify_header",
                    wraps=__import__("stripe").WebhookSignature.verify_header) as official:
        assert adapter("stripe").verify_signature(inbound("stripe", body, headers)).ok
    assert official.call_args.kwargs == {"tolerance": None}  # our own window, both directions
    assert not adapter("stripe").verify_signature(inbound("stripe", b"\xff" + body, headers)).ok


def test_paystack_and_monnify_refunds_name_each_refund_and_its_own_amount():
    paystack = adapter("paystack").parse_event(inbound("paystack", body_of(
        fixture("paystack", "refund_processed", REF="DEP-1")), {}))
    assert (paystack.kind, paystack.reference, paystack.dedupe_key) == (
        "refund", "DEP-1", "refund.processed:DEP-1:132013318360")
    assert paystack.reversal == Reversal(kind="refund", key="132013318360", amount=Money(500000, "NGN"))
    monnify = adapter("monnify").parse_event(inbound("monnify", body_of(
        fixture("monnify", "successful_refund", REF="DEP-1")), {}))
    assert monnify.dedupe_key == "SUCCESSFUL_REFUND:RF-REF-1"
    # refundAmount (₦1,000), never amountPaid: a partial refund is not the whole payment.
    assert monnify.reversal == Reversal(kind="refund", key="RF-REF-1", amount=Money(100000, "NGN"),
                                        transaction_id="MNFY|20|20261006|000123")


@pytest.mark.parametrize(("resolution", "kind", "amount"), [
    ("auto-accepted", "chargeback", Money(500000, "NGN")), ("merchant-accepted", "chargeback", Money(500000, "NGN")),
    ("declined", "other", None), ("something-new", "chargeback", None),
])
def test_paystack_dispute_resolution_decides_whether_money_was_taken(resolution, kind, amount):
    payload = fixture("paystack", "dispute_resolve", REF="DEP-1")
    payload["data"]["resolution"] = resolution
    event = adapter("paystack").parse_event(inbound("paystack", body_of(payload), {}))
    assert (event.kind, event.reference, event.gateway_transaction_id) == (kind, "DEP-1", "302961")
    assert event.dedupe_key == "charge.dispute.resolve:358949"
    if kind == "chargeback":
        assert event.reversal == Reversal(kind="chargeback", key="dispute-358949", amount=amount, transaction_id="302961")
    opened = adapter("paystack").parse_event(inbound("paystack", body_of(fixture("paystack", "dispute_create")), {}))
    assert (opened.kind, opened.reversal) == ("dispute_opened", None)


def test_stripe_lost_dispute_and_mercadopago_refund_totals_are_reversals():
    lost = adapter("stripe").parse_event(inbound("stripe", body_of(fixture("stripe", "dispute_closed_lost")), {}))
    assert (lost.kind, lost.gateway_transaction_id) == ("chargeback", "pi_3QTest000001")
    assert lost.reversal == Reversal(kind="chargeback", key="dp_1QTestDispute00001", amount=Money(500000, "NGN"),
                                     transaction_id="pi_3QTest000001")
    created = adapter("stripe").parse_event(inbound("stripe", body_of(fixture("stripe", "dispute_created")), {}))
    assert created.kind == "dispute_opened"


@responses.activate
def test_mercadopago_verify_reports_refund_totals_and_settled_chargebacks():
    gateway = adapter("mercadopago")
    url = f"{BASE_URLS['mercadopago']}/v1/payments/999999999"
    responses.add(responses.GET, url, json=fixture("mercadopago", "payment_partially_refunded", REF="DEP-1"))
    txn = gateway.fetch_transaction(gateway_transaction_id="999999999")
    assert txn.status == Status.SUCCEEDED
    assert txn.reversals == (Reversal(kind="refund", key="total-100000", amount=Money(100000, "BRL"), cumulative=True,
                                      transaction_id="999999999"),)
    charged_back = fixture("mercadopago", "payment_charged_back", REF="DEP-1")
    responses.replace(responses.GET, url, json=charged_back)
    assert gateway.fetch_transaction(gateway_transaction_id="999999999").reversals == (
        Reversal(kind="chargeback", key="payment-999999999", amount=Money(500000, "BRL"), transaction_id="999999999"),)
    responses.replace(responses.GET, url, json={**charged_back, "status_detail": "reimbursed"})
    assert gateway.fetch_transaction(gateway_transaction_id="999999999").reversals == ()


@responses.activate
def test_flutterwave_refunds_are_confirmed_with_the_refund_api():
    gateway = adapter("flutterwave")
    event = gateway.parse_event(inbound("flutterwave", body_of(fixture("flutterwave", "refund_completed")), {}))
    assert (event.kind, event.gateway_transaction_id, event.reversal.amount) == ("refund", "285959875", None)
    call = responses.add(responses.GET, f"{BASE_URLS['flutterwave']}/refunds/75923",
                         json=fixture("flutterwave", "refund_fetch"))
    assert gateway.confirm_reversal(event) == Reversal(kind="refund", key="75923", amount=Money(100000, "NGN"),
                                                       transaction_id="285959875")
    assert call.call_count == 1
    pending = fixture("flutterwave", "refund_fetch")
    pending["data"]["status"] = "pending"
    responses.replace(responses.GET, f"{BASE_URLS['flutterwave']}/refunds/75923", json=pending)
    with pytest.raises(GatewayTransientError):
        gateway.confirm_reversal(event)


def test_chapa_static_signature_alone_is_origin_only():
    body, _, _ = delivery("chapa")
    check = adapter("chapa").verify_signature(inbound("chapa", body, sign("chapa", body, legacy=True)))
    assert check.ok and not check.body_bound


def test_mercadopago_manifest_lowercases_the_query_id_and_omits_absent_parts():
    body = body_of(fixture("mercadopago", "payment_notification"))
    gateway = adapter("mercadopago")
    query = {"data.id": "ABC123XYZ", "type": "payment"}
    headers = sign("mercadopago", body, query=query)  # helper lower-cases as documented
    assert gateway.verify_signature(inbound("mercadopago", body, headers, query)).ok
    # No x-request-id: the manifest drops that part.
    ts = "1760000000000"
    manifest = f"id:abc123xyz;ts:{ts};"
    v1 = hmac.new(SECRETS["mercadopago"].encode(), manifest.encode(), "sha256").hexdigest()
    assert gateway.verify_signature(inbound("mercadopago", body, {"x-signature": f"ts={ts},v1={v1}"}, query)).ok
    wrong = sign("mercadopago", body, secret="other", query=query)
    assert not gateway.verify_signature(inbound("mercadopago", body, wrong, query)).ok


@pytest.mark.parametrize("name", SIGNED_GATEWAYS)
def test_signatures_are_compared_in_constant_time(name):
    body, headers, query = delivery(name)
    with mock.patch("payments.gateways.base.hmac.compare_digest", wraps=hmac.compare_digest) as spy:
        assert adapter(name).verify_signature(inbound(name, body, headers, query)).ok
    assert spy.called


# --- unit conversion (case 22) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [(4500.50, "NGN", 450050), ("1500", "NGN", 150000), ("10", "ETB", 1000), (Decimal("150.75"), "BRL", 15075),
     (0.1, "NGN", 10), ("0.29", "NGN", 29), (1500, "NGN", 150000)],
)
def test_major_units_convert_exactly(value, currency, minor):
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize("value", ["10.005", 10.005, "abc", None, True, "NaN", "Infinity", ""])
def test_inexact_or_non_amounts_are_refused(value):
    with pytest.raises(AmountError):
        to_minor(value, "NGN")


def test_minor_to_major_is_a_decimal():
    assert to_major(450050, "NGN") == Decimal("4500.50")
    with pytest.raises(AmountError):
        to_major(1.5, "NGN")  # type: ignore[arg-type]


def test_paystack_amounts_stay_in_kobo():
    event = adapter("paystack").parse_event(inbound("paystack", *delivery("paystack")[:2]))
    assert event.amount == Money(500000, "NGN")


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "dedupe", "reference", "amount"),
    [
        ("paystack", "funding", "charge.success:302961", "DEP-TEST0001", 500000),
        ("flutterwave", "funding", "charge.completed:285959875:successful:DEP-TEST0001", "DEP-TEST0001", 500000),
        ("monnify", "funding", "SUCCESSFUL_TRANSACTION:MNFY|20|20261006|000123", "DEP-TEST0001", 500000),
        ("stripe", "funding", "evt_1QCompleted000000000001", "DEP-TEST0001", 500000),
        ("chapa", "funding", "charge.success:APfxgDukmSx9", "DEP-TEST0001", 500000),
        ("mercadopago", "lookup", "payment:999999999:payment.updated:12345", "", None),
    ],
)
def test_each_gateway_event_normalises(name, kind, dedupe, reference, amount):
    body, headers, query = delivery(name)
    event = adapter(name).parse_event(inbound(name, body, headers, query))
    assert (event.kind, event.dedupe_key, event.reference) == (kind, dedupe, reference)
    assert (event.amount.minor if event.amount else None) == amount
    assert event.livemode in (False, None)


def test_paystack_transfer_into_a_dedicated_account_names_the_account():
    body = body_of(fixture("paystack", "charge_success_dva"))
    event = adapter("paystack").parse_event(inbound("paystack", body, {}))
    assert event.kind == "funding"
    assert event.virtual_account_number == "9930000737"
    assert event.customer_reference == "CUS_dk7bs9mj8ygrtid"


def test_monnify_reserved_account_transfer_maps_by_account_reference():
    body = body_of(fixture("monnify", "reserved_account_transaction"))
    event = adapter("monnify").parse_event(inbound("monnify", body, {}))
    assert (event.kind, event.customer_reference, event.reference) == ("funding", "ACCOUNT_REF", "")
    assert event.gateway_transaction_id == "MNFY|04|20261006112842|000170"
    assert event.amount == Money(300000, "NGN")


def test_stripe_refund_and_failed_events_are_classified():
    gateway = adapter("stripe")
    refund = gateway.parse_event(inbound("stripe", body_of(fixture("stripe", "charge_refunded")), {}))
    assert (refund.kind, refund.gateway_transaction_id) == ("refund", "pi_3QTest000001")
    # amount_refunded is the charge's running total of refunds, not this refund's amount.
    assert refund.reversal == Reversal(kind="refund", key="total-500000", amount=Money(500000, "NGN"),
                                       cumulative=True, transaction_id="pi_3QTest000001")
    unpaid = fixture("stripe", "checkout_session_completed", REF="R1")
    unpaid["data"]["object"]["payment_status"] = "unpaid"
    assert gateway.parse_event(inbound("stripe", body_of(unpaid), {})).kind == "other"


@pytest.mark.parametrize("name", SIGNED_GATEWAYS)
@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_bodies_raise(name, body):
    with pytest.raises(MalformedEvent):
        adapter(name).parse_event(inbound(name, body, {}))


# --- verify (requery) ---------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("name", ALL_REAL)
def test_verify_maps_a_success(name):
    responses.add(responses.POST, MONNIFY_LOGIN_URL, json=fixture("monnify", "login"))
    method, url, answer = verify_answer(name, "DEP-TEST0001", amount_kobo=450050)
    responses.add(method, url, json=answer)
    txn = adapter(name).fetch_transaction(
        reference="DEP-TEST0001", gateway_transaction_id={"flutterwave": "285959875", "mercadopago": "999999999",
                                                          "monnify": "MNFY|20|20261006|000123"}.get(name, ""),
        checkout_id="cs_test_a1B2c3" if name == "stripe" else "",
    )
    assert txn.status == Status.SUCCEEDED
    assert txn.amount is not None and txn.amount.minor == 450050
    assert txn.reference == "DEP-TEST0001"


@responses.activate
def test_paystack_abandoned_is_pending_not_failed():
    method, url, answer = verify_answer("paystack", "DEP-X", status="abandoned")
    responses.add(method, url, json=answer)
    assert adapter("paystack").fetch_transaction(reference="DEP-X").status == Status.PENDING


@responses.activate
def test_flutterwave_verify_by_reference_when_no_id():
    method, _, answer = verify_answer("flutterwave", "DEP-X")
    responses.add(method, f"{BASE_URLS['flutterwave']}/transactions/verify_by_reference?tx_ref=DEP-X", json=answer)
    assert adapter("flutterwave").fetch_transaction(reference="DEP-X").status == Status.SUCCEEDED


@responses.activate
def test_a_verify_amount_with_three_decimals_yields_no_amount():
    method, url, answer = verify_answer("monnify", "DEP-X")
    answer["responseBody"]["amountPaid"] = "4500.505"
    responses.add(responses.POST, MONNIFY_LOGIN_URL, json=fixture("monnify", "login"))
    responses.add(method, url, json=answer)
    txn = adapter("monnify").fetch_transaction(gateway_transaction_id="MNFY|20|20261006|000123")
    assert txn.amount is None


@responses.activate
@pytest.mark.parametrize(("status", "error"), [(500, GatewayTransientError), (503, GatewayTransientError),
                                                (429, GatewayTransientError), (400, GatewayPermanentError)])
def test_http_errors_map_to_transient_or_permanent(status, error):
    responses.add(responses.GET, f"{BASE_URLS['paystack']}/transaction/verify/DEP-X", status=status, json={})
    with pytest.raises(error):
        adapter("paystack").fetch_transaction(reference="DEP-X")


@responses.activate
def test_a_timeout_is_transient():
    import requests

    responses.add(responses.GET, f"{BASE_URLS['paystack']}/transaction/verify/DEP-X", body=requests.ReadTimeout())
    with pytest.raises(GatewayTransientError):
        adapter("paystack").fetch_transaction(reference="DEP-X")


@responses.activate
def test_monnify_token_is_cached_until_shortly_before_expiry():
    MonnifyGateway._tokens.clear()
    login = responses.add(responses.POST, MONNIFY_LOGIN_URL, json=fixture("monnify", "login"))
    method, url, answer = verify_answer("monnify", "DEP-X")
    responses.add(method, url, json=answer)
    now = [1000.0]
    gateway = adapter("monnify")
    gateway.clock = lambda: now[0]  # type: ignore[method-assign]
    for _ in range(3):
        gateway.fetch_transaction(gateway_transaction_id="MNFY|20|20261006|000123")
    assert login.call_count == 1
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert responses.calls[1].request.headers["Authorization"] == "Bearer eyJhbGciOiJIUzI1NiJ9.monnifytesttoken.sig"
    now[0] += 3599 - 300 + 1  # inside the refresh margin
    gateway.fetch_transaction(gateway_transaction_id="MNFY|20|20261006|000123")
    assert login.call_count == 2
    MonnifyGateway._tokens.clear()


# --- checkout wire formats ----------------------------------------------------------------------


def checkout(reference: str = "DEP-TEST0001", minor: int = 450050, currency: str = "NGN") -> CheckoutRequest:
    return CheckoutRequest(reference=reference, amount=Money(minor, currency), email="user@example.com",
                           customer_name="Ade Bello", callback_url="https://example.com/back",
                           metadata={"webhook_url": "https://example.com/hook"})


@responses.activate
def test_paystack_checkout_sends_kobo_and_refuses_bad_references():
    call = responses.add(responses.POST, f"{BASE_URLS['paystack']}/transaction/initialize",
                         json=fixture("paystack", "initialize", REF="DEP-TEST0001"))
    session = adapter("paystack").create_checkout(checkout())
    assert json.loads(call.calls[0].request.body)["amount"] == 450050
    assert session.authorization_url == "https://checkout.paystack.com/0peioxfhpn"
    with pytest.raises(GatewayPermanentError):
        adapter("paystack").create_checkout(checkout(reference="DEP_bad/ref"))
    assert call.call_count == 1


@responses.activate
def test_flutterwave_and_monnify_checkouts_send_naira_decimals():
    flw = responses.add(responses.POST, f"{BASE_URLS['flutterwave']}/payments", json=fixture("flutterwave", "initialize"))
    responses.add(responses.POST, MONNIFY_LOGIN_URL, json=fixture("monnify", "login"))
    mnf = responses.add(responses.POST, f"{BASE_URLS['monnify']}/api/v1/merchant/transactions/init-transaction",
                        json=fixture("monnify", "init", REF="DEP-TEST0001"))
    MonnifyGateway._tokens.clear()
    adapter("flutterwave").create_checkout(checkout())
    session = adapter("monnify").create_checkout(checkout())
    assert json.loads(flw.calls[0].request.body)["amount"] == "4500.50"
    assert json.loads(mnf.calls[0].request.body)["amount"] == "4500.50"
    assert session.gateway_reference == "MNFY|20|20261006|000123"
    MonnifyGateway._tokens.clear()


@responses.activate
def test_stripe_checkout_is_form_encoded_in_minor_units_with_an_idempotency_key():
    call = responses.add(responses.POST, f"{BASE_URLS['stripe']}/checkout/sessions",
                         json=fixture("stripe", "session_created", REF="DEP-TEST0001"))
    session = adapter("stripe").create_checkout(checkout())
    form = parse_qs(call.calls[0].request.body)
    assert form["line_items[0][price_data][unit_amount]"] == ["450050"]
    assert form["client_reference_id"] == ["DEP-TEST0001"]
    assert call.calls[0].request.headers["Idempotency-Key"] == "checkout:DEP-TEST0001"
    assert session.gateway_reference == "cs_test_a1B2c3"


@responses.activate
def test_chapa_and_mercadopago_checkouts_send_major_units_exactly():
    chapa = responses.add(responses.POST, f"{BASE_URLS['chapa']}/transaction/initialize",
                          json=fixture("chapa", "initialize"))
    mp = responses.add(responses.POST, f"{BASE_URLS['mercadopago']}/checkout/preferences",
                       json=fixture("mercadopago", "preference"))
    adapter("chapa").create_checkout(checkout(currency="ETB", minor=10000))
    session = adapter("mercadopago").create_checkout(checkout(currency="BRL", minor=15075))
    assert json.loads(chapa.calls[0].request.body)["amount"] == "100.00"
    sent = mp.calls[0].request.body
    assert b'"unit_price": 150.75' in (sent if isinstance(sent, bytes) else sent.encode())
    assert mp.calls[0].request.headers["X-Idempotency-Key"] == "checkout:DEP-TEST0001"
    assert session.authorization_url.startswith("https://sandbox.mercadopago.com.br/")


@responses.activate
def test_virtual_account_requests_carry_the_identity_number_to_the_gateway_only():
    MonnifyGateway._tokens.clear()
    from payments.gateways.types import VirtualAccountRequest

    responses.add(responses.POST, MONNIFY_LOGIN_URL, json=fixture("monnify", "login"))
    call = responses.add(responses.POST, f"{BASE_URLS['monnify']}/api/v2/bank-transfer/reserved-accounts",
                         json=fixture("monnify", "reserved_account"))
    infos = adapter("monnify").create_virtual_account(VirtualAccountRequest(
        account_reference="ACCOUNT_REF", email="user@example.com", first_name="Ade", last_name="Bello",
        nin="12345678901"))
    assert json.loads(call.calls[0].request.body)["nin"] == "12345678901"
    assert [i.account_number for i in infos] == ["5000218391", "6000140770"]
    assert all("12345678901" not in repr(i) for i in infos)
    with pytest.raises(GatewayPermanentError):
        adapter("monnify").create_virtual_account(VirtualAccountRequest(
            account_reference="R", email="e@example.com", first_name="A", last_name="B"))
    MonnifyGateway._tokens.clear()


def test_every_gateway_has_an_adapter_and_explicit_timeouts():
    for name in registry.GATEWAY_NAMES:
        gateway = registry.get_gateway(name)
        connect, read = gateway.timeout()
        assert 0 < connect <= read


# --- settings from the environment (gaps 8, 9) --------------------------------------------------------


def test_paystack_and_monnify_verify_webhooks_with_the_secret_key_when_no_webhook_secret_is_set(monkeypatch):
    """Both sign with the secret key itself (gateways.md §1, §3): an empty WEBHOOK_SECRET
    defaults to it, and a delivery signed with the secret key verifies."""
    from config import settings as app_settings

    monkeypatch.setenv("PAYSTACK_SECRET_KEY", "sk_test_only_the_secret_key")
    monkeypatch.setenv("MONNIFY_API_KEY", "MK_TEST_X")
    monkeypatch.setenv("MONNIFY_SECRET_KEY", "monnify-client-secret-only")
    monkeypatch.setenv("FLUTTERWAVE_SECRET_KEY", "FLWSECK_TEST-x")
    gateways = app_settings._payment_gateways()
    for name, secret in (("paystack", "sk_test_only_the_secret_key"), ("monnify", "monnify-client-secret-only")):
        config = gateways[name]
        assert config["WEBHOOK_SECRET"] == secret and config["ENABLED"]
        body, _, query = delivery(name)
        gateway = registry.ADAPTERS[name](config)
        assert gateway.verify_signature(inbound(name, body, sign(name, body, secret=secret), query)).ok
        assert not gateway.verify_signature(inbound(name, body, sign(name, body, secret="other"), query)).ok
    # Flutterwave's secret hash is its own dashboard value: no default.
    assert gateways["flutterwave"]["WEBHOOK_SECRET"] == ""
    monkeypatch.setenv("MONNIFY_WEBHOOK_SECRET", "a-separate-one")
    assert app_settings._payment_gateways()["monnify"]["WEBHOOK_SECRET"] == "a-separate-one"


@responses.activate
def test_stripe_tolerance_and_paystack_preferred_bank_are_read_from_the_environment(monkeypatch):
    from config import settings as app_settings

    monkeypatch.setenv("STRIPE_TOLERANCE_SECONDS", "60")
    monkeypatch.setenv("PAYSTACK_PREFERRED_BANK", "titan-paystack")
    monkeypatch.setenv("PAYSTACK_TIMEOUT_SECONDS", "7.5")
    gateways = app_settings._payment_gateways()
    stripe_gateway = registry.ADAPTERS["stripe"]({**gateways["stripe"], "WEBHOOK_SECRET": SECRETS["stripe"]})
    assert stripe_gateway.tolerance == 60
    body, _, _ = delivery("stripe")
    now = int(time.time())
    stripe_gateway.clock = lambda: now
    assert not stripe_gateway.verify_signature(inbound("stripe", body, sign("stripe", body, timestamp=now - 61))).ok
    assert stripe_gateway.verify_signature(inbound("stripe", body, sign("stripe", body, timestamp=now - 59))).ok

    paystack = registry.ADAPTERS["paystack"](gateways["paystack"])
    assert paystack.timeout() == (5.0, 7.5)
    call = responses.add(responses.POST, f"{BASE_URLS['paystack']}/dedicated_account/assign",
                         json={"status": True, "message": "in progress"})
    from payments.gateways.types import VirtualAccountRequest

    paystack.create_virtual_account(VirtualAccountRequest(account_reference="VA1", email="a@example.com",
                                                          first_name="A", last_name="B"))
    assert json.loads(call.calls[0].request.body)["preferred_bank"] == "titan-paystack"
