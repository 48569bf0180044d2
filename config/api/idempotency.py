"""The Idempotency-Key store for money POSTs (Stripe's contract, brandur's table).

Decorate an APIView's `post` with `@idempotent()`:
- no header: the request runs as usual (JWT clients); API-key clients must send one;
- first use of a key: the record is inserted (unique per owner and key) and locked, the
  handler runs, and its status and body are stored, rejections included (a purchase refused
  for insufficient funds replays as refused, like TigerBeetle's `id_already_failed`);
- the same key and body again: the stored response is replayed (`Idempotency-Replayed: true`);
- the same key with another body, or another path: 422 IDEMPOTENCY_KEY_REUSED;
- the same key while the first request is still running: 409 IDEMPOTENCY_IN_FLIGHT;
- a 5xx is not stored: the business transaction rolled back, so a retry may run again.

The record is written outside the handler's transaction. If a process dies after the
business commit but before the response is stored, a retry after IDEMPOTENCY_LOCK_SECONDS
runs the handler again; every money service is idempotent on its own unique key (the
transfer journal carries the Idempotency-Key, a purchase its own), so that second run finds
the first result instead of moving money twice.

`@idempotent(answer_with_result=True)` is for a handler whose service is itself idempotent
on the key and can store the answer in its own transaction (purchases: the purchase row is
unique per user and Idempotency-Key). No record is claimed up front: the service calls
`answer_store()` inside its transaction, so the result and its answer commit together (one
statement, no commit of its own; no window where one exists without the other). A refusal
is stored after the fact. A repeat of the key runs the handler again, which finds the first
result through its own key (or refuses again) and then answers with the stored first
response; if the repeat would succeed where the first was refused, `answer_store()` finds
the stored refusal, the repeat's transaction rolls back and the refusal is replayed. A
concurrent twin therefore waits for the first (on the service's unique key) and gets the
replay, instead of 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from config.errors import ApiError
from config.models import IdempotencyRecord
from config.rows import defer_statement, execute_relaxed

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"


def _owner(request: Request) -> str:
    return f"user:{request.user.pk}"


def request_fingerprint(request: Request) -> str:
    """SHA-256 of method, path and body; JSON bodies are canonicalised (key order and
    whitespace do not matter), anything else is hashed as bytes."""
    raw = request._request.body
    try:
        canonical = json.dumps(json.loads(raw or b"{}"), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b"\n" + request.path.encode() + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def _clean_key(value: str) -> str:
    if not (1 <= len(value) <= 255) or not value.isprintable():
        raise ApiError(code="IDEMPOTENCY_KEY_INVALID")
    return value


def _claim(owner: str, key: str, method: str, path: str, fingerprint: str) -> IdempotencyRecord | Response:
    """Insert-or-inspect the record. Returns the record we now own, or a response to send."""
    now = timezone.now()
    created = _insert(owner=owner, key=key, method=method, path=path, fingerprint=fingerprint, now=now)
    if created is not None:
        return created
    record = IdempotencyRecord.objects.get(owner=owner, key=key)
    if record.created_at < now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS):
        # Expired: the key is new again. Conditional update so one of two racers wins.
        taken = IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
            method=method, path=path, request_hash=fingerprint, locked_at=now,
            created_at=now, status_code=None, response_body=None, completed_at=None,
        )
        if taken:
            record.refresh_from_db()
            return record
        raise ApiError(code="IDEMPOTENCY_IN_FLIGHT")
    if record.request_hash != fingerprint:
        raise ApiError(code="IDEMPOTENCY_KEY_REUSED")
    if record.status_code is not None:
        return Response(record.response_body, status=record.status_code, headers={REPLAYED_HEADER: "true"})
    stale = now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    # The first request died without an answer: take over (its services are idempotent).
    if (
        record.locked_at is not None
        and record.locked_at < stale
        and IdempotencyRecord.objects.filter(pk=record.pk, locked_at=record.locked_at).update(locked_at=now)
    ):
        return record
    raise ApiError(code="IDEMPOTENCY_IN_FLIGHT")


def _insert(*, owner: str, key: str, method: str, path: str, fingerprint: str, now: datetime) -> IdempotencyRecord | None:
    """One INSERT ... ON CONFLICT DO NOTHING: the record if this request created it, else None.
    (One statement and no exception, so it costs a single round trip and is safe inside an
    outer transaction.)

    Claims and stored answers commit without waiting for the WAL flush (execute_relaxed):
    losing the newest records in a database crash loses no money. WAL is written in order,
    so the business transaction that follows a claim flushes the claim with it; a lost stored
    answer just means a retry runs the handler again, and every money service is idempotent
    on its own key (a purchase and a transfer journal carry the Idempotency-Key)."""
    table = IdempotencyRecord._meta.db_table
    when = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        execute_relaxed(
            cursor,
            f'INSERT INTO {table} (owner, "key", method, path, request_hash, locked_at, created_at) '  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (owner, \"key\") DO NOTHING RETURNING id",
            [owner, key, method, path, fingerprint, when, when],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return IdempotencyRecord(
        id=row[0], owner=owner, key=key, method=method, path=path, request_hash=fingerprint, locked_at=now, created_at=now
    )


def _store(record: IdempotencyRecord, response: Response) -> None:
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    body = json.dumps(response.data, cls=JSONEncoder)
    table = IdempotencyRecord._meta.db_table
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        execute_relaxed(
            cursor,
            f"UPDATE {table} SET status_code = %s, response_body = %s{cast}, completed_at = %s, "  # noqa: S608
            "locked_at = NULL WHERE id = %s",
            [response.status_code, body, connection.ops.adapt_datetimefield_value(timezone.now()), record.pk],
        )


@dataclass
class PendingAnswer:
    """The Idempotency-Key of a request in `answer_with_result` mode, until it is answered."""

    owner: str
    key: str
    method: str
    path: str
    fingerprint: str
    stored: bool = False


class AnswerAlreadyStored(Exception):
    """`answer_store()` found an answer stored under this key: roll back and replay it."""


def answer_store(request: Request, *, status: int, body: Any) -> None:
    """Inside the handler's business transaction: store the answer to this request's
    Idempotency-Key with the result it describes (a no-op without a key or outside
    `answer_with_result` mode). Raises AnswerAlreadyStored when a live answer is stored
    already (the caller's transaction must roll back; the decorator replays that answer).
    Inside `config.rows.deferring()` the INSERT rides with the caller's next statement (and
    raises there)."""
    pending = getattr(request, "idempotency_pending", None)
    if pending is None:
        return

    def landed(row: Any) -> None:
        if row is None:
            raise AnswerAlreadyStored()
        pending.stored = True

    sql, params = _answer_statement(pending, status, json.dumps(body, cls=JSONEncoder))
    if defer_statement(sql, params, landed):
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        landed(cursor.fetchone())


def _answer_statement(pending: PendingAnswer, status: int, body: str) -> tuple[str, list[Any]]:
    """INSERT the complete record, or take over an expired one; RETURNING a row when this
    request's answer is now the stored one."""
    table = IdempotencyRecord._meta.db_table
    now = timezone.now()
    when = connection.ops.adapt_datetimefield_value(now)
    expired = connection.ops.adapt_datetimefield_value(now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS))
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    sql = (
        f'INSERT INTO {table} AS record (owner, "key", method, path, request_hash, created_at, '  # noqa: S608
        f"status_code, response_body, completed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s{cast}, %s) "
        'ON CONFLICT (owner, "key") DO UPDATE SET method = EXCLUDED.method, path = EXCLUDED.path, '
        "request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at, "
        "status_code = EXCLUDED.status_code, response_body = EXCLUDED.response_body, "
        "completed_at = EXCLUDED.completed_at, locked_at = NULL WHERE record.created_at < %s RETURNING id"
    )
    params = [pending.owner, pending.key, pending.method, pending.path, pending.fingerprint, when, status, body,
              when, expired]
    return sql, params


def _insert_answer(pending: PendingAnswer, status: int, body: str) -> bool:
    """The record stored outside the business transaction (a refusal): True when this
    request's answer is now the stored one. One statement, relaxed commit."""
    sql, params = _answer_statement(pending, status, body)
    with connection.cursor() as cursor:
        execute_relaxed(cursor, sql, params)
        return cursor.fetchone() is not None


def _answer_after(pending: PendingAnswer, response: Response) -> Response:
    """`answer_with_result` mode, after the handler: the response as it is when the service
    stored it; else store it (a refusal, or a result found again) unless another answer is
    stored already, which is then what the client gets."""
    if pending.stored or response.status_code >= 500:
        return response
    if _insert_answer(pending, response.status_code, json.dumps(response.data, cls=JSONEncoder)):
        return response
    return _replay_stored(pending)


def _replay_stored(pending: PendingAnswer) -> Response:
    record = IdempotencyRecord.objects.get(owner=pending.owner, key=pending.key)
    if record.request_hash != pending.fingerprint:
        raise ApiError(code="IDEMPOTENCY_KEY_REUSED")
    if record.status_code is None:
        raise ApiError(code="IDEMPOTENCY_IN_FLIGHT")
    return Response(record.response_body, status=record.status_code, headers={REPLAYED_HEADER: "true"})


def _run_answering_with_result(
    handler: Callable[..., Response], view: Any, request: Request, key: str, *args: Any, **kwargs: Any
) -> Response:
    pending = PendingAnswer(_owner(request), key, request.method, request.path, request_fingerprint(request))
    request.idempotency_pending = pending
    try:
        response = handler(view, request, *args, **kwargs)
    except AnswerAlreadyStored:
        return _replay_stored(pending)
    except Exception as exc:  # noqa: BLE001 - stored like any other answer
        response = view.handle_exception(exc)
    return _answer_after(pending, response)


def idempotent(*, required_for_api_keys: bool = True, answer_with_result: bool = False) -> Callable:
    def decorator(handler: Callable[..., Response]) -> Callable[..., Response]:
        @wraps(handler)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            raw_key = request.headers.get(HEADER)
            if not raw_key:
                if required_for_api_keys and getattr(request, "api_key", None) is not None:
                    raise ApiError(code="IDEMPOTENCY_KEY_REQUIRED")
                return handler(view, request, *args, **kwargs)
            key = _clean_key(raw_key)
            if answer_with_result:
                return _run_answering_with_result(handler, view, request, key, *args, **kwargs)
            claimed = _claim(_owner(request), key, request.method, request.path, request_fingerprint(request))
            if isinstance(claimed, Response):
                return claimed
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - stored like any other answer
                response = view.handle_exception(exc)
            _store(claimed, response)
            return response

        # Read by the OpenAPI schema (config/api/schema.py) to declare the header.
        wrapper.idempotent = True  # type: ignore[attr-defined]
        wrapper.idempotent_required_for_api_keys = required_for_api_keys  # type: ignore[attr-defined]
        return wrapper

    return decorator
