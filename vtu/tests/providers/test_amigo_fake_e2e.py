"""The real Amigo adapter against a local fake speaking Amigo's wire format over real sockets:
timeouts, 5xx, dropped connections and pending orders, and how many bundles really reached
each number. The money rule end to end: nothing lost in transit is ever called failed, and
settling it by replay never delivers twice.
"""

from __future__ import annotations

import socket
import threading

import pytest

from vtu.providers.amigo import AmigoProvider
from vtu.providers.base import DataOrder, Outcome
from vtu.tests.fakes.amigo import AmigoFake, Behaviour
from vtu.tests.providers.conftest import Calls

NUMBER = "08031234567"


def order(request_id: str = "key-1", number: str = NUMBER) -> DataOrder:
    return DataOrder(request_id=request_id, network="MTN", phone_e164="+234" + number[1:], provider_plan_id="1001")


@pytest.fixture
def fake():
    with AmigoFake(seed=1) as running:
        yield running


def adapter(fake: AmigoFake, calls: Calls | None = None, **config) -> AmigoProvider:
    return AmigoProvider(fake.provider_config(**config), on_call=calls if calls is not None else Calls())


def test_delivered_once(fake):
    calls = Calls()
    result = adapter(fake, calls).buy_data(order())

    assert result.outcome == Outcome.SUCCESS and result.provider_reference.startswith("AMG-")
    assert result.cost_kobo == 44_900
    assert fake.deliveries_by_number[NUMBER] == 1 and fake.deliveries_by_key["key-1"] == 1
    assert fake.seen[0].headers["Idempotency-Key"] == "key-1"
    assert calls[0].status_code == 200 and calls[0].url.endswith("/api/data/")


def test_timeout_after_delivery_is_unknown_and_a_replay_settles_it_without_a_second_bundle(fake):
    """The dangerous case: Amigo delivered, our read timed out."""
    fake.script(NUMBER, Behaviour(hang=True, processed=True))
    amigo = adapter(fake, READ_TIMEOUT_SECONDS=0.3)

    lost = amigo.buy_data(order())
    fake.release()
    settled = amigo.recheck(order())  # same Idempotency-Key: the stored outcome, not a new order

    assert lost.outcome == Outcome.UNKNOWN and not lost.failover_allowed
    assert settled.outcome == Outcome.SUCCESS
    assert fake.deliveries_by_number[NUMBER] == 1 and fake.deliveries_by_key["key-1"] == 1


def test_replay_while_the_first_request_is_still_in_flight_stays_unknown(fake):
    fake.script(NUMBER, Behaviour(hang=True, processed=True))
    amigo = adapter(fake, READ_TIMEOUT_SECONDS=0.3)

    assert amigo.buy_data(order()).outcome == Outcome.UNKNOWN
    early = amigo.recheck(order())  # the fake still holds the first request: 409
    fake.release()

    assert early.outcome == Outcome.UNKNOWN
    assert fake.deliveries_by_number[NUMBER] == 1


def test_5xx_after_processing_is_unknown_and_settles_to_the_real_outcome(fake):
    fake.script(NUMBER, Behaviour(http_status=502, processed=True))
    amigo = adapter(fake)

    assert amigo.buy_data(order()).outcome == Outcome.UNKNOWN
    assert amigo.recheck(order()).outcome == Outcome.SUCCESS
    assert fake.deliveries_by_number[NUMBER] == 1


def test_5xx_before_processing_is_unknown_and_the_replay_places_the_order_once(fake):
    fake.script(NUMBER, Behaviour(http_status=503, processed=False))
    amigo = adapter(fake)

    assert amigo.buy_data(order()).outcome == Outcome.UNKNOWN
    assert fake.deliveries_by_number[NUMBER] == 0
    assert amigo.recheck(order()).outcome == Outcome.SUCCESS
    assert fake.deliveries_by_number[NUMBER] == 1


def test_dropped_connection_after_processing_is_unknown(fake):
    fake.script(NUMBER, Behaviour(drop=True, processed=True))
    amigo = adapter(fake)

    assert amigo.buy_data(order()).outcome == Outcome.UNKNOWN
    assert amigo.recheck(order()).outcome == Outcome.SUCCESS
    assert fake.deliveries_by_number[NUMBER] == 1


def test_pending_then_late_with_stored_replay_stays_pending_for_staff(fake):
    """Replays return the first answer: a pending order cannot be settled by replay."""
    fake.script(NUMBER, Behaviour(status="pending", settle_to="delivered"))
    amigo = adapter(fake)

    assert amigo.buy_data(order()).outcome == Outcome.PENDING
    fake.settle()
    assert amigo.recheck(order()).outcome == Outcome.PENDING
    assert fake.deliveries_by_number[NUMBER] == 1  # it was delivered: only staff can tell


def test_pending_then_late_with_current_replay_settles(fake):
    with AmigoFake(replay="current") as current:
        current.script(NUMBER, Behaviour(status="pending", settle_to="failed"))
        amigo = adapter(current)

        assert amigo.buy_data(order()).outcome == Outcome.PENDING
        current.settle()
        settled = amigo.recheck(order())

        assert (settled.outcome, settled.failover_allowed) == (Outcome.FAILED, False)
        assert current.deliveries_by_number[NUMBER] == 0


def test_pending_settles_by_the_fakes_clock(fake):
    now = [100.0]
    with AmigoFake(replay="current", clock=lambda: now[0]) as timed:
        timed.script(NUMBER, Behaviour(status="pending", settle_after=30))
        amigo = adapter(timed)

        assert amigo.buy_data(order()).outcome == Outcome.PENDING
        now[0] += 29
        assert amigo.recheck(order()).outcome == Outcome.PENDING
        now[0] += 1
        assert amigo.recheck(order()).outcome == Outcome.SUCCESS


def test_refusals_before_acceptance_fail_over_and_deliver_nothing(fake):
    fake.script(NUMBER, Behaviour(error="rate_limited"))
    wrong_key = AmigoProvider(fake.provider_config(API_KEY="amg_test_wrongwrongwrong1"))

    limited = adapter(fake).buy_data(order("k-a"))
    unauthorised = wrong_key.buy_data(order("k-b"))
    no_plan = adapter(fake).buy_data(DataOrder("k-c", "GLO", "+2348051234567", "1001"))

    assert all(r.outcome == Outcome.FAILED and r.failover_allowed for r in (limited, unauthorised, no_plan))
    assert sum(fake.deliveries_by_number.values()) == 0


def test_provider_down_was_never_sent_so_it_fails_over():
    """A refused connection (nothing listening) is the one transport error that is definitive."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    calls = Calls()
    amigo = AmigoProvider({"NAME": "amigo", "BASE_URL": f"http://127.0.0.1:{port}/api", "API_KEY": "k",
                           "CONNECT_TIMEOUT_SECONDS": 1.0, "READ_TIMEOUT_SECONDS": 1.0}, on_call=calls)

    result = amigo.buy_data(order())

    assert (result.outcome, result.failover_allowed) == (Outcome.FAILED, True)
    assert calls[0].error == "connection_refused"


def test_concurrent_sends_with_one_key_deliver_once(fake):
    """Eight workers resend the same attempt at once: Amigo's key makes it one order."""
    fake.script(NUMBER, Behaviour(delay=0.2))
    results: list[Outcome] = []
    lock = threading.Lock()

    def send() -> None:
        outcome = adapter(fake).buy_data(order("same-key")).outcome
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert fake.deliveries_by_number[NUMBER] == 1 and fake.deliveries_by_key["same-key"] == 1
    assert set(results) <= {Outcome.SUCCESS, Outcome.UNKNOWN} and Outcome.SUCCESS in results


def test_seeded_outcomes_are_reproducible():
    def run(seed: int) -> list[Outcome]:
        with AmigoFake(seed=seed, outcome_weights={"delivered": 0.6, "pending": 0.2, "failed": 0.2}) as seeded:
            amigo = adapter(seeded)
            return [amigo.buy_data(order(f"k{i}", f"080312345{i:02d}")).outcome for i in range(12)]

    assert run(3) == run(3)
    assert {Outcome.SUCCESS, Outcome.PENDING, Outcome.FAILED} >= set(run(3))


def test_plans_and_balance_through_the_fake(fake):
    amigo = adapter(fake)

    before = amigo.balance_kobo()
    amigo.buy_data(order())
    plans = amigo.list_plans()

    assert before == 100_000_000 and amigo.balance_kobo() == before - 44_900
    assert {plan.network for plan in plans} == {"MTN", "GLO", "AIRTEL", "9MOBILE"}
