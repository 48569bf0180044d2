"""The sandbox provider: the documented number table (docs/sandbox.md), no HTTP, no database."""

from __future__ import annotations

import pytest
from django.test import override_settings

from vtu.providers import registry
from vtu.providers.base import AirtimeOrder, DataOrder, Outcome, ProviderNotConfigured
from vtu.providers.sandbox import PLANS, SandboxProvider

PENDING_SECONDS = 20


def make(calls, clock, **overrides):
    config = {
        "NAME": "sandbox", "CONNECT_TIMEOUT_SECONDS": 1.0, "READ_TIMEOUT_SECONDS": 5.0,
        "SLOW_SECONDS": 0.0, "PENDING_SECONDS": PENDING_SECONDS, **overrides,
    }
    provider = SandboxProvider(config, on_call=calls, clock=clock)
    provider.sleep = lambda seconds: clock.advance(seconds)  # slow numbers move the fake clock
    return provider


def data_order(suffix: str, request_id: str = "req-1") -> DataOrder:
    return DataOrder(
        request_id=request_id, network="MTN", phone_e164=f"+234803123{suffix}", provider_plan_id="MTN_1GB_30D"
    )


@pytest.mark.parametrize(
    ("suffix", "outcome", "failover"),
    [
        ("4567", Outcome.SUCCESS, False),
        ("0001", Outcome.FAILED, False),
        ("0002", Outcome.PENDING, False),
        ("0003", Outcome.PENDING, False),
        ("0004", Outcome.UNKNOWN, False),
        ("0005", Outcome.SUCCESS, False),
        ("0006", Outcome.FAILED, True),
    ],
)
def test_first_answer_follows_the_number_table(calls, clock, suffix, outcome, failover):
    result = make(calls, clock).buy_data(data_order(suffix))

    assert result.outcome == outcome
    assert result.failover_allowed is failover
    assert len(calls) == 1 and calls[0].operation == "buy_data" and calls[0].request_id == "req-1"


@pytest.mark.parametrize(("suffix", "final"), [("0002", Outcome.SUCCESS), ("0003", Outcome.FAILED)])
def test_pending_settles_through_query_after_pending_seconds(calls, clock, suffix, final):
    provider = make(calls, clock)
    first = provider.buy_data(data_order(suffix))
    assert first.outcome == Outcome.PENDING and first.provider_reference.startswith("SBX-")

    clock.advance(PENDING_SECONDS - 1)
    assert provider.query(request_id="req-1", provider_reference=first.provider_reference).outcome == Outcome.PENDING

    clock.advance(1)
    settled = provider.query(request_id="req-1", provider_reference=first.provider_reference)
    assert settled.outcome == final


def test_pending_settles_in_another_instance_without_shared_state(calls, clock):
    """No database, no memory: a fresh adapter (another worker) settles from the reference."""
    first = make(calls, clock).buy_data(data_order("0002"))
    clock.advance(PENDING_SECONDS)

    assert make(calls, clock).query(request_id="req-1", provider_reference=first.provider_reference).outcome == Outcome.SUCCESS


def test_timeout_has_no_reference_and_a_later_query_says_delivered(calls, clock):
    provider = make(calls, clock)
    lost = provider.buy_data(data_order("0004"))

    assert lost.outcome == Outcome.UNKNOWN and lost.provider_reference == ""
    assert calls[0].error == "timeout" and calls[0].status_code is None
    assert provider.recheck(data_order("0004")).outcome == Outcome.SUCCESS


@pytest.mark.parametrize(
    ("suffix", "before", "after", "failover"),
    [
        ("4567", Outcome.SUCCESS, Outcome.SUCCESS, False),
        ("0001", Outcome.FAILED, Outcome.FAILED, False),  # was "delivered" whatever the number
        ("0002", Outcome.PENDING, Outcome.SUCCESS, False),
        ("0003", Outcome.PENDING, Outcome.FAILED, False),
        ("0004", Outcome.SUCCESS, Outcome.SUCCESS, False),
        ("0005", Outcome.SUCCESS, Outcome.SUCCESS, False),
        ("0006", Outcome.FAILED, Outcome.FAILED, True),  # never accepted: no such order
    ],
)
def test_a_recheck_without_a_reference_answers_by_the_numbers_scenario(calls, clock, suffix, before, after, failover):
    """A worker killed mid-call leaves an attempt with no reference: the sandbox answers what
    the number's scenario comes to, timed from the creation time in our request id."""
    provider = make(calls, clock)
    request_id = provider.new_request_id()
    order = data_order(suffix, request_id=request_id)

    early = provider.recheck(order)
    clock.advance(PENDING_SECONDS)
    late = provider.recheck(order)

    assert (early.outcome, late.outcome) == (before, after)
    assert late.failover_allowed is failover
    assert calls[-1].operation == "query" and calls[-1].request_id == request_id


def test_a_bare_query_without_a_reference_is_unknown(calls, clock):
    assert make(calls, clock).query(request_id="req-1").outcome == Outcome.UNKNOWN


def test_request_ids_are_unique_and_carry_their_creation_time(calls, clock):
    provider = make(calls, clock)

    first, second = provider.new_request_id(), provider.new_request_id()

    assert first != second and len(first) <= 64
    assert int(first[3:16]) == int(clock.now * 1000)


def test_slow_number_waits_slow_seconds_then_succeeds(calls, clock):
    provider = make(calls, clock, SLOW_SECONDS=3.0)
    started = clock.now

    assert provider.buy_data(data_order("0005")).outcome == Outcome.SUCCESS
    assert clock.now - started == 3.0


def test_slow_beyond_the_read_timeout_is_a_timeout(calls, clock):
    provider = make(calls, clock, SLOW_SECONDS=9.0, READ_TIMEOUT_SECONDS=5.0)

    result = provider.buy_data(data_order("0005"))

    assert result.outcome == Outcome.UNKNOWN and result.provider_reference == ""


def test_reference_of_another_request_is_unknown(calls, clock):
    provider = make(calls, clock)
    first = provider.buy_data(data_order("0002", request_id="req-A"))
    clock.advance(PENDING_SECONDS)

    assert provider.query(request_id="req-B", provider_reference=first.provider_reference).outcome == Outcome.UNKNOWN


def test_unknown_plan_fails_before_acceptance_so_failover_is_allowed(calls, clock):
    order = DataOrder(request_id="r", network="MTN", phone_e164="+2348031234567", provider_plan_id="NOPE")

    result = make(calls, clock).buy_data(order)

    assert result.outcome == Outcome.FAILED and result.failover_allowed


def test_airtime_follows_the_same_table_and_charges_98_percent(calls, clock):
    provider = make(calls, clock)
    ok = provider.buy_airtime(AirtimeOrder(request_id="a1", network="GLO", phone_e164="+2348051234567", amount_kobo=50_000))
    failed = provider.buy_airtime(AirtimeOrder(request_id="a2", network="GLO", phone_e164="+2348051230001", amount_kobo=50_000))

    assert ok.outcome == Outcome.SUCCESS and ok.cost_kobo == 49_000
    assert failed.outcome == Outcome.FAILED


def test_balance_and_plans_cover_all_four_networks(calls, clock):
    provider = make(calls, clock)

    plans = provider.list_plans()

    assert provider.balance_kobo() == 100_000_000
    assert {plan.network for plan in plans} == {"MTN", "AIRTEL", "GLO", "9MOBILE"}
    assert all(plan.cost_kobo > 0 and plan.size_mb > 0 for plan in plans)
    assert len(plans) == len(PLANS)


@override_settings(DEBUG=False, TESTING=False)
def test_refuses_to_run_outside_debug_and_tests():
    with pytest.raises(ProviderNotConfigured):
        registry.get_provider("sandbox")


def test_registry_builds_the_sandbox_from_settings(calls):
    provider = registry.get_provider("sandbox", on_call=calls)

    assert isinstance(provider, SandboxProvider)
    assert provider.recheck(data_order("0004")).outcome == Outcome.SUCCESS  # supports_query: recheck queries
