"""ClubKonnect adapter over `responses`: GET wire format, credentials never logged, async flow."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
from responses import matchers

from vtu.providers.base import AirtimeOrder, DataOrder, Outcome, ProviderError
from vtu.providers.clubkonnect import ClubKonnectProvider
from vtu.tests.providers.conftest import Calls, load_fixture, provider_config, secret_values

DATA = "https://clubkonnect.test/APIDatabundleV1.asp"
QUERY = "https://clubkonnect.test/APIQueryV1.asp"
CREDENTIALS = {"UserID": "CK100S3CR3T05", "APIKey": "CKAPIKEYS3CR3T0006"}
CASES = {case["name"]: case for case in load_fixture("clubkonnect", "status_table.json")["cases"]}
ORDER = DataOrder(request_id="req-ck-1", network="GLO", phone_e164="+2348051234567", provider_plan_id="1000.01")


@pytest.fixture
def ck(calls):
    return ClubKonnectProvider(provider_config("clubkonnect", CALLBACK_URL="https://example.com/cb"), on_call=calls)


def assert_no_secrets(calls: Calls, caplog) -> None:
    logged = calls.dump() + caplog.text + "".join(str(record.msg) for record in caplog.records)
    for secret in secret_values("clubkonnect"):
        assert secret not in logged


@responses.activate
def test_order_is_received_then_completed_by_query(ck, calls, caplog):
    caplog.set_level(logging.INFO)
    responses.get(DATA, json=CASES["ORDER_RECEIVED (100)"]["body"], match=[matchers.query_param_matcher({
        **CREDENTIALS, "MobileNetwork": "02", "DataPlan": "1000.01", "MobileNumber": "08051234567",
        "RequestID": "req-ck-1", "CallBackURL": "https://example.com/cb",
    })])
    responses.get(QUERY, json=CASES["ORDER_COMPLETED (200) on query"]["body"],
                  match=[matchers.query_param_matcher({**CREDENTIALS, "RequestID": "req-ck-1"})])

    received = ck.buy_data(ORDER)
    completed = ck.recheck(ORDER, provider_reference=received.provider_reference)

    assert (received.outcome, received.provider_reference) == (Outcome.PENDING, "6547382910")
    assert (completed.outcome, completed.cost_kobo) == (Outcome.SUCCESS, 24_500)
    assert "UserID=%5BREDACTED%5D" in calls[0].url and "APIKey=%5BREDACTED%5D" in calls[0].url
    assert "RequestID=req-ck-1" in calls[0].url
    assert_no_secrets(calls, caplog)


@pytest.mark.parametrize(("network", "code"), [("MTN", "01"), ("GLO", "02"), ("9MOBILE", "03"), ("AIRTEL", "04")])
@responses.activate
def test_airtime_network_codes_and_whole_naira(ck, network, code):
    responses.get("https://clubkonnect.test/APIAirtimeV1.asp", json=CASES["ORDER_RECEIVED (100)"]["body"],
                  match=[matchers.query_param_matcher({"MobileNetwork": code, "Amount": "200"}, strict_match=False)])

    order = AirtimeOrder(request_id="a", network=network, phone_e164="+2348031234567", amount_kobo=20_000)
    assert ck.buy_airtime(order).outcome == Outcome.PENDING


@responses.activate
def test_failure_cancelled_and_bad_credentials(ck):
    responses.get(QUERY, json=CASES["ORDER_CANCELLED"]["body"])
    responses.get(DATA, json=CASES["INVALID_CREDENTIALS"]["body"])
    responses.get(DATA, json=CASES["INVALID_RECIPIENT"]["body"])

    cancelled = ck.query(request_id="req-ck-1")
    credentials = ck.buy_data(ORDER)
    recipient = ck.buy_data(ORDER)

    assert (cancelled.outcome, cancelled.reversed) == (Outcome.FAILED, True)
    assert (credentials.outcome, credentials.failover_allowed) == (Outcome.FAILED, True)
    assert (recipient.outcome, recipient.failover_allowed) == (Outcome.FAILED, False)


@responses.activate
def test_timeout_and_errors_never_leak_the_query_string_credentials(ck, calls, caplog):
    """requests' exception text carries the full URL with APIKey; it must go nowhere."""
    caplog.set_level(logging.DEBUG)
    leaky = "HTTPSConnectionPool: Max retries exceeded with url: /APIDatabundleV1.asp?UserID=CK100S3CR3T05&APIKey=CKAPIKEYS3CR3T0006"
    responses.get(DATA, body=requests.ReadTimeout(leaky))
    responses.get(DATA, body=requests.ConnectionError(leaky))

    assert ck.buy_data(ORDER).outcome == Outcome.UNKNOWN
    assert ck.buy_data(ORDER).outcome == Outcome.UNKNOWN
    assert [log.error for log in calls] == ["timeout", "connection_error"]
    assert_no_secrets(calls, caplog)


@pytest.mark.parametrize("body", ["<html><body>Service Unavailable</body></html>", "ORDER_RECEIVED"])
@responses.activate
def test_malformed_body_is_unknown(ck, body):
    responses.get(DATA, body=body)

    assert ck.buy_data(ORDER).outcome == Outcome.UNKNOWN


@responses.activate
def test_duplicate_request_id_is_not_guessed(ck):
    """ClubKonnect documents no duplicate answer; an undocumented one is unknown, not failed."""
    responses.get(DATA, json={"status": "DUPLICATE_REQUESTID", "orderid": ""})

    assert ck.buy_data(ORDER).outcome == Outcome.UNKNOWN


@responses.activate
def test_plans(ck):
    responses.get("https://clubkonnect.test/APIDatabundlePlansV2.asp", json=load_fixture("clubkonnect", "plans_v2.json")["body"])

    plans = {plan.provider_plan_id: plan for plan in ck.list_plans()}

    assert set(plans) == {"500.0", "1000.0", "1000.01", "1500.01", "499.91"}
    assert (plans["500.0"].network, plans["500.0"].plan_type, plans["500.0"].size_mb, plans["500.0"].cost_kobo) == ("MTN", "sme", 500, 14_000)
    assert (plans["1000.01"].network, plans["1000.01"].plan_type) == ("GLO", "corporate")
    assert (plans["1500.01"].network, plans["1500.01"].size_mb) == ("9MOBILE", 1536)
    assert (plans["499.91"].network, plans["499.91"].validity_days) == ("AIRTEL", 7)


@responses.activate
def test_balance(ck, calls, caplog):
    caplog.set_level(logging.INFO)
    responses.get("https://clubkonnect.test/APIWalletBalanceV1.asp", json=load_fixture("clubkonnect", "wallet_balance.json")["body"])
    responses.get("https://clubkonnect.test/APIWalletBalanceV1.asp", json={"status": "INVALID_CREDENTIALS"})

    assert ck.balance_kobo() == 1_024_050
    with pytest.raises(ProviderError):
        ck.balance_kobo()
    assert_no_secrets(calls, caplog)


def test_callback_names_our_request_id(ck):
    query = load_fixture("clubkonnect", "callback.json")["query"]

    assert ck.callback_request_id(query) == "a8f5f167f44f4964e6c998dee827110c"
    assert ck.callback_request_id({"RequestID": "X1"}) == "X1"
    assert ck.callback_request_id({}) is None
