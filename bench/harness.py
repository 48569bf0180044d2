"""Reusable pieces of every benchmark (transfers here; purchases and webhooks reuse them).

- `BenchConfig`: database name, workers, wrk connections/duration, rounds, from CLI flags.
- `prepare_database()`: drop and recreate a dedicated PostgreSQL database (default vtu_bench,
  never the platform's or a test database) and migrate it.
- `django_setup()`: configure Django in this process against that database (seeding and the
  invariant check after the load run here).
- `Server`: gunicorn on 127.0.0.1 with N workers, production settings (DEBUG off) except
  throttles raised through env and BENCH_ENDPOINTS on; waits for /healthz.
- `write_requests()` + `run_wrk()`: wrk with bench/lua/post.lua; unique Idempotency-Keys.
- `alternate()`: bare and real runs alternate, `rounds` times; `Summary` keeps the median.
- `bare_requests()`: request list for the bare endpoint (bench/views.py).
- `print_report()` / `save_report()`.

Every money benchmark ends with `wallets.invariants.ledger_findings()` on the database it
loaded, and `alternate()` runs the same check after every round (`check_invariants`, saved as
`invariants_per_round`): a fast number with a broken ledger is a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUA_DRIVER = ROOT / "bench" / "lua" / "post.lua"
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
BENCH_SECRET = "bench-secret-key-" + "x" * 32


# --- configuration ----------------------------------------------------------------------------


@dataclass
class BenchConfig:
    database: str = "vtu_bench"
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    redis_url: str = "redis://127.0.0.1:6379/14"
    workers: int = 4
    worker_class: str = "sync"
    connections: int = 16
    wrk_threads: int = 2
    duration_s: int = 10
    rounds: int = 3
    warmup_s: int = 3

    @property
    def database_url(self) -> str:
        return f"postgres://{self.pg_user}@{self.pg_host}:{self.pg_port}/{self.database}"


def add_arguments(parser: argparse.ArgumentParser, *, database: str = "vtu_bench") -> None:
    """The common flags. Give each scenario its own `database` (vtu_bench_<scenario>) so two
    scenarios run by different people at once never drop each other's database."""
    defaults = BenchConfig()
    parser.add_argument("--database", default=database, help="dedicated database (dropped and recreated)")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="gunicorn workers")
    parser.add_argument("--worker-class", default=defaults.worker_class)
    parser.add_argument("--connections", type=int, default=defaults.connections, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=defaults.wrk_threads)
    parser.add_argument("--duration", type=int, default=defaults.duration_s, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=defaults.rounds, help="alternating rounds; the median is kept")
    parser.add_argument("--warmup", type=int, default=defaults.warmup_s, help="seconds of unrecorded load first")


def config_from(args: argparse.Namespace) -> BenchConfig:
    return BenchConfig(
        database=args.database, workers=args.workers, worker_class=args.worker_class, connections=args.connections,
        wrk_threads=args.wrk_threads, duration_s=args.duration, rounds=args.rounds, warmup_s=args.warmup,
    )


def server_env(config: BenchConfig, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Production settings (DEBUG off, JSON logs) on the benchmark database, with every
    throttle raised (a benchmark measures the code, not the rate limit) and the bench URLs on."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": config.database_url,
        "REDIS_URL": config.redis_url,
        "REDIS_KEY_PREFIX": f"bench{os.getpid()}",
        "DEBUG": "false",
        "SECRET_KEY": BENCH_SECRET,
        "PIN_PEPPER": "bench-pin-pepper-0123456789",
        "KYC_IDENTITY_HMAC_KEY": "bench-kyc-identity-hmac-key-0123456789",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "BENCH_ENDPOINTS": "true",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "JWT_ACCESS_MINUTES": "600",
    }
    for scope in ("USER", "ANON", "API_KEY"):
        env[f"THROTTLE_{scope}"] = "100000000/min"
    env.update(extra or {})
    return env


# --- database and Django --------------------------------------------------------------------------


def _psql(config: BenchConfig, sql: str, database: str = "postgres") -> None:
    subprocess.run(
        ["psql", "-h", config.pg_host, "-p", str(config.pg_port), "-U", config.pg_user, "-d", database,
         "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        check=True, capture_output=True, text=True,
    )


def prepare_database(config: BenchConfig) -> None:
    """Drop and recreate the benchmark database, then migrate it (its own name: never the
    platform's database or a test database)."""
    if not re.fullmatch(r"[a-z0-9_]+", config.database) or not config.database.startswith(("vtu_bench", "bench")):
        raise SystemExit(f"refusing to drop {config.database!r}: benchmark databases are named vtu_bench*")
    _psql(config, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{config.database}'")
    _psql(config, f"DROP DATABASE IF EXISTS {config.database}")
    _psql(config, f"CREATE DATABASE {config.database}")
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=server_env(config), check=True)


def django_setup(config: BenchConfig) -> None:
    """Configure Django in this process against the benchmark database."""
    os.environ.update(server_env(config))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_bench_tables(account_ids: Iterable[int], balance: int) -> None:
    """The bare endpoint's tables, one bench_account row per user id."""
    from django.db import connection

    from bench.views import BENCH_TABLES_SQL

    with connection.cursor() as cursor:
        cursor.execute(BENCH_TABLES_SQL)
        cursor.execute("TRUNCATE bench_account, bench_entry")
        cursor.executemany("INSERT INTO bench_account (id, balance) VALUES (%s, %s)", [(pk, balance) for pk in account_ids])


def count_rows(sql: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


# --- gunicorn ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving config.wsgi on 127.0.0.1; a context manager that waits for /healthz."""

    def __init__(self, config: BenchConfig, *, env: dict[str, str] | None = None, log_path: Path | None = None):
        self.config = config
        self.port = free_port()
        self.env = env or server_env(config)
        self.log_path = log_path or Path("/tmp") / f"bench-gunicorn-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        command = [
            PYTHON, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.config.workers), "--worker-class", self.config.worker_class,
            "--backlog", "2048", "--timeout", "60", "--log-level", "warning",
        ]
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # poll /healthz, bounded
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within 60 s: see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- wrk --------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    label: str
    requests: int
    duration_s: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p95_ms: float = 0.0  # read from the same WRK_JSON line (bench/lua/*.lua print p95_us)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def ok_per_s(self) -> float:
        """2xx answers per second: what the ratio targets compare."""
        return (self.requests - self.non2xx) / self.duration_s if self.duration_s else 0.0


def lua_literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid Lua string literal for our ASCII data
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    raise TypeError(type(value))


def write_requests(path: Path, requests: list[dict[str, Any]]) -> Path:
    """A data file for bench/lua/post.lua: [{method, path, headers, body}]; "@@UNIQUE@@"
    anywhere in headers or body becomes a per-request unique string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("return {\n" + ",\n".join(lua_literal(item) for item in requests) + "\n}\n")
    return path


def run_wrk(config: BenchConfig, *, url: str, data_file: Path, label: str, duration_s: int | None = None) -> WrkResult:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    duration = duration_s or config.duration_s
    nonce = secrets.token_hex(4)
    completed = subprocess.run(
        ["wrk", "-t", str(config.wrk_threads), "-c", str(config.connections), "-d", f"{duration}s", "--timeout", "10s",
         "-s", str(LUA_DRIVER), url, "--", str(data_file), nonce],
        capture_output=True, text=True, check=True,
    )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        label=label, requests=data["requests"], duration_s=data["duration_us"] / 1e6, non2xx=data["non2xx"],
        socket_errors=data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"],
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        p95_ms=data.get("p95_us", 0) / 1000,
    )


# --- alternating runs and medians ------------------------------------------------------------------


@dataclass
class Summary:
    label: str
    runs: list[WrkResult] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)

    @property
    def failures(self) -> int:
        return sum(run.non2xx + run.socket_errors for run in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "ok_per_s": round(self.median("ok_per_s"), 1),
            "p50_ms": round(self.median("p50_ms"), 2), "p95_ms": round(self.median("p95_ms"), 2),
            "p99_ms": round(self.median("p99_ms"), 2),
            "failures": self.failures, "runs": [asdict(run) | {"ok_per_s": round(run.ok_per_s, 1)} for run in self.runs],
        }


Run = Callable[[], WrkResult]


def alternate(config: BenchConfig, runs: dict[str, Run], *, between: Callable[[str], None] | None = None) -> dict[str, Summary]:
    """Run every labelled run once per round, in order (bare and real interleaved), `rounds`
    times; `between(label)` runs after each (e.g. a per-run accounting check). After each
    round the ledger invariants are checked (`check_invariants`), between timed runs."""
    summaries = {label: Summary(label) for label in runs}
    for round_number in range(1, config.rounds + 1):
        for label, run in runs.items():
            result = run()
            summaries[label].runs.append(result)
            print(
                f"  round {round_number} {label:<22} {result.ok_per_s:8.1f} ok/s  p50 {result.p50_ms:6.1f} ms"
                f"  p99 {result.p99_ms:7.1f} ms  non-2xx {result.non2xx}  socket errors {result.socket_errors}",
                flush=True,
            )
            if between is not None:
                between(label)
        check_invariants(f"round {round_number}")
    return summaries


# The ledger invariants after each round of this process's runs; save_report adds them to the
# report. Each rule of wallets.invariants is one statement (one snapshot), so a check is valid
# while Celery workers are still posting; it runs between timed runs, never during one.
ROUND_INVARIANTS: list[dict[str, Any]] = []


def check_invariants(after: str) -> list[str]:
    """Run the ledger check now (Django must be set up in this process); record and print it.
    Returns the finding codes (empty: all hold)."""
    from django.apps import apps

    if not apps.ready:
        return []
    from wallets.invariants import ledger_findings

    started = time.perf_counter()
    codes = sorted({finding.code for finding in ledger_findings()})
    ROUND_INVARIANTS.append({"after": after, "findings": codes, "seconds": round(time.perf_counter() - started, 2)})
    print(f"  ledger invariants after {after}: {', '.join(codes) if codes else 'all hold'}", flush=True)
    return codes


def bare_requests(credentials: list[dict[str, str]], *, amount: int = 1) -> list[dict[str, Any]]:
    """Requests for the bare endpoint, one per credential header set (X-API-Key or Bearer)."""
    body = json.dumps({"amount": amount})
    return [
        {"method": "POST", "path": "/api/v1/bench/bare", "body": body,
         "headers": {**headers, "Content-Type": "application/json", "Idempotency-Key": "@@UNIQUE@@"}}
        for headers in credentials
    ]


# --- reporting ---------------------------------------------------------------------------------------


def print_report(title: str, summaries: dict[str, Summary], ratios: list[tuple[str, str, str, float]]) -> list[dict]:
    """ratios: (name, real label, bare label, target). Returns the ratio rows."""
    print(f"\n{title}")
    print(f"  {'run':<24}{'ok req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'failures':>10}")
    for summary in summaries.values():
        print(f"  {summary.label:<24}{summary.median('ok_per_s'):>10.1f}{summary.median('p50_ms'):>9.1f}"
              f"{summary.median('p99_ms'):>9.1f}{summary.failures:>10}")
    rows = []
    for name, real, bare, target in ratios:
        ratio = summaries[real].median("ok_per_s") / max(summaries[bare].median("ok_per_s"), 1e-9)
        verdict = "meets" if ratio >= target else "MISSES"
        print(f"  ratio {name:<30} {ratio:5.2f}  (target >= {target:.2f}: {verdict})")
        rows.append({"name": name, "ratio": round(ratio, 3), "target": target, "met": ratio >= target})
    return rows


def save_report(name: str, payload: dict[str, Any]) -> Path:
    payload.setdefault("invariants_per_round", list(ROUND_INVARIANTS))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def machine_info() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform}
