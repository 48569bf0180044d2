"""Where accepting a gateway webhook's time goes: cProfile over N signed Paystack
`charge.success` deliveries through the full Django stack (middleware, the webhook view:
store the delivery, check the signature, insert the event, queue the crediting task), in one
process, on the database bench/webhooks.py left behind (run that first). Each delivery is for
a fresh deposit, as in the benchmark. Prints the rate, the SQL statements of one delivery,
and the top functions by cumulative and by own time. The queued tasks are purged afterwards
(crediting is the worker's side; bench/webhooks.py measures it separately).

    .venv/bin/python bench/webhooks_profile.py --requests 300 [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.webhooks import SECRET, delivery_requests, seed_deposits

DATABASE = "vtu_bench_webhooks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    config = harness.BenchConfig(database=args.database)
    # The gateway's settings are read once, at set-up: its secret must be in the environment first.
    os.environ.update({"PAYSTACK_SECRET_KEY": SECRET, "PAYSTACK_WEBHOOK_SECRET": SECRET, "PAYSTACK_MODE": "test",
                       "PAYSTACK_FEE_BEARER": "platform"})
    os.environ.setdefault("LOG_LEVEL", "ERROR")  # request log lines would drown the report
    harness.django_setup(config)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    user_ids = list(User.objects.filter(email__startswith="bench").values_list("pk", flat=True)[:50])
    if not user_ids:
        raise SystemExit("run bench/webhooks.py first (it seeds the database this profiles)")
    deliveries = iter(delivery_requests(seed_deposits(user_ids, args.requests + 21, f"profile{time.time_ns()}")))
    client = Client(SERVER_NAME="127.0.0.1")

    def post() -> None:
        delivery = next(deliveries)
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in delivery["headers"].items()
                   if k.lower() != "content-type"}
        response = client.post(delivery["path"], delivery["body"], content_type="application/json", **headers)
        assert response.status_code == 200, response.content[:500]

    for _ in range(20):  # warm caches and the connection
        post()
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(args.requests):
        post()
    profile.disable()
    elapsed = time.perf_counter() - started
    print(f"{args.requests} deliveries accepted in {elapsed:.2f} s: {args.requests / elapsed:.1f}/s in one process "
          f"({elapsed / args.requests * 1000:.2f} ms each)")
    with CaptureQueriesContext(connection) as queries:
        post()
    print(f"SQL statements in one delivery: {len(queries.captured_queries)}")
    for query in queries.captured_queries:
        print("   ", query["sql"][:160])
    _purge_queued_tasks()
    for kind in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(kind).print_stats(args.top)
        print(f"--- top {args.top} by {kind} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
    return 0


def _purge_queued_tasks() -> None:
    from config.celery import app

    try:
        app.control.purge()
    except Exception as exc:  # the profile stands without it; say so
        print(f"(could not purge the queued crediting tasks: {exc})")


if __name__ == "__main__":
    sys.exit(main())
