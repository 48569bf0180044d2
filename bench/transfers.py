"""Benchmark: POST /api/v1/wallet/transfer against the bare endpoint, over many wallets and
from one hot wallet (issue 3). Run: `.venv/bin/python bench/transfers.py` (see --help).

Seeds N users (KYC tier 3, funded by a real bankfund journal, one API key each with the
`transfer` scope), starts gunicorn on a fresh vtu_bench database and alternates bare and real
runs (median of --rounds). Checks after every run that each 2xx answer posted exactly one
journal (bare: one bench_entry), and after the load that every ledger invariant holds.
Exit status: 0 when targets are met with no failures and no findings; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

TARGETS = {"many wallets": 0.5, "one hot wallet": 0.35}
BALANCE_KOBO = 100_000_000  # ₦1m per wallet
DATA = Path("/tmp/bench-data/transfers")


PIN = "1234"


@dataclass(frozen=True)
class BenchUser:
    user_id: int
    api_key: str
    jwt: str
    wallet_number: str

    def credentials(self, auth: str) -> dict[str, str]:
        """API key (a reseller: no PIN) or JWT (a customer: the body carries the PIN)."""
        return {"X-API-Key": self.api_key} if auth == "apikey" else {"Authorization": f"Bearer {self.jwt}"}


def seed(count: int) -> list[BenchUser]:
    """`count` users with a funded tier-3 wallet and an API key (scope transfer)."""
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.api_keys import api_key_create
    from accounts.models import User
    from accounts.pins import pin_digest
    from wallets.services import Leg, journal_post, system_account, wallet_get_or_create

    now = timezone.now()
    users = []
    for index in range(count):
        user = User(email=f"bench{index}@example.com", kyc_tier=3, email_verified_at=now, first_name="Bench")
        user.set_unusable_password()
        users.append(user)
    User.objects.bulk_create(users)
    users = list(User.objects.filter(email__startswith="bench").order_by("pk"))
    bank = system_account("bank")
    seeded = []
    for user in users:
        wallet = wallet_get_or_create(user_id=user.pk)
        journal_post(key=f"bankfund:bench-{user.pk}", kind="deposit", memo="bench funding",
                     legs=[Leg(bank.pk, -BALANCE_KOBO), Leg(wallet.pk, BALANCE_KOBO)])
        issued = api_key_create(user=user, name="bench", scopes=["transfer", "read"])
        User.objects.filter(pk=user.pk).update(pin_hash=pin_digest(user_id=user.pk, pin=PIN))
        seeded.append(BenchUser(user.pk, issued.plaintext, str(AccessToken.for_user(user)), wallet.number))
    return seeded


def transfer_requests(users: list[BenchUser], *, hot: bool, auth: str, count: int = 3000) -> list[dict]:
    rng = random.Random(7)
    requests = []
    for _ in range(count):
        sender = users[0] if hot else rng.choice(users)
        recipient = rng.choice(users)
        while recipient.user_id == sender.user_id:
            recipient = rng.choice(users)
        body = {"recipient": recipient.wallet_number, "amount": 1, "narration": "bench"}
        if auth == "jwt":
            body["pin"] = PIN
        requests.append({
            "method": "POST", "path": "/api/v1/wallet/transfer", "body": json.dumps(body),
            "headers": {**sender.credentials(auth), "Idempotency-Key": "@@UNIQUE@@", "Content-Type": "application/json"},
        })
    return requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_arguments(parser, database="vtu_bench_transfers")
    parser.add_argument("--users", type=int, default=500, help="funded wallets with an API key")
    parser.add_argument("--auth", choices=["apikey", "jwt"], default="apikey",
                        help="apikey: reseller keys (no PIN); jwt: customers with the transaction PIN")
    args = parser.parse_args(argv)
    config = harness.config_from(args)

    print(f"preparing {config.database} ...", flush=True)
    harness.prepare_database(config)
    harness.django_setup(config)
    users = seed(args.users)
    harness.create_bench_tables([u.user_id for u in users], BALANCE_KOBO)
    hot = users[0]
    auth = args.auth
    files = {
        "bare many": harness.write_requests(DATA / "bare-many.lua", harness.bare_requests([u.credentials(auth) for u in users])),
        "transfer many": harness.write_requests(DATA / "transfer-many.lua", transfer_requests(users, hot=False, auth=auth)),
        "bare hot": harness.write_requests(DATA / "bare-hot.lua", harness.bare_requests([hot.credentials(auth)])),
        "transfer hot": harness.write_requests(DATA / "transfer-hot.lua", transfer_requests(users, hot=True, auth=auth)),
    }
    accounting: list[str] = []

    def counts() -> tuple[int, int]:
        return (harness.count_rows("SELECT count(*) FROM wallets_journal WHERE kind = 'transfer'"),
                harness.count_rows("SELECT count(*) FROM bench_entry"))

    with harness.Server(config) as server:
        print(f"gunicorn {config.workers} x {config.worker_class} on {server.url}; wrk -t{config.wrk_threads} "
              f"-c{config.connections} -d{config.duration_s}s; {args.users} wallets; auth {auth}", flush=True)
        for label, path in files.items():  # warm up every worker and path, unrecorded
            harness.run_wrk(config, url=server.url, data_file=path, label=label, duration_s=config.warmup_s)
        last = {"counts": counts()}
        results: dict[str, harness.WrkResult] = {}

        def run(label: str):
            def go() -> harness.WrkResult:
                result = harness.run_wrk(config, url=server.url, data_file=files[label], label=label)
                results[label] = result
                return result
            return go

        def check(label: str) -> None:
            before, now = last["counts"], counts()
            last["counts"] = now
            posted = now[0] - before[0] if label.startswith("transfer") else now[1] - before[1]
            ok = results[label].requests - results[label].non2xx
            # A request in flight when wrk stops may still commit: at most one per connection.
            if not ok <= posted <= ok + config.connections:
                accounting.append(f"{label}: {ok} answers 2xx but {posted} postings")

        summaries = harness.alternate(config, {label: run(label) for label in files}, between=check)

    ratios = harness.print_report(
        f"POST /api/v1/wallet/transfer vs bare, auth {auth} (median ok req/s)",
        summaries,
        [("many wallets", "transfer many", "bare many", TARGETS["many wallets"]),
         ("one hot wallet", "transfer hot", "bare hot", TARGETS["one hot wallet"])],
    )
    from wallets.invariants import ledger_findings

    findings = ledger_findings()
    print(f"  ledger invariants after the load: {findings if findings else 'all hold'}")
    print(f"  accounting (2xx answers = postings): {accounting if accounting else 'ok'}")
    failures = sum(summary.failures for summary in summaries.values())
    report = harness.save_report(f"transfers-{auth}", {
        "config": vars(args), "machine": harness.machine_info(), "summaries": {k: v.as_dict() for k, v in summaries.items()},
        "ratios": ratios, "findings": [f.as_dict() for f in findings], "accounting": accounting, "failures": failures,
    })
    print(f"  saved {report}")
    ok = not findings and not accounting and failures == 0 and all(row["met"] for row in ratios)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
