"""Every documented status and code of every provider maps to the outcome we decided, and
anything undocumented is UNKNOWN (the rule that protects the money, DESIGN §3).

Cases come from vtu/tests/fixtures/<vendor>/status_table.json, each citing its source. Each
case goes through the real adapter over `responses`; the completeness checks make sure every
entry of the adapter's own tables is exercised by a fixture, and the property tests feed
codes nobody documented straight into the mappers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from vtu.providers import amigo, clubkonnect, vtpass
from vtu.providers.base import QUERY, RESEND, SEND, DataOrder, Outcome
from vtu.providers.transport import Exchange
from vtu.tests.providers.conftest import BASE_URLS, Calls, Clock, load_fixture, provider_config

NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
ADAPTERS = {"amigo": amigo.AmigoProvider, "vtpass": vtpass.VTpassProvider, "clubkonnect": clubkonnect.ClubKonnectProvider}
ENDPOINTS = {
    ("amigo", "buy_data"): ("POST", "/data/"),
    ("amigo", "resend"): ("POST", "/data/"),
    ("vtpass", "buy_data"): ("POST", "/pay"),
    ("vtpass", "query"): ("POST", "/requery"),
    ("clubkonnect", "buy_data"): ("GET", "/APIDatabundleV1.asp"),
    ("clubkonnect", "query"): ("GET", "/APIQueryV1.asp"),
}
PLAN_IDS = {"amigo": "1001", "vtpass": "mtn-10mb-100", "clubkonnect": "1000.0"}
RECHECK = {"amigo": "resend", "vtpass": "query", "clubkonnect": "query"}  # how each settles a lost answer
# Failures that, when they answer a recheck, still describe our order (all others say
# nothing about it: UNKNOWN). Written out here so a change to the adapters shows up.
DEFINITIVE_ON_RECHECK = {
    "amigo": {"failed"},
    "vtpass": {"000 reversed", "016 TRANSACTION FAILED", "040 TRANSACTION REVERSAL", "091 TRANSACTION NOT PROCESSED"},
    "clubkonnect": set(),
}


def cases(vendor: str) -> list[tuple[str, dict]]:
    return [(vendor, case) for case in load_fixture(vendor, "status_table.json")["cases"]]


ALL_CASES = cases("amigo") + cases("vtpass") + cases("clubkonnect")


@pytest.mark.parametrize(("vendor", "case"), ALL_CASES, ids=[f"{v}: {c['name']}" for v, c in ALL_CASES])
def test_documented_answer_maps_to_its_outcome(vendor, case):
    assert case.get("source"), "every case cites its source"
    clock = Clock(NOW)
    provider = ADAPTERS[vendor](provider_config(vendor), on_call=Calls(), clock=clock)
    operation = case.get("operation", "buy_data")
    request_id = vtpass.lagos_request_id(datetime.fromtimestamp(NOW - case.get("request_id_age_seconds", 0), UTC))
    method, path = ENDPOINTS[(vendor, operation)]
    order = DataOrder(request_id=request_id, network="MTN", phone_e164="+2348031234567", provider_plan_id=PLAN_IDS[vendor])
    with responses.RequestsMock() as mock:
        payload = {"body": case["text"]} if "text" in case else {"json": case["body"]}
        mock.add(method, BASE_URLS[vendor] + path, status=case["http_status"], **payload)
        if operation == "buy_data":
            result = provider.buy_data(order)
        else:
            assert operation == RECHECK[vendor]
            result = provider.recheck(order)  # what the requery engine calls

    expect = case["expect"]
    assert result.outcome == Outcome(expect["outcome"]), case["name"]
    assert result.failover_allowed is expect["failover_allowed"], case["name"]
    assert result.reversed is expect.get("reversed", False), case["name"]
    if result.failover_allowed or result.reversed:
        assert result.outcome == Outcome.FAILED  # failover and reversal only ever follow a definitive failure
    for field in ("provider_reference", "cost_kobo"):
        if field in expect:
            assert getattr(result, field) == expect[field]


@pytest.mark.parametrize("vendor", ["amigo", "vtpass", "clubkonnect"])
def test_every_failure_of_a_send_has_a_recheck_case(vendor):
    """The same refusal answering a query or resend says nothing about the order sent earlier
    (it may have been delivered): each send failure also has a case as a recheck answer, and
    only the listed ones keep failing the purchase there."""
    by_answer = {}
    for _vendor, case in cases(vendor):
        key = (case["http_status"], repr(case.get("body", case.get("text"))), case.get("request_id_age_seconds"))
        by_answer.setdefault(key, {})[case.get("operation", "buy_data")] = case
    failures = [answers for answers in by_answer.values()
                if answers.get("buy_data", {}).get("expect", {}).get("outcome") == "failed"]
    assert failures
    for answers in failures:
        send, recheck = answers["buy_data"], answers.get(RECHECK[vendor])
        assert recheck is not None, f"{send['name']} has no {RECHECK[vendor]} case"
        if send["name"] in DEFINITIVE_ON_RECHECK[vendor]:
            assert recheck["expect"] == send["expect"], send["name"]
        else:
            assert recheck["expect"] == {"outcome": "unknown", "failover_allowed": False}, send["name"]


def documented_in_fixtures(vendor: str) -> set[str]:
    found: set[str] = set()
    for _vendor, case in cases(vendor):
        if case.get("documents"):
            found.add(case["documents"])
        found.update(case.get("also_documents", []))
    return found


def test_every_documented_amigo_status_and_error_has_a_case():
    documented = {f"status:{s}" for s in amigo.STATUSES} | {f"error:{e}" for e in amigo.ERRORS}
    assert documented_in_fixtures("amigo") == documented


def test_every_documented_vtpass_code_and_status_has_a_case():
    documented = set(vtpass.CODES) | {f"status:{s}" for s in vtpass.TRANSACTION_STATUSES}
    assert documented_in_fixtures("vtpass") == documented


def test_every_documented_clubkonnect_state_and_error_has_a_case():
    documented = set(clubkonnect.ORDER_STATES) | set(clubkonnect.ERRORS) | set(clubkonnect.STATUS_CODES)
    assert documented_in_fixtures("clubkonnect") == documented


# --- anything unmapped is UNKNOWN -------------------------------------------------------------

texts = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N", "P")), max_size=12)
ordinary_statuses = st.sampled_from([200, 201, 400, 404, 409, 422])


def exchange(body, status=200) -> Exchange:
    return Exchange(status_code=status, body=body, text="", error="", sent=True)


@given(status=texts, error=texts, success=st.one_of(st.booleans(), st.none()), http=ordinary_statuses)
def test_amigo_unmapped_status_or_error_is_unknown(status, error, success, http):
    if status.strip().lower() in amigo.STATUSES or error.strip().lower() in amigo.ERRORS:
        return
    body = {"success": success, "status": status, "error": error, "reference": "AMG-1"}
    assert amigo.classify(exchange(body, http)).outcome == Outcome.UNKNOWN


@given(code=st.one_of(texts, st.integers(min_value=-5, max_value=2000)), http=ordinary_statuses)
def test_vtpass_unmapped_code_is_unknown(code, http):
    if vtpass._code(code) in vtpass.CODES:
        return
    provider = vtpass.VTpassProvider(provider_config("vtpass"))
    assert provider.classify(exchange({"code": code, "response_description": "?"}, http)).outcome == Outcome.UNKNOWN


@given(status=texts)
def test_vtpass_unmapped_transaction_status_is_unknown(status):
    if status.strip().lower() in vtpass.TRANSACTION_STATUSES:
        return
    provider = vtpass.VTpassProvider(provider_config("vtpass"))
    body = {"code": "000", "content": {"transactions": {"status": status, "transactionId": "1"}}}
    assert provider.classify(exchange(body)).outcome == Outcome.UNKNOWN


@given(code=texts, status=texts)
def test_clubkonnect_unmapped_state_is_unknown(code, status):
    known = set(clubkonnect.ORDER_STATES) | set(clubkonnect.ERRORS)
    if status.strip().upper() in known or code.strip() in clubkonnect.STATUS_CODES:
        return
    assert clubkonnect.classify(exchange({"statuscode": code, "status": status})).outcome == Outcome.UNKNOWN


NOT_SENT = (
    Exchange(None, None, "", "connect_timeout", sent=False),
    Exchange(None, None, "", "connection_refused", sent=False),
)
MAY_HAVE_LEFT = (
    Exchange(None, None, "", "timeout", sent=True),
    Exchange(None, None, "", "connection_error", sent=True),
    Exchange(200, None, "<html>", "invalid_json", sent=True),
    Exchange(500, None, "", "invalid_json", sent=True),
    Exchange(504, {"success": False}, "", "", sent=True),
)
REFUSED = (
    Exchange(401, None, "", "invalid_json", sent=True),
    Exchange(403, None, "<html>Forbidden</html>", "invalid_json", sent=True),
    Exchange(429, None, "", "invalid_json", sent=True),
)


def mapper(vendor: str):
    return {
        "amigo": amigo.classify,
        "vtpass": vtpass.VTpassProvider(provider_config("vtpass")).classify,
        "clubkonnect": clubkonnect.classify,
    }[vendor]


@pytest.mark.parametrize("vendor", ["amigo", "vtpass", "clubkonnect"])
@pytest.mark.parametrize("answer", NOT_SENT + MAY_HAVE_LEFT + REFUSED)
def test_transport_failures_of_a_send_are_unknown_unless_never_sent(vendor, answer):
    result = mapper(vendor)(answer, operation=SEND)

    refused_or_not_sent = answer in NOT_SENT or answer in REFUSED
    expected = (Outcome.FAILED, True) if refused_or_not_sent else (Outcome.UNKNOWN, False)
    assert (result.outcome, result.failover_allowed) == expected


@pytest.mark.parametrize(("vendor", "operation"), [("amigo", RESEND), ("vtpass", QUERY), ("clubkonnect", QUERY)])
@pytest.mark.parametrize("answer", NOT_SENT + MAY_HAVE_LEFT + REFUSED)
def test_transport_failures_of_a_recheck_are_always_unknown(vendor, operation, answer):
    """A query or resend that never left, or was refused, learned nothing about the order."""
    result = mapper(vendor)(answer, operation=operation)

    assert (result.outcome, result.failover_allowed) == (Outcome.UNKNOWN, False)
