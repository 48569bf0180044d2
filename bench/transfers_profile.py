"""Where a transfer's time goes: cProfile over N transfers through the full Django stack
(middleware, DRF, the view, the wallets services), in one process, on the database
bench/transfers.py left behind (run that first), for both ways a transfer is authenticated:
an API key (a reseller; no PIN) and a JWT with the transaction PIN (a customer). Prints the
top functions by cumulative and by own time, and the SQL statements of one transfer of each.

    .venv/bin/python bench/transfers_profile.py --requests 200 [--auth apikey|jwt|both] [--top 25]

Each section starts with the transfers/s in one process and the statements of one transfer,
so the first lines are what bench/run_all.py puts in the report after a miss.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.transfers import PIN

DATABASE = "vtu_bench_transfers"


def _clients(auth: str) -> tuple[Callable[[], dict], str]:
    """A function posting one transfer with `auth`, and a label."""
    from django.test import Client
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.api_keys import api_key_create
    from accounts.models import User
    from wallets.services import wallet_get_or_create

    users = list(User.objects.filter(email__startswith="bench").order_by("pk")[:50])
    if len(users) < 2:
        raise SystemExit("run bench/transfers.py first (it seeds the database this profiles)")
    sender, rng = users[0] if auth == "apikey" else users[1], random.Random(5)
    recipients = [wallet_get_or_create(user_id=u.pk).number for u in users[2:]]
    if auth == "apikey":
        key = api_key_create(user=sender, name=f"profile-{time.time_ns()}", scopes=["transfer", "read"]).plaintext
        client = Client(HTTP_X_API_KEY=key, SERVER_NAME="127.0.0.1")
    else:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(sender)}", SERVER_NAME="127.0.0.1")

    def post() -> dict:
        body = {"recipient": rng.choice(recipients), "amount": 1, "narration": "profile"}
        if auth == "jwt":
            body["pin"] = PIN
        response = client.post("/api/v1/wallet/transfer", json.dumps(body), content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY=f"profile-{time.time_ns()}")
        assert response.status_code == 201, response.content[:500]
        return response.json()

    label = "API key (reseller)" if auth == "apikey" else "JWT + PIN (customer)"
    return post, label


def profile_one(auth: str, requests: int, top: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    post, label = _clients(auth)
    for _ in range(20):  # warm caches and the connection
        post()
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(requests):
        post()
    profile.disable()
    elapsed = time.perf_counter() - started
    print(f"\n=== transfer, {label}: {requests} requests in {elapsed:.2f} s: {requests / elapsed:.1f}/s in one "
          f"process ({elapsed / requests * 1000:.2f} ms each)")
    with CaptureQueriesContext(connection) as queries:  # works with DEBUG off
        post()
    print(f"SQL statements in one transfer ({label}): {len(queries.captured_queries)}")
    for query in queries.captured_queries:
        print("   ", query["sql"][:160])
    for kind in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(kind).print_stats(top)
        print(f"--- top {top} by {kind} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--auth", choices=["apikey", "jwt", "both"], default="both")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "ERROR")  # request log lines would drown the report
    harness.django_setup(harness.BenchConfig(database=args.database))
    for auth in (["apikey", "jwt"] if args.auth == "both" else [args.auth]):
        profile_one(auth, args.requests, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
