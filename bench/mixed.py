"""Benchmark: a mixed workload (issue 8) and the same workload scaled out to two web
processes and two Celery workers on one database and Redis.

Run: `.venv/bin/python bench/mixed.py` (see --help; `make bench` runs it after the others).

The mix, per request drawn at random (weights in MIX): browse plans (GET /data/plans),
buy data (POST /data/purchase, API key, sandbox provider), fund (a signed Paystack
`charge.success` for one of the seeded deposits, verified against a local fake of Paystack's
verify API; repeats of the same deposit happen, as gateways retry), transfer (POST
/wallet/transfer), read history (GET /transactions/me). Celery workers run during the load
(queues providers and webhooks), so purchases complete and deposits are credited while the
web tier is under load: the real thing, not the web tier alone.

1. "mixed": gunicorn with --workers N and one Celery worker (-c 2), against the bare
   endpoint, alternating, median of --rounds.
2. "scaled out": two gunicorn instances (one worker each) and two separate Celery worker
   processes sharing the database and Redis, loaded by two wrk processes at once. On 2 cores
   this shows correctness of scaling out, not a speed-up.

After each phase (load stopped, queues drained with a bounded poll): every accepted purchase
is final and captured exactly once (successful purchases = capture journals, no hold left
active), every deposit delivered is credited exactly once (fund journals = successful
deposits = distinct deposits with an authenticated event), and every ledger invariant holds. Exit status 0 when all of that holds and no request failed.
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
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.purchases import BALANCE_KOBO, PLAN, bench_env
from bench.purchases import seed as seed_buyers
from bench.webhooks import AMOUNT_KOBO, SECRET, delivery_requests, seed_deposits, start_fake_paystack

DATABASE = "vtu_bench_mixed"
DATA = Path("/tmp/bench-data/mixed")
MIX = {"plans": 30, "history": 20, "purchase": 20, "transfer": 15, "fund": 15}
PIN = "1234"


def mix_requests(buyers: list, wallets: dict[int, str], deliveries: list[dict], *, count: int = 6000) -> list[dict]:
    rng = random.Random(17)
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    requests = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        buyer = rng.choice(buyers)
        auth = {"X-API-Key": buyer.api_key}
        if kind == "plans":
            requests.append({"method": "GET", "path": "/api/v1/data/plans?network=MTN", "headers": auth})
        elif kind == "history":
            requests.append({"method": "GET", "path": "/api/v1/transactions/me", "headers": auth})
        elif kind == "purchase":
            number = f"0803{rng.randrange(10**6):06d}{rng.choice('789')}"
            requests.append({"method": "POST", "path": "/api/v1/data/purchase", "body": json.dumps(
                {"plan_code": PLAN, "phone_number": number}),
                "headers": {**auth, "Idempotency-Key": "@@UNIQUE@@", "Content-Type": "application/json"}})
        elif kind == "transfer":
            recipient = rng.choice([b for b in buyers if b.user_id != buyer.user_id])
            requests.append({"method": "POST", "path": "/api/v1/wallet/transfer", "body": json.dumps(
                {"recipient": wallets[recipient.user_id], "amount": 1, "narration": "bench"}),
                "headers": {**auth, "Idempotency-Key": "@@UNIQUE@@", "Content-Type": "application/json"}})
        else:
            delivery = rng.choice(deliveries)
            requests.append({"method": "POST", **delivery})
    return requests


class Workers:
    """Celery worker processes (queues providers + webhooks), each its own process tree."""

    def __init__(self, env: dict[str, str], *, count: int, concurrency: int) -> None:
        self.env, self.count, self.concurrency = env, count, concurrency
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> Workers:
        for index in range(self.count):
            log = Path(f"/tmp/bench-mixed-worker-{index}.log").open("w")
            self.processes.append(subprocess.Popen(
                [harness.PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "providers,webhooks",
                 "-c", str(self.concurrency), "-l", "warning", "-n", f"benchmixed{index}-{os.getpid()}@%h",
                 "--without-gossip", "--without-mingle"],
                cwd=harness.ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            ))
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_quiet(timeout_s: float = 300) -> dict[str, int]:
    """Bounded poll until no purchase is open and no webhook event is unprocessed."""
    deadline = time.monotonic() + timeout_s
    state = {}
    while time.monotonic() < deadline:
        state = {
            "open_purchases": harness.count_rows("SELECT count(*) FROM vtu_purchase WHERE status IN ('pending','processing')"),
            "unprocessed_events": harness.count_rows("SELECT count(*) FROM payments_webhookevent WHERE processed_at IS NULL"),
        }
        if not any(state.values()):
            break
        time.sleep(0.5)  # polling a bounded condition
    return state


def accounting() -> list[str]:
    """The money checks after a phase (cumulative over the whole database)."""
    problems = []
    successful = harness.count_rows("SELECT count(*) FROM vtu_purchase WHERE status = 'successful'")
    captures = harness.count_rows("SELECT count(*) FROM wallets_journal WHERE idempotency_key LIKE 'capture:%%'")
    if successful != captures:
        problems.append(f"{successful} successful purchases but {captures} capture journals")
    open_holds = harness.count_rows("SELECT count(*) FROM wallets_hold WHERE status = 'active'")
    if open_holds:
        problems.append(f"{open_holds} holds still active after the drain")
    credited = harness.count_rows("SELECT count(*) FROM payments_deposit WHERE status = 'successful'")
    funds = harness.count_rows("SELECT count(*) FROM wallets_journal WHERE idempotency_key LIKE 'fund:paystack:%%'")
    delivered = harness.count_rows(
        "SELECT count(DISTINCT reference) FROM payments_webhookevent WHERE gateway = 'paystack'"
    )
    if not (credited == funds == delivered):
        problems.append(f"deposits credited {credited}, fund journals {funds}, distinct deposits delivered {delivered}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_arguments(parser, database=DATABASE)
    parser.add_argument("--users", type=int, default=300, help="funded wallets with an API key")
    parser.add_argument("--deposits", type=int, default=20000, help="seeded deposits the fund requests pick from")
    args = parser.parse_args(argv)
    config = harness.config_from(args)

    fake, fake_url = start_fake_paystack()
    extra = {"PAYSTACK_SECRET_KEY": SECRET, "PAYSTACK_WEBHOOK_SECRET": SECRET, "PAYSTACK_BASE_URL": fake_url,
             "PAYSTACK_MODE": "test", "PAYSTACK_FEE_BEARER": "platform", "OPS_ALERT_EMAILS": ""}
    env = {**bench_env(config), **extra}
    print(f"preparing {config.database} ...", flush=True)
    harness.prepare_database(config)
    os.environ.update(env)
    import django

    django.setup()
    from accounts.models import User
    from wallets.services import wallet_get_or_create

    buyers, _reseller = seed_buyers(args.users)
    User.objects.filter(pk__in=[b.user_id for b in buyers]).update(pin_hash="")  # API keys need no PIN
    wallets = {b.user_id: wallet_get_or_create(user_id=b.user_id).number for b in buyers}
    harness.create_bench_tables([b.user_id for b in buyers], BALANCE_KOBO)
    references = seed_deposits([b.user_id for b in buyers], args.deposits, "mix")
    deliveries = delivery_requests(references)
    mixed_file = harness.write_requests(DATA / "mixed.lua", mix_requests(buyers, wallets, deliveries))
    bare_file = harness.write_requests(DATA / "bare.lua", harness.bare_requests([{"X-API-Key": b.api_key} for b in buyers]))
    results: dict = {"config": vars(args), "machine": harness.machine_info(), "mix": MIX,
                     "amount_kobo": AMOUNT_KOBO}

    print(f"phase 1: gunicorn {config.workers} workers + 1 Celery worker (-c 2)", flush=True)
    with harness.Server(config, env=env) as server, Workers(env, count=1, concurrency=2):
        harness.run_wrk(config, url=server.url, data_file=mixed_file, label="warm-up", duration_s=config.warmup_s)
        summaries = harness.alternate(config, {
            "bare": lambda: harness.run_wrk(config, url=server.url, data_file=bare_file, label="bare"),
            "mixed": lambda: harness.run_wrk(config, url=server.url, data_file=mixed_file, label="mixed"),
        })
        quiet = wait_quiet()
    ratios = harness.print_report("mixed workload vs bare (median ok req/s)", summaries, [("mixed", "mixed", "bare", 0.0)])
    from wallets.invariants import ledger_findings

    findings_1 = ledger_findings()
    problems_1 = accounting() + ([f"not drained: {quiet}"] if any(quiet.values()) else [])
    print(f"  drained: {quiet}; accounting: {problems_1 or 'ok'}; ledger invariants: {findings_1 or 'all hold'}")
    results["phase1"] = {"summaries": {k: v.as_dict() for k, v in summaries.items()}, "ratios": ratios,
                         "drained": quiet, "accounting": problems_1, "findings": [f.as_dict() for f in findings_1]}

    print("phase 2: scaled out: 2 gunicorn instances (1 worker each) + 2 Celery worker processes", flush=True)
    one = harness.BenchConfig(**{**vars(config), "workers": 1})
    with harness.Server(one, env=env) as web_a, harness.Server(one, env=env) as web_b, Workers(env, count=2, concurrency=1):
        half = harness.BenchConfig(**{**vars(config), "connections": max(config.connections // 2, 2), "wrk_threads": 1})
        scaled: list[harness.WrkResult] = []
        for _ in range(config.rounds):
            with _parallel() as pool:
                futures = [pool.submit(harness.run_wrk, half, url=web.url, data_file=mixed_file, label=f"scaled {n}")
                           for n, web in enumerate((web_a, web_b))]
                pair = [f.result() for f in futures]
            scaled.append(pair)
            print(f"  scaled round: {sum(r.ok_per_s for r in pair):.1f} ok/s "
                  f"({' + '.join(f'{r.ok_per_s:.1f}' for r in pair)}), non-2xx {sum(r.non2xx for r in pair)}", flush=True)
            harness.check_invariants(f"scaled round {len(scaled)}")
        quiet_2 = wait_quiet()
    findings_2 = ledger_findings()
    problems_2 = accounting() + ([f"not drained: {quiet_2}"] if any(quiet_2.values()) else [])
    import statistics

    totals = [sum(r.ok_per_s for r in pair) for pair in scaled]
    print(f"  scaled out median {statistics.median(totals):.1f} ok/s; drained: {quiet_2}; accounting: "
          f"{problems_2 or 'ok'}; ledger invariants: {findings_2 or 'all hold'}")
    results["phase2"] = {
        "ok_per_s_median": round(statistics.median(totals), 1),
        "p50_ms_median": round(statistics.median(statistics.mean(r.p50_ms for r in pair) for pair in scaled), 2),
        # The slower of the two instances per round (p95, p99), median over the rounds.
        "p95_ms_median": round(statistics.median(max(r.p95_ms for r in pair) for pair in scaled), 2),
        "p99_ms_median": round(statistics.median(max(r.p99_ms for r in pair) for pair in scaled), 2),
        "failures": sum(r.non2xx + r.socket_errors for pair in scaled for r in pair),
        "drained": quiet_2, "accounting": problems_2, "findings": [f.as_dict() for f in findings_2],
    }
    fake.shutdown()
    failures = summaries["mixed"].failures + summaries["bare"].failures + results["phase2"]["failures"]
    results["failures"] = failures
    results["findings"] = results["phase1"]["findings"] + results["phase2"]["findings"]
    results["accounting"] = problems_1 + problems_2
    path = harness.save_report("mixed", results)
    print(f"  saved {path}")
    ok = failures == 0 and not results["findings"] and not results["accounting"]
    return 0 if ok else 1


def _parallel():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=2)


if __name__ == "__main__":
    sys.exit(main())
