"""Turn a postgres:// URL into libpq environment variables (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE, PGSSLMODE, ...) printed as shell `export` lines, for scripts/backup
and scripts/restore: pg_dump, psql and pg_restore then read the credentials from their
environment instead of their command line, where `ps` shows them to every user of the host.

The URL is read from the environment variable PG_URL (never from argv, for the same reason):

    exports="$(PG_URL="$DATABASE_URL" python3 scripts/pg_env.py)" && eval "$exports"

Exit status 2 on a URL that is not PostgreSQL or has a parameter libpq has no variable for.
"""

from __future__ import annotations

import os
import shlex
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

# Query parameters of a libpq URL that have an environment variable (libpq docs, §34.15).
PARAMETERS = {
    "sslmode": "PGSSLMODE", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL", "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME",
    "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS", "host": "PGHOST", "port": "PGPORT",
    "user": "PGUSER", "password": "PGPASSWORD", "dbname": "PGDATABASE", "service": "PGSERVICE",
}


def variables(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("not a postgres:// URL")
    found = {
        "PGHOST": unquote(parts.hostname or ""), "PGPORT": str(parts.port or ""),
        "PGUSER": unquote(parts.username or ""), "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
    }
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in PARAMETERS:
            raise ValueError(f"unsupported URL parameter {name!r}")
        found[PARAMETERS[name]] = value
    return {name: value for name, value in found.items() if value}


def main() -> int:
    try:
        found = variables(os.environ.get("PG_URL", ""))
    except ValueError as exc:
        print(f"pg_env: {exc}", file=sys.stderr)
        return 2
    for name, value in found.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
