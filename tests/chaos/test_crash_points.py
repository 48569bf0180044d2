"""Workers killed at chosen points, and the database connection dropped mid-request.

Worker kills: `purchase_process` runs in a real subprocess against the local VTpass (chaos.
vtpass) and is killed with a real SIGKILL (the process sends it to itself) at a fault point
(CHAOS_KILL_AT=<vtu.faults point>: after the provider call, inside the capture, before the
call), or by the test with SIGKILL while its request is open at the provider. "After the
hold" is a purchase whose dispatch never ran (the web process died after committing the
hold). Then a freshly started process does what the restarted worker and beat do (chaos.
recovery_worker: the sweeper, its requeries, with the clock moved), and the verdict is
chaos.scenarios.assert_recovered: data at most once, a capture only where VTpass delivered, a
refund only where it did not, invariants hold.

Connection drops: pg_terminate_backend on the request's own backend in the middle of the
purchase API request (before the hold's statements) and in the middle of the worker (after
the provider answered, before the answer is recorded).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import OperationalError, connection

from chaos.scenarios import assert_recovered, chaos_seed, recover
from chaos.vtpass import VTpassFake
from tests.chaos.test_provider_chaos import COST  # noqa: F401 - same plan cost
from vtu.tests.conftest import _no_catalogue_cache, price_rules, reseed_catalogue, vtu_clock  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chaos]
ROOT = Path(__file__).resolve().parents[2]
# The worker: purchase_process in a fresh interpreter; at the fault point named by CHAOS_KILL_AT
# it SIGKILLs itself (no cleanup, no commit, no atexit: exactly what the kernel's kill does).
WORKER = """
import os, signal
import django
django.setup()
from vtu import faults
from vtu.services.flow import purchase_process

kill_at, real_hit = os.environ.get("CHAOS_KILL_AT"), faults.hit

def hit(name):
    if name == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    real_hit(name)

faults.hit = hit
purchase_process(purchase_id={pk})
"""


@pytest.fixture
def fake(settings):
    seed = chaos_seed()
    with VTpassFake(seed=seed, fates={"delivered": 1}) as vtpass:
        settings.VTU_PROVIDERS = {**settings.VTU_PROVIDERS, "vtpass": vtpass.provider_config()}
        settings.OPS_ALERT_EMAILS = []
        vtpass.chaos_seed = seed
        yield vtpass


@pytest.fixture
def purchase(fake, monkeypatch):
    """A committed purchase (hold placed) whose dispatch went nowhere."""
    from accounts.tests.factories import UserFactory
    from vtu.models import DataPlan, Network, ProviderPlan, Route
    from vtu.services import purchases
    from vtu.services.purchases import PurchaseRequest, purchase_create
    from wallets.tests.factories import fund_wallet

    reseed_catalogue()
    price_rules()
    mtn = Network.objects.get(code="MTN")
    Route.objects.create(network=mtn, product="data", provider="vtpass", priority=1)
    ProviderPlan.objects.create(provider="vtpass", plan=DataPlan.objects.get(code="MTN_1GB_30D"),
                                provider_plan_id="mtn-1gb-30d", cost_kobo=9_500)
    user = UserFactory(kyc_tier=2)
    fund_wallet(user, 100_000)
    with monkeypatch.context() as patch:
        patch.setattr(purchases, "_dispatch", lambda purchase: None)
        created, _ = purchase_create(user=user, request=PurchaseRequest(
            product="data", phone_number="08031234567", plan_code="MTN_1GB_30D"))
    return created


def _env(fake: VTpassFake, **extra: str) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
            **fake.env(), **extra}


def _worker(pk: int, fake: VTpassFake, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER.replace("{pk}", str(pk))], cwd=ROOT, env=_env(fake, **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _restarted_worker_recovers(fake: VTpassFake, clock) -> None:
    """The worker and beat come back: a new process runs the sweeper until nothing is open."""
    done = subprocess.run([sys.executable, "-m", "chaos.recovery_worker", "--start", clock.current.isoformat()],
                          cwd=ROOT, env=_env(fake), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "recovery_worker:" in done.stdout, (done.stdout + done.stderr)[-3000:]


@pytest.mark.parametrize("point", ["before_provider_call", "after_provider_call", "inside_capture"])
def test_worker_dies_at_a_fault_point_and_recovers(point, purchase, fake, vtu_clock):  # noqa: F811
    worker = _worker(purchase.pk, fake, CHAOS_KILL_AT=point)
    assert worker.wait(timeout=60) == -signal.SIGKILL, worker.stderr.read().decode()[-2000:]
    purchase.refresh_from_db()
    assert purchase.status == "processing"  # nothing recorded after the death
    _restarted_worker_recovers(fake, vtu_clock)
    states = assert_recovered(fake.chaos_seed, fake, [purchase], scenario=f"worker killed: {point}")
    expected = "failed" if point == "before_provider_call" else "successful"  # never sent -> 015 -> refund
    assert states == {expected: 1}


def test_worker_sigkilled_while_its_request_is_open(purchase, fake, vtu_clock):  # noqa: F811
    fake.fates = {"timeout": 1}  # VTpass delivers but answers late: the worker is mid-request
    worker = _worker(purchase.pk, fake)
    deadline = time.monotonic() + 30
    while fake.pays == 0:
        assert time.monotonic() < deadline, worker.stderr.read().decode()[-2000:]
        time.sleep(0.02)  # polling a bounded condition
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=30) == -signal.SIGKILL
    _restarted_worker_recovers(fake, vtu_clock)
    assert assert_recovered(fake.chaos_seed, fake, [purchase], scenario="worker killed: request open") == {"successful": 1}


def test_web_process_dies_after_the_hold(purchase, fake, vtu_clock):  # noqa: F811
    """Committed with its hold, never dispatched: the sweeper's outbox re-dispatch sends it."""
    assert purchase.status == "pending" and fake.pays == 0
    recover(vtu_clock)
    assert assert_recovered(fake.chaos_seed, fake, [purchase], scenario="web killed: after the hold") == {"successful": 1}
    assert fake.pays == 1


def _terminate_own_backend() -> None:
    """Kill this connection's server process from another connection (an operator, a
    failover, a network cut): the next statement on it fails."""
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
                         user=settings["USER"], dbname=settings["NAME"], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_database_connection_dropped_mid_request_moves_nothing(fake, monkeypatch, purchase):
    from rest_framework.test import APIClient

    from accounts.tests.factories import PIN, UserFactory
    from conftest import authenticate
    from vtu.models import Purchase
    from vtu.services import ledger
    from wallets.invariants import assert_ledger_invariants
    from wallets.tests.factories import fund_wallet, wallet_for

    buyer = UserFactory(kyc_tier=2)
    fund_wallet(buyer, 100_000)
    real_hold = ledger.purchase_hold

    def dropped(**kwargs):
        _terminate_own_backend()
        return real_hold(**kwargs)

    monkeypatch.setattr(ledger, "purchase_hold", dropped)
    client = authenticate(APIClient(raise_request_exception=False), buyer)
    body = {"plan_code": "MTN_1GB_30D", "phone_number": "08031230000", "pin": PIN}
    response = client.post("/api/v1/data/purchase", body, format="json")
    assert response.status_code >= 500
    connection.close()
    assert Purchase.objects.filter(user=buyer).count() == 0
    wallet = wallet_for(buyer)
    assert (wallet.balance_kobo, wallet.held_kobo) == (100_000, 0)

    monkeypatch.setattr(ledger, "purchase_hold", real_hold)  # the database is back
    retry = client.post("/api/v1/data/purchase", body, format="json")
    assert retry.status_code == 202, retry.content
    assert_ledger_invariants()


def test_database_connection_dropped_in_the_worker_then_recovered(purchase, fake, monkeypatch, vtu_clock):  # noqa: F811
    from vtu import faults
    from vtu.services.flow import purchase_process

    real_hit = faults.hit

    def hit(name: str) -> None:
        if name == "after_provider_call":
            _terminate_own_backend()
        real_hit(name)

    monkeypatch.setattr(faults, "hit", hit)
    with pytest.raises(OperationalError):
        purchase_process(purchase_id=purchase.pk)  # VTpass delivered; recording the answer fails
    connection.close()
    monkeypatch.setattr(faults, "hit", real_hit)
    assert fake.deliveries_by_phone["08031234567"] == 1
    recover(vtu_clock)
    assert assert_recovered(fake.chaos_seed, fake, [purchase], scenario="connection dropped: worker") == {
        "successful": 1}
    assert fake.deliveries_by_phone["08031234567"] == 1
