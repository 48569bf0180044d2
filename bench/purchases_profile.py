"""Where a purchase's time goes: cProfile over N purchases through the full Django stack
(middleware, DRF, the view, the services), in one process, on the database bench/purchases.py
left behind (run that first). Prints the top functions by cumulative and by own time, and
the SQL statements per request. Run: `.venv/bin/python bench/purchases_profile.py --requests 300`.

`--worker` profiles the Celery side instead: purchase_process for purchases it creates first.
`--compare` runs no profiler: application CPU and wall time per request, purchase vs bare.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.purchases import DATABASE, PLAN, _django_setup, bench_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--worker", action="store_true", help="profile purchase_process instead of the API")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request / worker run")
    parser.add_argument("--compare", action="store_true",
                        help="no profiler: application CPU and wall time per request, purchase vs the bare endpoint")
    args = parser.parse_args(argv)
    config = harness.BenchConfig(database=args.database)
    env = bench_env(config)
    env["CELERY_TASK_ALWAYS_EAGER"] = "false"
    _django_setup(env)

    from django.db import connection, reset_queries
    from django.test import Client

    from accounts.api_keys import api_key_create
    from accounts.models import User

    user = User.objects.filter(email__startswith="bench", role="customer").order_by("?").first()  # key limit: 5 each
    if user is None:
        raise SystemExit("run bench/purchases.py first (it seeds the database this profiles)")
    key = api_key_create(user=user, name=f"profile-{time.time()}", scopes=["purchase", "transfer", "read"]).plaintext
    client = Client(HTTP_X_API_KEY=key, SERVER_NAME="127.0.0.1")
    rng = random.Random(3)

    def post() -> dict:
        number = f"0803{rng.randrange(10**6):06d}{rng.choice('789')}"
        response = client.post(
            "/api/v1/data/purchase", json.dumps({"plan_code": PLAN, "phone_number": number}),
            content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"profile-{time.time_ns()}",
        )
        assert response.status_code == 202, response.content[:500]
        return response.json()

    for _ in range(20):  # warm caches and connections
        post()
    if args.compare:
        return _compare(post, client, args.requests)
    profile = cProfile.Profile()
    if args.worker:
        from vtu.models import Purchase
        from vtu.services.flow import purchase_process

        references = [post()["reference"] for _ in range(args.requests)]
        ids = list(Purchase.objects.filter(reference__in=references).values_list("pk", flat=True))
        started = time.perf_counter()
        profile.enable()
        for pk in ids:
            purchase_process(purchase_id=pk)
        profile.disable()
    else:
        started = time.perf_counter()
        profile.enable()
        for _ in range(args.requests):
            post()
        profile.disable()
    elapsed = time.perf_counter() - started
    print(f"{args.requests} {'worker runs' if args.worker else 'requests'} in {elapsed:.2f} s: "
          f"{args.requests / elapsed:.1f}/s in one process ({elapsed / args.requests * 1000:.2f} ms each)")
    reset_queries()
    if args.worker:
        from vtu.services.flow import purchase_process

        pk = Purchase.objects.filter(reference=post()["reference"]).values_list("pk", flat=True).get()
        purchase_process(purchase_id=pk)
    else:
        post()
    print(f"SQL statements in one {'worker run' if args.worker else 'request'}: {len(connection.queries)}")
    if args.sql:
        for query in connection.queries:
            print("   ", query["sql"][:150])
    for kind in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(kind).print_stats(args.top)
        print(f"\n--- top {args.top} by {kind} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
    return 0


def _compare(post, client, count: int) -> int:
    """Serial, in one process, no profiler: what one request costs the application."""

    def bare() -> None:
        response = client.post("/api/v1/bench/bare", json.dumps({"amount": 1}), content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY=f"bare-{time.time_ns()}")
        assert response.status_code == 201, response.content[:300]

    from django.db import connection, reset_queries

    for name, call in (("purchase", post), ("bare", bare)):
        for _ in range(20):
            call()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            call()
        cpu, wall = (time.process_time() - cpu) / count * 1000, (time.perf_counter() - wall) / count * 1000
        reset_queries()
        call()
        print(f"{name:<9} application CPU {cpu:5.2f} ms/request, wall {wall:5.2f} ms/request, "
              f"{len(connection.queries)} SQL statements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
