"""Fail fast (exit 2) with instructions when PostgreSQL or Redis do not answer.

Used by `make test`: the suite runs on PostgreSQL and Redis and never falls back to SQLite.
"""

from __future__ import annotations

import os
import sys

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
HOW = """
Start them, then run make test again. On Debian, as root:
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
(.ci/run does exactly this), or point DATABASE_URL / REDIS_URL at running servers.
"""


def main() -> int:
    import psycopg
    import redis

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DB)
    if not database_url.startswith(("postgres://", "postgresql://")):
        print(f"DATABASE_URL must be PostgreSQL for the test suite, not {database_url.split(':')[0]}", file=sys.stderr)
        return 2
    problems = []
    try:
        # Connect to the server's maintenance DB: the test database is created by pytest.
        dsn = database_url.rsplit("/", 1)[0] + "/postgres"
        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"PostgreSQL at {database_url.split('@')[-1]} does not answer: {exc}".strip())
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis at {redis_url.split('@')[-1]} does not answer: {exc}")
    if problems:
        print("\n".join(problems) + "\n" + HOW, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
