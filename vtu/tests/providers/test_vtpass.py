"""VTpass adapter over `responses`: auth headers, request ids, outcomes, duplicates, requery."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from vtu.providers.base import AirtimeOrder, DataOrder, Outcome, ProviderError
from vtu.providers.vtpass import VTpassProvider, lagos_request_id
from vtu.tests.providers.conftest import Calls, Clock, load_fixture, provider_config, secret_values

PAY = "https://vtpass.test/api/pay"
REQUERY = "https://vtpass.test/api/requery"
NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC = 16:06 in Lagos
REQUEST_ID = "202506151606abcdef"
CASES = {case["name"]: case for case in load_fixture("vtpass", "status_table.json")["cases"]}
DELIVERED = CASES["000 delivered"]["body"]


def order(request_id: str = REQUEST_ID) -> DataOrder:
    return DataOrder(request_id=request_id, network="MTN", phone_e164="+2348011111111", provider_plan_id="mtn-10mb-100")


@pytest.fixture
def vtpass(calls):
    return VTpassProvider(provider_config("vtpass"), on_call=calls, clock=Clock(NOW))


def assert_no_secrets(calls: Calls, caplog) -> None:
    logged = calls.dump() + caplog.text + "".join(str(record.msg) for record in caplog.records)
    for secret in secret_values("vtpass"):
        assert secret not in logged


def test_new_request_id_starts_with_the_lagos_date_time(vtpass):
    request_id = vtpass.new_request_id()

    assert request_id.startswith("202506151606") and len(request_id) >= 12 and request_id.isalnum()
    assert vtpass.new_request_id() != request_id
    assert lagos_request_id(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)).startswith("202601010030")


def test_a_request_id_without_the_date_is_refused_before_sending(vtpass, calls):
    with pytest.raises(ValueError):
        vtpass.buy_data(order("abc123"))
    assert calls == []


@responses.activate
def test_data_purchase_wire_format_and_success(vtpass, calls, caplog):
    caplog.set_level(logging.INFO)
    responses.post(PAY, json=DELIVERED, match=[
        matchers.header_matcher({"api-key": "vtp-api-key-s3cr3t-0002", "secret-key": "SK_s3cr3tSecret0004"}),
        matchers.json_params_matcher({
            "request_id": REQUEST_ID, "serviceID": "mtn-data", "billersCode": "08011111111",
            "variation_code": "mtn-10mb-100", "phone": "08011111111",
        }),
    ])

    result = vtpass.buy_data(order())

    assert result.outcome == Outcome.SUCCESS
    assert (result.provider_reference, result.cost_kobo) == ("17214960437498839466545441", 9_600)
    assert "public-key" not in responses.calls[0].request.headers
    assert calls[0].request_id == REQUEST_ID and calls[0].status_code == 200
    assert_no_secrets(calls, caplog)


@responses.activate
def test_airtime_sends_whole_naira_to_the_network_service(vtpass):
    responses.post(PAY, json=DELIVERED, match=[matchers.json_params_matcher(
        {"request_id": REQUEST_ID, "serviceID": "etisalat", "amount": 500, "phone": "08091234567"})])

    airtime = AirtimeOrder(request_id=REQUEST_ID, network="9MOBILE", phone_e164="+2348091234567", amount_kobo=50_000)
    assert vtpass.buy_airtime(airtime).outcome == Outcome.SUCCESS


@responses.activate
def test_pending_then_requery_settles(vtpass):
    responses.post(PAY, json=CASES["099 TRANSACTION IS PROCESSING"]["body"])
    responses.post(REQUERY, json=DELIVERED, match=[matchers.json_params_matcher({"request_id": REQUEST_ID})])

    assert vtpass.buy_data(order()).outcome == Outcome.PENDING
    assert vtpass.recheck(order()).outcome == Outcome.SUCCESS


@responses.activate
def test_failure_and_out_of_float(vtpass):
    responses.post(PAY, json=CASES["016 TRANSACTION FAILED"]["body"])
    responses.post(PAY, json=CASES["018 LOW WALLET BALANCE"]["body"])

    failed = vtpass.buy_data(order())
    no_float = vtpass.buy_data(order())

    assert (failed.outcome, failed.failover_allowed) == (Outcome.FAILED, False)
    assert (no_float.outcome, no_float.failover_allowed) == (Outcome.FAILED, True)


@responses.activate
def test_timeout_is_unknown(vtpass, calls, caplog):
    caplog.set_level(logging.INFO)
    responses.post(PAY, body=requests.ReadTimeout())

    assert vtpass.buy_data(order()).outcome == Outcome.UNKNOWN
    assert calls[0].error == "timeout"
    assert_no_secrets(calls, caplog)


@pytest.mark.parametrize("body", ["<html>oops</html>", "null", "[]"])
@responses.activate
def test_malformed_body_is_unknown(vtpass, body):
    responses.post(PAY, body=body)

    assert vtpass.buy_data(order()).outcome == Outcome.UNKNOWN


@responses.activate
def test_duplicate_request_id_014_is_unknown_and_settled_by_requery(vtpass):
    """014: an earlier send with this request id reached VTpass. Never a failure: requery it."""
    responses.post(PAY, json=CASES["014 REQUEST ID ALREADY EXIST"]["body"])
    responses.post(REQUERY, json=DELIVERED)

    duplicate = vtpass.buy_data(order())

    assert duplicate.outcome == Outcome.UNKNOWN and not duplicate.failover_allowed
    assert vtpass.query(request_id=REQUEST_ID).outcome == Outcome.SUCCESS


@responses.activate
def test_likely_duplicate_019_is_a_refusal_without_failover(vtpass):
    responses.post(PAY, json=CASES["019 LIKELY DUPLICATE TRANSACTION"]["body"])

    result = vtpass.buy_data(order())

    assert (result.outcome, result.failover_allowed) == (Outcome.FAILED, False)


@responses.activate
def test_requery_not_found_is_trusted_only_after_the_grace_period(calls):
    responses.post(REQUERY, json={"code": "015", "response_description": "INVALID REQUEST ID"})
    clock = Clock(NOW)
    provider = VTpassProvider(provider_config("vtpass", NOT_FOUND_GRACE_SECONDS=600), on_call=calls, clock=clock)

    assert provider.query(request_id=REQUEST_ID).outcome == Outcome.UNKNOWN
    clock.advance(600)  # the id's minute started 40 s before NOW; grace + one minute of slack
    assert provider.query(request_id=REQUEST_ID).outcome == Outcome.UNKNOWN
    clock.advance(60)
    never_arrived = provider.query(request_id=REQUEST_ID)
    assert (never_arrived.outcome, never_arrived.failover_allowed) == (Outcome.FAILED, True)


@responses.activate
def test_reversal_after_delivery(vtpass):
    responses.post(REQUERY, json=CASES["000 reversed"]["body"])

    result = vtpass.query(request_id=REQUEST_ID)

    assert (result.outcome, result.reversed) == (Outcome.FAILED, True)


@responses.activate
def test_plans_accept_both_spellings_of_variations(vtpass):
    responses.get("https://vtpass.test/api/service-variations", json=load_fixture("vtpass", "service_variations_mtn.json")["body"],
                  match=[matchers.query_param_matcher({"serviceID": "mtn-data"}),
                         matchers.header_matcher({"api-key": "vtp-api-key-s3cr3t-0002", "public-key": "PK_s3cr3tPublic0003"})])
    for service in ("airtel-data", "etisalat-data"):
        responses.get("https://vtpass.test/api/service-variations", json={"content": {"variations": []}},
                      match=[matchers.query_param_matcher({"serviceID": service})])
    responses.get("https://vtpass.test/api/service-variations", json=load_fixture("vtpass", "service_variations_misspelt.json")["body"],
                  match=[matchers.query_param_matcher({"serviceID": "glo-data"})])

    plans = {plan.provider_plan_id: plan for plan in vtpass.list_plans()}

    assert set(plans) == {"mtn-10mb-100", "mtn-50mb-200", "mtn-1gb-1000", "glo100"}
    assert (plans["mtn-1gb-1000"].size_mb, plans["mtn-1gb-1000"].validity_days, plans["mtn-1gb-1000"].cost_kobo) == (1536, 30, 100_000)
    assert (plans["mtn-10mb-100"].validity_days, plans["glo100"].network, plans["glo100"].size_mb) == (1, "GLO", 105)


@responses.activate
def test_balance(vtpass):
    responses.get("https://vtpass.test/api/balance", json=load_fixture("vtpass", "balance.json")["body"])
    responses.get("https://vtpass.test/api/balance", json={"code": "087", "response_description": "INVALID CREDENTIALS"})

    assert vtpass.balance_kobo() == 4_027_025
    with pytest.raises(ProviderError):
        vtpass.balance_kobo()


def test_callback_names_our_request_id(vtpass):
    payload = load_fixture("vtpass", "callback_transaction_update.json")["body"]

    assert vtpass.callback_request_id(payload) == "202511041537t87w19vh"
    assert vtpass.callback_request_id({"type": "variations-update"}) is None
