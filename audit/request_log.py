"""The API request log: one row per API request (method, path, status, latency, user or API
key, IP, request id), never a body or a query string.

Cheap on the hot path: successful requests (status < 400) are sampled at
REQUEST_LOG_SAMPLE_RATE and buffered in the process, then written in one INSERT of up to
REQUEST_LOG_BATCH_SIZE rows, or when the oldest buffered row is REQUEST_LOG_FLUSH_SECONDS
old, or at process exit. A 4xx or 5xx is never sampled out and never waits: it is written at
once, together with whatever is buffered. What a crash can lose is therefore at most one
batch of successful requests of one process (docs/backoffice.md).

Writing the log must never break a request: a database error is logged and the rows dropped.
"""

from __future__ import annotations

import atexit
import random
import threading
import time
from dataclasses import dataclass, field

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import RequestLog

log = structlog.get_logger("audit.request_log")


@dataclass
class _Buffer:
    rows: list[RequestLog] = field(default_factory=list)
    first_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[RequestLog]:
        with self.lock:
            rows, self.rows = self.rows, []
            return rows


_buffer = _Buffer()


def is_logged_path(path: str) -> bool:
    return settings.REQUEST_LOG_ENABLED and path.startswith(tuple(settings.REQUEST_LOG_PATH_PREFIXES))


def request_log_record(
    *,
    method: str,
    path: str,
    status: int,
    latency_ms: int,
    user_id: int | None,
    api_key_id: int | None,
    ip: str | None,
    request_id: str,
) -> bool:
    """Log one request (buffered, or at once for an error). Returns False when sampled out."""
    is_error = status >= 400
    if not is_error and random.random() >= settings.REQUEST_LOG_SAMPLE_RATE:
        return False
    row = RequestLog(
        method=method[:8], path=path[:255], status=status, latency_ms=max(0, latency_ms),
        user_id=user_id, api_key_id=api_key_id, ip=ip, request_id=request_id[:64], created_at=timezone.now(),
    )
    now = time.monotonic()
    with _buffer.lock:
        if not _buffer.rows:
            _buffer.first_at = now
        _buffer.rows.append(row)
        due = (
            is_error
            or len(_buffer.rows) >= settings.REQUEST_LOG_BATCH_SIZE
            or now - _buffer.first_at >= settings.REQUEST_LOG_FLUSH_SECONDS
        )
    if due:
        request_log_flush()
    return True


def request_log_flush() -> int:
    """Write every buffered row in one INSERT; returns how many were written."""
    rows = _buffer.take()
    if not rows:
        return 0
    try:
        # A savepoint, so a failed insert cannot poison a caller's transaction.
        with transaction.atomic():
            RequestLog.objects.bulk_create(rows)
    except Exception as exc:  # noqa: BLE001 - the log must never break the request that triggered the flush
        log.warning("request_log_write_failed", rows=len(rows), error=type(exc).__name__)
        return 0
    return len(rows)


def buffered_count() -> int:
    with _buffer.lock:
        return len(_buffer.rows)


def _flush_at_exit() -> None:
    try:
        request_log_flush()
    except Exception:  # noqa: BLE001, S110 - the process is exiting; nothing else to do
        pass


# Not under tests: at exit the test database is gone and the settings point at the real one.
if not settings.TESTING:
    atexit.register(_flush_at_exit)
