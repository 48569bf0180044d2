"""Benchmark: signed Paystack `charge.success` deliveries (issue 4), against the bare endpoint.

Run: `.venv/bin/python bench/webhooks.py` (see --help). Reuses bench.harness: a fresh
vtu_bench_webhooks database, gunicorn with production settings, wrk, alternating bare and
real runs (median of --rounds).

1. Accepting: POST /api/v1/payments/webhooks/paystack with deliveries for distinct deposits
   (each pre-signed with HMAC-SHA512 over its exact body; bench/lua/webhooks.lua sends every
   one once), no worker running: what the web tier accepts (store the delivery, verify the
   signature, insert the event, queue the task) per second, as a ratio to the bare endpoint.
2. Crediting: then a Celery worker (queue "webhooks") drains the queued events, each asking a
   local fake of Paystack's verify API (127.0.0.1, Paystack's wire format) and posting the
   `fund:paystack:<ref>` journal: credits per second, as a ratio to the same bare figure.
3. After: every accepted event credited exactly once (journals = successful deposits =
   accepted deliveries), and every ledger invariant holds.
Exit status 0 when the accept target is met with no failure, no accounting gap, no finding.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

TARGET_ACCEPT = 0.6
AMOUNT_KOBO = 500_000
SECRET = "sk_test_benchpaystacksecret0001"
DATA = Path("/tmp/bench-data/webhooks")
LUA_DRIVER = harness.ROOT / "bench" / "lua" / "webhooks.lua"


# --- a local fake of Paystack's verify API --------------------------------------------------------


class _VerifyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        reference = self.path.rsplit("/", 1)[-1]
        body = json.dumps({"status": True, "message": "Verification successful", "data": {
            "id": paystack_id(reference), "domain": "test", "status": "success",
            "reference": reference, "amount": AMOUNT_KOBO, "currency": "NGN", "fees": 0,
            "gateway_response": "Successful", "paid_at": "2026-10-06T10:16:10.000Z", "channel": "card",
        }}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def paystack_id(reference: str) -> int:
    """Paystack's transaction id for a reference: the same in the delivery and the verify answer,
    distinct per deposit (the event's dedupe key is charge.success:<id>)."""
    return int(hashlib.sha1(reference.encode()).hexdigest()[:12], 16)


def start_fake_paystack() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", harness.free_port()), _VerifyHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- seeding ------------------------------------------------------------------------------------------


def seed_users(count: int) -> list[tuple[int, str]]:
    """Users with an API key (for the bare endpoint, which authenticates like the real API)."""
    from django.utils import timezone

    from accounts.api_keys import api_key_create
    from accounts.models import User

    now = timezone.now()
    users = [User(email=f"bench{i}@example.com", kyc_tier=3, email_verified_at=now, first_name="Bench") for i in range(count)]
    for user in users:
        user.set_unusable_password()
    User.objects.bulk_create(users)
    users = list(User.objects.filter(email__startswith="bench").order_by("pk"))
    return [(u.pk, api_key_create(user=u, name="bench", scopes=["transfer", "deposit", "read"]).plaintext) for u in users]


def seed_deposits(user_ids: list[int], count: int, prefix: str) -> list[str]:
    from payments.models import Deposit

    references = [f"DEP-BENCH-{prefix}-{i:07d}" for i in range(count)]
    Deposit.objects.bulk_create(
        [Deposit(user_id=user_ids[i % len(user_ids)], gateway="paystack", reference=ref, amount_kobo=AMOUNT_KOBO,
                 currency="NGN") for i, ref in enumerate(references)],
        batch_size=2000,
    )
    return references


def delivery_requests(references: list[str]) -> list[dict]:
    requests = []
    for reference in references:
        body = json.dumps({"event": "charge.success", "data": {
            "id": paystack_id(reference), "domain": "test", "status": "success", "reference": reference,
            "amount": AMOUNT_KOBO, "currency": "NGN", "channel": "card", "fees": 0,
            "customer": {"email": "bench@example.com", "customer_code": "CUS_bench"},
        }}, separators=(",", ":"))
        signature = hmac.new(SECRET.encode(), body.encode(), hashlib.sha512).hexdigest()
        requests.append({"path": "/api/v1/payments/webhooks/paystack", "body": body,
                         "headers": {"Content-Type": "application/json", "x-paystack-signature": signature}})
    return requests


# --- runs ---------------------------------------------------------------------------------------------


def run_deliveries(config: harness.BenchConfig, url: str, data_file: Path, label: str,
                   duration_s: int | None = None) -> tuple[harness.WrkResult, int]:
    duration = duration_s or config.duration_s
    completed = subprocess.run(
        ["wrk", "-t", str(config.wrk_threads), "-c", str(config.connections), "-d", f"{duration}s", "--timeout", "10s",
         "-s", str(LUA_DRIVER), url, "--", str(data_file), str(config.wrk_threads)],
        capture_output=True, text=True, check=True,
    )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    result = harness.WrkResult(
        label=label, requests=data["requests"], duration_s=data["duration_us"] / 1e6, non2xx=data["non2xx"],
        socket_errors=data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"],
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        p95_ms=data.get("p95_us", 0) / 1000,
    )
    return result, int(data["wrapped"])


def drain_with_worker(env: dict[str, str], expected: int, concurrency: int, timeout_s: float) -> dict:
    """Start a Celery worker on the webhooks queue and time it until `expected` deposits are
    successful (polled, bounded by `timeout_s`)."""
    from payments.models import Deposit

    log = open("/tmp/bench-webhooks-worker.log", "w")  # noqa: SIM115 - closed below
    started = time.monotonic()
    worker = subprocess.Popen(
        [harness.PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "webhooks", "-c", str(concurrency),
         "-l", "warning", "-n", f"benchwebhooks{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
        cwd=harness.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    first_credit = last_credit = None
    credited = 0
    try:
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            credited = Deposit.objects.filter(status="successful").count()
            now = time.monotonic()
            if credited and first_credit is None:
                first_credit = now
            if credited >= expected:
                last_credit = now
                break
            time.sleep(0.25)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
    elapsed = (last_credit or time.monotonic()) - (first_credit or started)
    return {"credited": credited, "expected": expected, "seconds_first_to_last": round(elapsed, 2),
            "seconds_from_worker_start": round((last_credit or time.monotonic()) - started, 2),
            "credits_per_s": round(credited / elapsed, 1) if elapsed > 0 else 0.0, "complete": credited >= expected}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_arguments(parser, database="vtu_bench_webhooks")
    parser.add_argument("--users", type=int, default=200, help="depositors (and bare-endpoint API keys)")
    parser.add_argument("--per-run", type=int, default=12000, help="distinct deposits prepared per run")
    parser.add_argument("--worker-concurrency", type=int, default=4, help="Celery worker processes for crediting")
    parser.add_argument("--drain-timeout", type=int, default=600, help="seconds the worker may take")
    args = parser.parse_args(argv)
    config = harness.config_from(args)

    fake, fake_url = start_fake_paystack()
    extra = {"PAYSTACK_SECRET_KEY": SECRET, "PAYSTACK_WEBHOOK_SECRET": SECRET, "PAYSTACK_BASE_URL": fake_url,
             "PAYSTACK_MODE": "test", "PAYSTACK_FEE_BEARER": "platform", "OPS_ALERT_EMAILS": ""}
    env = harness.server_env(config, extra)
    print(f"preparing {config.database} ...", flush=True)
    harness.prepare_database(config)
    harness.django_setup(config)
    os.environ.update(extra)
    users = seed_users(args.users)
    harness.create_bench_tables([pk for pk, _ in users], 10**12)
    bare_file = harness.write_requests(DATA / "bare.lua", harness.bare_requests([{"X-API-Key": k} for _, k in users]))
    user_ids = [pk for pk, _ in users]
    # Every run's deposits are seeded and signed before the server starts, so no bulk insert
    # or vacuum runs between timed runs: one file for the warm-up, one per round.
    files = []
    for index in range(config.rounds + 1):
        references = seed_deposits(user_ids, args.per_run, f"{index:03d}")
        files.append(harness.write_requests(DATA / f"deliveries-{index}.lua", delivery_requests(references)))
    harness.count_rows("SELECT count(*) FROM payments_deposit")  # touch: the table is warm
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE payments_deposit")
    next_files = iter(files)

    def next_file(_count: int) -> Path:
        return next(next_files)

    wraps: list[int] = []
    with harness.Server(config, env=env) as server:
        print(f"gunicorn {config.workers} x {config.worker_class} on {server.url}; wrk -t{config.wrk_threads} "
              f"-c{config.connections} -d{config.duration_s}s; fake Paystack verify at {fake_url}", flush=True)
        harness.run_wrk(config, url=server.url, data_file=bare_file, label="warmup bare", duration_s=config.warmup_s)
        run_deliveries(config, server.url, next_file(args.per_run), "warmup webhooks", duration_s=config.warmup_s)

        def bare() -> harness.WrkResult:
            return harness.run_wrk(config, url=server.url, data_file=bare_file, label="bare")

        def webhooks() -> harness.WrkResult:
            result, wrapped = run_deliveries(config, server.url, next_file(args.per_run), "paystack webhooks")
            wraps.append(wrapped)
            return result

        summaries = harness.alternate(config, {"bare": bare, "paystack webhooks": webhooks})

    from payments.models import Deposit, WebhookDelivery, WebhookEvent
    from wallets.models import Journal

    accepted = WebhookDelivery.objects.filter(verdict="accepted").count()
    duplicates = WebhookDelivery.objects.exclude(verdict="accepted").count()
    events = WebhookEvent.objects.count()
    print(f"\ncrediting: {events} queued events, worker -c {args.worker_concurrency} ...", flush=True)
    drain = drain_with_worker(env, events, args.worker_concurrency, args.drain_timeout)
    fake.shutdown()

    ratios = harness.print_report(
        "POST /api/v1/payments/webhooks/paystack (signed charge.success, distinct deposits) vs bare (median ok req/s)",
        summaries, [("accepting deliveries", "paystack webhooks", "bare", TARGET_ACCEPT)],
    )
    bare_ok = summaries["bare"].median("ok_per_s")
    credit_ratio = drain["credits_per_s"] / bare_ok if bare_ok else 0.0
    print(f"  credits/s by one worker (-c {args.worker_concurrency}): {drain['credits_per_s']}  "
          f"ratio to bare {credit_ratio:.2f}  ({drain['credited']}/{drain['expected']} credited)")

    journals = Journal.objects.filter(kind="deposit", idempotency_key__startswith="fund:paystack:").count()
    successful = Deposit.objects.filter(status="successful").count()
    accounting = []
    if not (accepted == events == journals == successful):
        accounting.append(f"accepted {accepted}, events {events}, fund journals {journals}, successful {successful}")
    if duplicates:
        accounting.append(f"{duplicates} deliveries were not accepted as new events (every delivery must be distinct)")
    if any(wraps):
        accounting.append(f"a data file ran out ({wraps}): raise --per-run so every delivery is distinct")
    from wallets.invariants import ledger_findings

    findings = ledger_findings()
    print(f"  accepted deliveries {accepted} = events {events} = fund journals {journals} = credited {successful}: "
          f"{accounting if accounting else 'ok'}")
    print(f"  ledger invariants after the load: {findings if findings else 'all hold'}")
    failures = sum(summary.failures for summary in summaries.values())
    report = harness.save_report("webhooks", {
        "config": vars(args), "machine": harness.machine_info(),
        "summaries": {k: v.as_dict() for k, v in summaries.items()}, "ratios": ratios,
        "crediting": {**drain, "ratio_to_bare": round(credit_ratio, 3)}, "accounting": accounting,
        "findings": [f.as_dict() for f in findings], "failures": failures,
    })
    print(f"  saved {report}")
    ok = not findings and not accounting and failures == 0 and drain["complete"] and all(r["met"] for r in ratios)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
