"""Kill the worker between the provider call and recording the answer (ledger ref T5).

The worker is a real subprocess running `purchase_process` against the local Amigo fake
(real HTTP on 127.0.0.1, Amigo's wire format). It dies either at the fault point right after
the answer arrived (os._exit(1): no cleanup, nothing committed after) or by SIGKILL while the
request is still open at the provider. The sweeper's requery then settles the purchase by
resending the same Idempotency-Key (Amigo's documented safe retry), the fake replays its
stored answer instead of delivering again, and the number receives data exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from accounts.tests.factories import UserFactory
from vtu.models import DataPlan, Network, ProviderAttempt, ProviderCall, ProviderPlan, Purchase, Route
from vtu.services import purchases, sweeper
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import price_rules, reseed_catalogue, wallet_state
from vtu.tests.fakes.amigo import AmigoFake, Behaviour
from wallets.invariants import assert_ledger_invariants
from wallets.tests.factories import fund_wallet

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chaos]
ROOT = Path(__file__).resolve().parents[2]
NUMBER = "08031234567"
COST = 44_900  # the fake's MTN 1GB at ₦449
WORKER = "import django; django.setup(); from vtu.services.flow import purchase_process; purchase_process(purchase_id={pk})"


@pytest.fixture
def amigo(settings):
    with AmigoFake(seed=5) as fake:
        settings.VTU_PROVIDERS = {**settings.VTU_PROVIDERS, "amigo": fake.provider_config()}
        yield fake


@pytest.fixture
def purchase(amigo, vtu_clock, monkeypatch):
    """A committed purchase whose dispatch went to 'another machine' (not run here)."""
    reseed_catalogue()
    price_rules()  # customers: cost + ₦40 (a flushed test database has lost the default rules)
    mtn = Network.objects.get(code="MTN")
    Route.objects.create(network=mtn, product="data", provider="amigo", priority=1)
    ProviderPlan.objects.create(
        provider="amigo", plan=DataPlan.objects.get(code="MTN_1GB_30D"), provider_plan_id="1001", cost_kobo=COST
    )
    user = UserFactory()
    fund_wallet(user, 100_000)
    with monkeypatch.context() as patch:
        patch.setattr(purchases, "_dispatch", lambda purchase: None)
        created, _ = purchase_create(
            user=user, request=PurchaseRequest(product="data", phone_number=NUMBER, plan_code="MTN_1GB_30D")
        )
    return created


def _worker(pk: int, amigo: AmigoFake, **extra_env: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "AMIGO_BASE_URL": amigo.base_url, "AMIGO_API_KEY": amigo.api_key,
        "AMIGO_CONNECT_TIMEOUT_SECONDS": "1", "AMIGO_READ_TIMEOUT_SECONDS": "5",
        **extra_env,
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER.format(pk=pk)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _poll(condition, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)  # polling a bounded condition, not waiting a fixed time


def _settle_by_sweeper(vtu_clock) -> None:
    vtu_clock.advance(minutes=2)  # past the attempt's in-flight grace (its timeouts + 30 s)
    report = sweeper.purchases_sweep()
    assert report.requeried, "the sweeper should have requeried the purchase"


def test_worker_killed_after_the_answer_arrived(purchase, amigo, vtu_clock):
    worker = _worker(purchase.pk, amigo, VTU_FAULT_EXIT="after_provider_call")
    assert worker.wait(timeout=60) == 1, worker.stderr.read().decode()

    purchase.refresh_from_db()
    attempt = ProviderAttempt.objects.get(purchase=purchase)
    assert (purchase.status, attempt.state) == ("processing", "sending")  # the answer was never recorded
    assert amigo.deliveries_by_number[NUMBER] == 1
    assert ProviderCall.objects.filter(attempt=attempt, operation="buy_data").count() == 1
    assert wallet_state(purchase.user) == (100_000, purchase.amount_kobo)

    _settle_by_sweeper(vtu_clock)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert amigo.deliveries_by_number[NUMBER] == 1, "the resend replayed the stored answer"
    assert amigo.replays == 1 and amigo.deliveries_by_key[attempt.request_id] == 1
    assert wallet_state(purchase.user) == (100_000 - purchase.amount_kobo, 0)
    assert_ledger_invariants()


def test_worker_sigkilled_while_the_request_is_open(purchase, amigo, vtu_clock):
    amigo.script(NUMBER, Behaviour(hang=True, processed=True))
    worker = _worker(purchase.pk, amigo)
    _poll(lambda: any(seen.method == "POST" for seen in amigo.seen))
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=30) == -signal.SIGKILL
    amigo.release()
    attempt = ProviderAttempt.objects.get(purchase=purchase)
    _poll(lambda: not amigo.order_for_key(attempt.request_id).in_flight)

    purchase.refresh_from_db()
    assert (purchase.status, attempt.state) == ("processing", "sending")
    assert amigo.deliveries_by_number[NUMBER] == 1

    _settle_by_sweeper(vtu_clock)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert amigo.deliveries_by_number[NUMBER] == 1
    assert wallet_state(purchase.user) == (100_000 - purchase.amount_kobo, 0)
    assert_ledger_invariants()


def test_worker_killed_before_the_request_left(purchase, amigo, vtu_clock):
    """Dies after committing the attempt, before sending: the resend is the first delivery."""
    worker = _worker(purchase.pk, amigo, VTU_FAULT_EXIT="before_provider_call")
    assert worker.wait(timeout=60) == 1, worker.stderr.read().decode()
    assert amigo.deliveries_by_number[NUMBER] == 0

    _settle_by_sweeper(vtu_clock)

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert amigo.deliveries_by_number[NUMBER] == 1
    assert_ledger_invariants()
