"""Amigo adapter over `responses`: wire format, outcomes, timeouts, replay, secrets."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import responses
from responses import matchers

from vtu.providers.amigo import AmigoProvider
from vtu.providers.base import AirtimeOrder, DataOrder, Outcome, ProductNotSupported, ProviderError, QueryNotSupported
from vtu.tests.providers.conftest import Calls, load_fixture, provider_config, secret_values

URL = "https://amigo.test/api/data/"
ORDER = DataOrder(request_id="a3f1c2d4e5", network="MTN", phone_e164="+2348031234567", provider_plan_id="1001")
CASES = {case["name"]: case for case in load_fixture("amigo", "status_table.json")["cases"]}


@pytest.fixture
def amigo(calls):
    return AmigoProvider(provider_config("amigo"), on_call=calls)


def assert_no_secrets(calls: Calls, caplog: pytest.LogCaptureFixture) -> None:
    logged = calls.dump() + caplog.text + "".join(str(record.msg) for record in caplog.records)
    for secret in secret_values("amigo"):
        assert secret not in logged


@responses.activate
def test_success_sends_the_documented_wire_format(amigo, calls, caplog):
    caplog.set_level(logging.INFO)
    responses.post(
        URL, json=CASES["delivered"]["body"],
        match=[
            matchers.header_matcher({"X-API-Key": "amg_test_s3cr3tAmigoToken0001", "Idempotency-Key": "a3f1c2d4e5"}),
            matchers.json_params_matcher({"network": 1, "mobile_number": "08031234567", "plan": 1001, "Ported_number": True}),
        ],
    )

    result = amigo.buy_data(ORDER)

    assert result.outcome == Outcome.SUCCESS
    assert (result.provider_reference, result.cost_kobo) == ("AMG-20250928203716-c40306", 44_900)
    assert "successfully gifted" in result.message
    (log,) = calls
    assert (log.provider, log.operation, log.method, log.status_code, log.request_id) == (
        "amigo", "buy_data", "POST", 200, "a3f1c2d4e5",
    )
    assert log.request_body["mobile_number"] == "08031234567" and log.response_body["status"] == "delivered"
    assert_no_secrets(calls, caplog)


@pytest.mark.parametrize(
    ("network", "amigo_id"), [("MTN", 1), ("GLO", 2), ("AIRTEL", 4), ("9MOBILE", 9)]
)
@responses.activate
def test_network_ids(amigo, network, amigo_id):
    responses.post(URL, json=CASES["delivered"]["body"], match=[matchers.json_params_matcher(
        {"network": amigo_id, "mobile_number": "08031234567", "plan": 1001, "Ported_number": True})])

    order = DataOrder(request_id="r", network=network, phone_e164="+2348031234567", provider_plan_id="1001")
    assert amigo.buy_data(order).outcome == Outcome.SUCCESS


@responses.activate
def test_pending_and_failure(amigo):
    responses.post(URL, json=CASES["pending"]["body"])
    responses.post(URL, json=CASES["failed"]["body"])

    assert amigo.buy_data(ORDER).outcome == Outcome.PENDING
    failed = amigo.buy_data(ORDER)
    assert failed.outcome == Outcome.FAILED and not failed.failover_allowed


@responses.activate
def test_read_timeout_is_unknown_and_never_refundable(amigo, calls, caplog):
    caplog.set_level(logging.INFO)
    responses.post(URL, body=requests.ReadTimeout("Read timed out. (read timeout=1.0)"))

    result = amigo.buy_data(ORDER)

    assert result.outcome == Outcome.UNKNOWN and not result.failover_allowed
    assert calls[0].error == "timeout" and calls[0].status_code is None
    assert_no_secrets(calls, caplog)


@responses.activate
def test_connect_timeout_was_never_sent_so_it_fails_over(amigo, calls):
    responses.post(URL, body=requests.ConnectTimeout("connect timed out"))

    result = amigo.buy_data(ORDER)

    assert result.outcome == Outcome.FAILED and result.failover_allowed
    assert calls[0].error == "connect_timeout"


@responses.activate
def test_connection_reset_after_sending_is_unknown(amigo):
    responses.post(URL, body=requests.ConnectionError("('Connection aborted.', RemoteDisconnected())"))

    assert amigo.buy_data(ORDER).outcome == Outcome.UNKNOWN


@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", "", '{"success": tru'])
@responses.activate
def test_malformed_body_is_unknown(amigo, calls, body):
    responses.post(URL, body=body, status=200)

    result = amigo.buy_data(ORDER)

    assert result.outcome == Outcome.UNKNOWN
    assert calls[0].error == "invalid_json"


@responses.activate
def test_5xx_is_unknown_even_with_a_json_body(amigo):
    responses.post(URL, json={"success": False, "status": "failed"}, status=500)

    assert amigo.buy_data(ORDER).outcome == Outcome.UNKNOWN


@responses.activate
def test_duplicate_replay_with_the_same_idempotency_key_returns_the_stored_outcome(amigo, calls):
    """recheck() on Amigo resends the same order with the same Idempotency-Key: a replay."""
    responses.post(URL, body=requests.ReadTimeout())
    responses.post(URL, json=CASES["delivered"]["body"], match=[matchers.header_matcher({"Idempotency-Key": "a3f1c2d4e5"})])

    first = amigo.buy_data(ORDER)
    settled = amigo.recheck(ORDER)

    assert (first.outcome, settled.outcome) == (Outcome.UNKNOWN, Outcome.SUCCESS)
    assert json.loads(responses.calls[0].request.body) == json.loads(responses.calls[1].request.body)
    assert {call.request.headers["Idempotency-Key"] for call in responses.calls} == {"a3f1c2d4e5"}
    assert amigo.resend_same_request_id_is_safe and not amigo.supports_query


def test_query_is_not_supported_and_airtime_is_not_sold(amigo, calls):
    with pytest.raises(QueryNotSupported):
        amigo.query(request_id="x")
    assert not amigo.supports(kind="airtime", network="MTN") and amigo.supports(kind="data", network="GLO")
    with pytest.raises(ProductNotSupported) as error:
        amigo.buy_airtime(AirtimeOrder(request_id="x", network="MTN", phone_e164="+2348031234567", amount_kobo=10_000))
    assert error.value.code == "UNSUPPORTED_PRODUCT"
    with pytest.raises(ProductNotSupported):
        amigo.buy_data(DataOrder(request_id="x", network="MTN", phone_e164="+2348031234567", provider_plan_id="MTN_1GB"))
    assert calls == []  # nothing was sent


@responses.activate
def test_plans_from_the_efficiency_list(amigo):
    responses.get("https://amigo.test/api/plans/efficiency", json=load_fixture("amigo", "plans_efficiency.json")["body"])

    plans = {plan.provider_plan_id: plan for plan in amigo.list_plans()}

    assert set(plans) == {"5000", "1001", "6666", "261"}
    assert (plans["1001"].network, plans["1001"].size_mb, plans["1001"].validity_days, plans["1001"].cost_kobo) == (
        "MTN", 1024, 30, 44_900,
    )
    assert plans["5000"].size_mb == 512 and plans["261"].network == "GLO"


@responses.activate
def test_wallet_balance_in_kobo(amigo):
    responses.get("https://amigo.test/api/wallet/", json=load_fixture("amigo", "wallet.json")["body"])

    assert amigo.balance_kobo() == 100_000_050


@responses.activate
def test_unreadable_balance_raises(amigo):
    responses.get("https://amigo.test/api/wallet/", json={"success": True}, status=200)
    responses.get("https://amigo.test/api/wallet/", status=503)

    for _ in range(2):
        with pytest.raises(ProviderError):
            amigo.balance_kobo()
