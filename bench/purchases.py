"""Benchmark: POST /api/v1/data/purchase through gunicorn with the sandbox provider answering
success (issue 5). Run: `.venv/bin/python bench/purchases.py` (see --help).

Two measurements per round, each next to the same round's bare endpoint (bench/views.py):

- accepted/s: 2xx answers per second of the purchase endpoint (validation, price, hold, the
  purchase row, dispatch to the Redis broker), with no Celery worker running, so the web
  side is measured alone;
- completed/s: then ONE Celery worker (`celery worker -Q providers`, its pool at Celery's
  default concurrency, the number of CPUs; `--celery-concurrency 1` for a single process)
  drains exactly the purchases that run accepted (claim, attempt, sandbox call, capture);
  the rate is taken from the purchases' own timestamps (first to last completion), so
  worker start-up is not counted.

Over many wallets (N users, one API key each with the purchase scope) and from one reseller
wallet (every request on the same wallet row). The sandbox provider only runs with DEBUG on
(it refuses otherwise), so this benchmark runs the server with DEBUG=true for the bare and
the purchase runs alike. After every accepted run each 2xx answer must have made exactly one
purchase and one hold; after every drain every accepted purchase must be successful with
one capture; after the load every ledger invariant must hold.
Exit status: 0 when the targets are met with no failures and no findings; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

TARGETS = {"accepted, many wallets": 0.5, "accepted, one reseller wallet": 0.35, "completed, many wallets": 0.3}
BALANCE_KOBO = 100_000_000  # ₦1m per wallet
RESELLER_BALANCE_KOBO = 5_000_000_000  # ₦50m: every request of the hot runs spends from it
DATA = Path("/tmp/bench-data")
PLAN = "MTN_1GB_30D"
DATABASE = "vtu_bench_purchases"  # its own database: the transfer benchmark drops vtu_bench
T = TypeVar("T")


@dataclass(frozen=True)
class Buyer:
    user_id: int
    api_key: str


def bench_env(config: harness.BenchConfig) -> dict[str, str]:
    """The harness's server settings plus the sandbox provider (hence DEBUG on) and a duplicate
    window of 0 s: the guard's queries still run, but random numbers never trip it."""
    return harness.server_env(config, {
        "DEBUG": "true", "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
        "SANDBOX_PROVIDER_ENABLED": "true", "SANDBOX_GATEWAY_ENABLED": "false",
        "DUPLICATE_PURCHASE_WINDOW_SECONDS": "0", "SANDBOX_PROVIDER_SLOW_SECONDS": "0",
    })


def seed(count: int) -> tuple[list[Buyer], Buyer]:
    """`count` customers and one reseller, KYC tier 3, funded by real bankfund journals, one
    API key each (scope purchase); the sandbox routed first everywhere with its plans synced."""
    from django.utils import timezone

    from accounts.api_keys import api_key_create
    from accounts.models import User
    from vtu.demo import SANDBOX_AIRTIME_COST_BPS
    from vtu.models import Network, Route
    from vtu.services.catalogue import plans_sync
    from wallets.services import Leg, journal_post, system_account, wallet_get_or_create

    for network in Network.objects.all():
        for product in ("data", "airtime"):
            Route.objects.get_or_create(network=network, product=product, provider="sandbox",
                                        defaults={"priority": 1, "airtime_cost_bps": SANDBOX_AIRTIME_COST_BPS})
    report = plans_sync(provider="sandbox")
    assert report.mapped and not report.error, report
    now = timezone.now()
    users = [User(email=f"bench{i}@example.com", kyc_tier=3, email_verified_at=now) for i in range(count)]
    users.append(User(email="bench-reseller@example.com", kyc_tier=3, role=User.Role.RESELLER, email_verified_at=now))
    for user in users:
        user.set_unusable_password()
    User.objects.bulk_create(users)
    bank = system_account("bank")
    buyers = []
    for user in User.objects.filter(email__startswith="bench").order_by("pk"):
        amount = RESELLER_BALANCE_KOBO if user.role == User.Role.RESELLER else BALANCE_KOBO
        wallet = wallet_get_or_create(user_id=user.pk)
        journal_post(key=f"bankfund:bench-{user.pk}", kind="deposit", memo="bench funding",
                     legs=[Leg(bank.pk, -amount), Leg(wallet.pk, amount)])
        issued = api_key_create(user=user, name="bench", scopes=["purchase", "transfer", "read"])  # transfer: the bare endpoint
        buyers.append(Buyer(user.pk, issued.plaintext))
    return buyers[:-1], buyers[-1]


def purchase_requests(buyers: list[Buyer], *, count: int = 5000) -> list[dict]:
    """Random MTN numbers ending 7-9 (the sandbox's plain success; 0001-0006 are scenarios)."""
    rng = random.Random(11)
    requests = []
    for _ in range(count):
        buyer = rng.choice(buyers)
        number = f"0803{rng.randrange(10**6):06d}{rng.choice('789')}"
        requests.append({
            "method": "POST", "path": "/api/v1/data/purchase",
            "headers": {"X-API-Key": buyer.api_key, "Idempotency-Key": "@@UNIQUE@@", "Content-Type": "application/json"},
            "body": json.dumps({"plan_code": PLAN, "phone_number": number}),
        })
    return requests


class Worker:
    """One Celery worker (one `celery worker` instance) on the `providers` queue, with the
    pool's concurrency given (Celery's default is the number of CPUs)."""

    concurrency = os.cpu_count() or 1

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.log = Path("/tmp/bench-celery.log").open("a")  # noqa: SIM115 - closed in __exit__
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Worker:
        self.process = subprocess.Popen(
            [harness.PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "providers", "-c", str(self.concurrency),
             "--prefetch-multiplier", "4", "-l", "warning", "-n", f"bench{os.getpid()}@%h"],
            cwd=harness.ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@dataclass
class Drain:
    label: str
    purchases: int
    seconds: float
    not_successful: int

    @property
    def per_s(self) -> float:
        return (self.purchases - 1) / self.seconds if self.seconds > 0 else 0.0


def _db(work: Callable[[], T]) -> T:
    """Run a read against the benchmark database, reconnecting once if the machine's other
    users terminated our connection (a shared PostgreSQL)."""
    from django.db import OperationalError, connection

    try:
        return work()
    except OperationalError:
        connection.close()
        return work()


def drain(env: dict[str, str], since_id: int, label: str, timeout_s: float = 600) -> Drain:
    """Start one worker, wait (bounded poll) until every purchase after `since_id` is final."""
    from django.db import connection

    def open_count() -> int:
        return _db(lambda: harness.count_rows(
            f"SELECT count(*) FROM vtu_purchase WHERE id > {since_id} AND status IN ('pending', 'processing')"
        ))

    with Worker(env):
        deadline = time.monotonic() + timeout_s
        while open_count():
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)  # polling a bounded condition
    def totals() -> tuple:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), EXTRACT(EPOCH FROM max(completed_at) - min(completed_at)), "
                "count(*) FILTER (WHERE status <> 'successful') FROM vtu_purchase WHERE id > %s",
                [since_id],
            )
            return cursor.fetchone()

    count, seconds, bad = _db(totals)
    return Drain(label, int(count), float(seconds or 0), int(bad))


def _django_setup(env: dict[str, str]) -> None:
    """Like harness.django_setup, but with this benchmark's settings (DEBUG on for the sandbox)."""
    os.environ.update(env)
    import django

    django.setup()


def _clear_broker(env: dict[str, str]) -> None:
    """Drop this run's leftover broker keys (e-mail tasks nobody consumed) from Redis."""
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{env['REDIS_KEY_PREFIX']}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def last_purchase_id() -> int:
    return _db(lambda: harness.count_rows("SELECT COALESCE(max(id), 0) FROM vtu_purchase"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_arguments(parser)
    parser.add_argument("--users", type=int, default=500, help="funded customer wallets with an API key")
    parser.add_argument("--celery-concurrency", type=int, default=Worker.concurrency,
                        help="processes of the one Celery worker (default: CPUs, as Celery's own default)")
    parser.set_defaults(database=DATABASE)
    args = parser.parse_args(argv)
    Worker.concurrency = args.celery_concurrency
    config = harness.config_from(args)
    env = bench_env(config)

    print(f"preparing {config.database} ...", flush=True)
    harness.prepare_database(config)
    _django_setup(env)
    buyers, reseller = seed(args.users)
    harness.create_bench_tables([b.user_id for b in [*buyers, reseller]], RESELLER_BALANCE_KOBO)
    files = {
        "bare many": harness.write_requests(DATA / "p-bare-many.lua", harness.bare_requests([{"X-API-Key": b.api_key} for b in buyers])),
        "purchase many": harness.write_requests(DATA / "purchase-many.lua", purchase_requests(buyers)),
        "bare hot": harness.write_requests(DATA / "p-bare-hot.lua", harness.bare_requests([{"X-API-Key": reseller.api_key}])),
        "purchase hot": harness.write_requests(DATA / "purchase-hot.lua", purchase_requests([reseller])),
    }
    summaries = {label: harness.Summary(label) for label in files}
    drains: dict[str, list[Drain]] = {"completed many": [], "completed hot": []}
    accounting: list[str] = []

    with harness.Server(config, env=env) as server:
        print(f"gunicorn {config.workers} x {config.worker_class} on {server.url}; wrk -t{config.wrk_threads} "
              f"-c{config.connections} -d{config.duration_s}s; {args.users} wallets + 1 reseller; "
              f"completion by 1 Celery worker, {Worker.concurrency} process(es)", flush=True)
        for label, path in files.items():  # warm up every worker and path, unrecorded
            harness.run_wrk(config, url=server.url, data_file=path, label=label, duration_s=config.warmup_s)
        drain(env, 0, "warm-up")
        for round_number in range(1, config.rounds + 1):
            for variant in ("many", "hot"):
                bare = harness.run_wrk(config, url=server.url, data_file=files[f"bare {variant}"], label=f"bare {variant}")
                summaries[f"bare {variant}"].runs.append(bare)
                since = last_purchase_id()
                real = harness.run_wrk(config, url=server.url, data_file=files[f"purchase {variant}"],
                                       label=f"purchase {variant}")
                summaries[f"purchase {variant}"].runs.append(real)
                _check_accepted(real, since, config.connections, accounting)
                done = drain(env, since, f"completed {variant}")
                drains[f"completed {variant}"].append(done)
                _check_completed(done, since, accounting)
                print(f"  round {round_number} {variant:<5} bare {bare.ok_per_s:7.1f}/s  accepted {real.ok_per_s:7.1f}/s "
                      f"(p50 {real.p50_ms:.1f} ms, p99 {real.p99_ms:.1f} ms, non-2xx {real.non2xx})  "
                      f"completed {done.per_s:6.1f}/s ({done.purchases} in {done.seconds:.1f} s)", flush=True)

    _clear_broker(env)
    return _report(args, summaries, drains, accounting)


def _check_accepted(result: harness.WrkResult, since: int, connections: int, accounting: list[str]) -> None:
    from django.db import connection

    ok = result.requests - result.non2xx

    def counts() -> tuple[int, int]:
        with connection.cursor() as cursor:  # one statement: one snapshot (late commits land in both or neither)
            cursor.execute(
                "SELECT count(p.id), count(h.id) FROM vtu_purchase p "
                "LEFT JOIN wallets_hold h ON h.reference = p.hold_reference WHERE p.id > %s",
                [since],
            )
            return cursor.fetchone()

    made, holds = _db(counts)
    # A request in flight when wrk stops may still commit: at most one per connection.
    if not (ok <= made <= ok + connections and holds == made):
        accounting.append(f"{result.label}: {ok} answers 2xx, {made} purchases, {holds} holds")


def _check_completed(done: Drain, since: int, accounting: list[str]) -> None:
    captures = harness.count_rows(
        "SELECT count(*) FROM wallets_journal j JOIN vtu_purchase p ON j.idempotency_key = 'capture:' || p.reference "
        f"WHERE p.id > {since}"
    )
    if done.not_successful or captures != done.purchases:
        accounting.append(f"{done.label}: {done.not_successful} not successful, {captures} captures "
                          f"for {done.purchases} purchases")


def _paired(summaries: dict[str, harness.Summary], drains: dict[str, list[Drain]], variant: str) -> tuple[float, float]:
    """Median over rounds of (accepted / bare, completed / bare), each against the bare run
    of the same round: on a shared machine whose load drifts, a pair measured a minute
    apart is steadier than two medians taken over the whole run."""
    import statistics

    bare = [run.ok_per_s for run in summaries[f"bare {variant}"].runs]
    real = [run.ok_per_s for run in summaries[f"purchase {variant}"].runs]
    done = [drain.per_s for drain in drains[f"completed {variant}"]]
    accepted = statistics.median(r / max(b, 1e-9) for r, b in zip(real, bare, strict=True))
    completed = statistics.median(d / max(b, 1e-9) for d, b in zip(done, bare, strict=True))
    return accepted, completed


def _report(args, summaries, drains, accounting) -> int:
    import statistics

    from wallets.invariants import ledger_findings

    harness.print_report(
        "POST /api/v1/data/purchase vs bare (median ok req/s over the rounds)", summaries,
        [("accepted, many wallets (medians)", "purchase many", "bare many", TARGETS["accepted, many wallets"]),
         ("accepted, one reseller wallet (medians)", "purchase hot", "bare hot", TARGETS["accepted, one reseller wallet"])],
    )
    rows = []
    print("  paired ratios (median over rounds of each round's run / that round's bare run):")
    for variant, label in (("many", "many wallets"), ("hot", "one reseller wallet")):
        accepted, completed = _paired(summaries, drains, variant)
        rate = statistics.median(d.per_s for d in drains[f"completed {variant}"])
        for kind, ratio in (("accepted", accepted), ("completed", completed)):
            name = f"{kind}, {label}"
            target = TARGETS.get(name)
            verdict = "" if target is None else f"  (target >= {target:.2f}: {'meets' if ratio >= target else 'MISSES'})"
            print(f"    {name:<34} {ratio:5.2f}{verdict}")
            rows.append({"name": name, "ratio": round(ratio, 3), "target": target, "met": target is None or ratio >= target})
        print(f"    (completed {variant}: {rate:.1f}/s median by 1 worker x {Worker.concurrency} processes)")
    findings = ledger_findings()
    print(f"  ledger invariants after the load: {findings if findings else 'all hold'}")
    print(f"  accounting (2xx = purchase + hold; drained = successful + capture): {accounting if accounting else 'ok'}")
    failures = sum(summary.failures for summary in summaries.values())
    path = harness.save_report("purchases", {
        "config": vars(args), "machine": harness.machine_info(),
        "summaries": {k: v.as_dict() for k, v in summaries.items()},
        "drains": {k: [d.__dict__ | {"per_s": round(d.per_s, 1)} for d in v] for k, v in drains.items()},
        "ratios": rows, "findings": [f.as_dict() for f in findings], "accounting": accounting, "failures": failures,
    })
    print(f"  saved {path}")
    ok = not findings and not accounting and failures == 0 and all(row["met"] for row in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
