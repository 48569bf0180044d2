"""Outbound HTTP for adapters (providers, gateways): timeouts, logging, and the rule that no
request leaves while a database transaction is open (a held row lock across a slow vendor
would stall every other request on that wallet).

Every adapter goes through `outbound_request`. The guard also runs from a session-wide patch
in the test suite, so a vendor call made some other way inside `transaction.atomic` fails too.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import structlog
from django.db import connections

from config.logs import mask_string, redact_value

log = structlog.get_logger("outbound")


class HTTPInsideTransaction(RuntimeError):
    """An outbound call was attempted while a database transaction was open."""


def open_transaction_aliases() -> list[str]:
    """Aliases with an atomic block open, ignoring the ones Django's TestCase wraps tests in."""
    aliases = []
    for conn in connections.all(initialized_only=True):
        blocks = [block for block in conn.atomic_blocks if not getattr(block, "_from_testcase", False)]
        if blocks or (conn.in_atomic_block and not conn.atomic_blocks):
            aliases.append(conn.alias)
    return aliases


def assert_no_transaction() -> None:
    aliases = open_transaction_aliases()
    if aliases:
        raise HTTPInsideTransaction(f"outbound HTTP inside transaction.atomic on {', '.join(aliases)}")


_session = requests.Session()


def outbound_request(
    method: str,
    url: str,
    *,
    service: str,
    timeout: tuple[float, float],
    session: requests.Session | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one request with an explicit (connect, read) timeout; log it with secrets masked.

    Raises whatever requests raises (Timeout, ConnectionError, ...): the adapter decides
    what an error means (DESIGN §3: after the request may have left, it is *unknown*).
    """
    assert_no_transaction()
    started = time.perf_counter()
    outcome = "error"
    status = None
    try:
        response = (session or _session).request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
        status = response.status_code
        outcome = "ok" if response.ok else "http_error"
        return response
    except requests.Timeout:
        outcome = "timeout"
        raise
    finally:
        log.info(
            "outbound_http",
            service=service,
            method=method,
            url=mask_string(url),
            params=redact_value(kwargs.get("params") or {}),
            status=status,
            outcome=outcome,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
