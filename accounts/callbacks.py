"""Reseller callbacks: the `callback_emit` entry point, delivery and retries (endpoints,
the delivery log and re-sends: accounts/callback_endpoints.py).

Flow: `vtu`, `payments` and `wallets` call `callback_emit` inside the transaction that made
the change; it writes one `CallbackDelivery` per active endpoint that wants the event (unique
per endpoint and event id, so an emitter that runs twice emits once) and queues
`accounts.tasks.callback_deliver` for after commit. An attempt claims the row with a
conditional update of its `claim_token` (no two workers send one delivery at once; no row
lock is held while the HTTP request runs), POSTs it through the SSRF guard
(accounts/callback_http.py), logs a `CallbackAttempt`, and either marks the delivery
succeeded or sets `next_attempt_at` from RETRY_SCHEDULE_SECONDS. The beat sweeper
`callbacks_sweep` claims due rows with FOR UPDATE SKIP LOCKED; a claim that outlives its lease
(a worker died mid-send) is claimed again, so delivery is at-least-once and receivers
deduplicate on the event id, which never changes for one event (re-sends included).

An endpoint that has failed without a single success for CALLBACK_DISABLE_AFTER_DAYS is
disabled, its pending deliveries are closed, and its owner is e-mailed.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import callback_http, callback_signing
from accounts.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from audit.services import Actor, audit_record
from config.metrics import CALLBACK_DELIVERIES

log = structlog.get_logger("accounts.callbacks")

EVENT_TYPES = (
    "purchase.successful", "purchase.failed", "purchase.reversed", "purchase.refunded", "deposit.successful",
    "transfer.received",
)

# Seconds to wait after failed attempt 1, 2, ...: 10 attempts over ~27.9 hours (>= 24 h).
RETRY_SCHEDULE_SECONDS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_SECONDS) + 1
USER_AGENT = "VTU-Callbacks/1.0"

# The clock every callback decision reads (signature time, retry times, disabling); tests
# replace it to walk a delivery through its whole retry schedule without waiting.
clock: Callable[[], datetime] = timezone.now


# Beyond the hard time limit of an attempt, how long its claim still holds (clock skew
# between the sweeper's and the worker's hosts, the time a killed worker takes to go).
LEASE_MARGIN_SECONDS = 60


def attempt_time_limits() -> tuple[int, int]:
    """(soft, hard) Celery time limits of one attempt, in seconds. The HTTP exchange has its
    own deadline (CALLBACK_TIMEOUT_SECONDS, accounts/callback_http.py); the soft limit stops
    what that deadline does not cover (a DNS lookup, a stuck database call) and still lets
    the attempt be recorded, the hard limit kills the worker process."""
    soft = math.ceil(float(settings.CALLBACK_TIMEOUT_SECONDS)) + 20
    return soft, soft + 10


def lease() -> timedelta:
    """How long a claim stays valid: past the hard time limit of the attempt task, so the
    sweeper never claims a delivery whose attempt may still be sending it (an attempt's claim
    starts with the attempt, and the worker is dead by the limit)."""
    return timedelta(seconds=_tasks().callback_deliver.time_limit + LEASE_MARGIN_SECONDS)


def new_token() -> str:
    return uuid.uuid4().hex


def _tasks():  # type: ignore[no-untyped-def]
    from accounts import tasks  # tasks imports this module

    return tasks


def dispatch(delivery_id: int, token: str) -> None:
    """Queue an attempt at `delivery_id` with its claim `token`, once the transaction commits."""
    _tasks().callback_deliver.delay_on_commit(delivery_id, token)


def close_pending(endpoint_id: int, why: str) -> int:
    """Close the endpoint's pending deliveries (it was disabled or deleted)."""
    return CallbackDelivery.objects.filter(endpoint_id=endpoint_id, status=CallbackDelivery.Status.PENDING).update(
        status=CallbackDelivery.Status.FAILED, next_attempt_at=None, claim_token="", claimed_until=None, last_error=why
    )


# --- emitting ----------------------------------------------------------------------------


def event_body(*, event_id: str, event_type: str, created_at: datetime, data: dict[str, Any]) -> str:
    """The JSON a receiver gets; stored once and sent byte for byte on every attempt."""
    payload = {"id": event_id, "type": event_type, "created_at": created_at, "data": data}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))


def callback_emit(*, user_id: int, event_type: str, event_id: str, data: dict[str, Any]) -> None:
    """Queue `event_type` for every active endpoint of `user_id` that wants it.

    Call it inside the transaction that made the change: deliveries are rows written in the
    same transaction and sent by a worker after commit. `event_id` is stable per logical
    event (e.g. "purchase.successful:<purchase reference>") so a retry never emits twice.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown callback event {event_type!r}")
    if not event_id or len(event_id) > 160:
        raise ValueError("event_id must be 1-160 characters")
    endpoint_ids = _subscribed_endpoints(user_id, event_type)
    if not endpoint_ids:
        return
    now = clock()
    body = event_body(event_id=event_id, event_type=event_type, created_at=now, data=data)
    for endpoint_id in endpoint_ids:
        token = new_token()
        delivery, created = CallbackDelivery.objects.get_or_create(
            endpoint_id=endpoint_id, event_id=event_id,
            defaults={
                "event_type": event_type, "body": body, "next_attempt_at": now,
                "claim_token": token, "claimed_until": now + lease(),
            },
        )
        if created:
            dispatch(delivery.pk, token)


def _subscribed_endpoints(user_id: int, event_type: str) -> list[int]:
    """Ids of the user's active endpoints that want `event_type`: one fixed statement, since
    every money movement asks (and most users have no endpoint at all)."""
    events = CallbackEndpoint._meta.get_field("events")
    with connection.cursor() as cursor:
        cursor.execute(_ENDPOINTS_SQL, [user_id])
        rows = cursor.fetchall()
    return [pk for pk, wanted in rows if event_type in (events.from_db_value(wanted, None, connection) or [])]


_ENDPOINTS_SQL = (
    f"SELECT id, events FROM {CallbackEndpoint._meta.db_table} "  # noqa: S608 - the model's own table
    "WHERE user_id = %s AND is_active AND deleted_at IS NULL"
)


def endpoints_exist_sql(user_id_column: str) -> str:
    """An SQL boolean: does the user in `user_id_column` (of the caller's query) have an active
    endpoint? For a lookup that reads that user anyway (a transfer's recipient): when it says
    no, `callback_emit` need not run (one query fewer on the hot path)."""
    return (
        f"EXISTS (SELECT 1 FROM {CallbackEndpoint._meta.db_table} callback_endpoint "  # noqa: S608 - the model's own table
        f"WHERE callback_endpoint.user_id = {user_id_column} AND callback_endpoint.is_active "
        "AND callback_endpoint.deleted_at IS NULL)"
    )


# --- delivering ----------------------------------------------------------------------------


def _claim(delivery_id: int, token: str, now: datetime) -> str | None:
    """Swap the dispatch token for a fresh attempt token: exactly one holder of `token` wins;
    a duplicate task (broker redelivery) finds the token gone and stops."""
    attempt_token = new_token()
    claimed = CallbackDelivery.objects.filter(
        pk=delivery_id, status=CallbackDelivery.Status.PENDING, claim_token=token
    ).update(
        claim_token=attempt_token, claimed_until=now + lease(), attempts=F("attempts") + 1,
        round_attempts=F("round_attempts") + 1, last_attempt_at=now,
    )
    return attempt_token if claimed else None


def _headers(delivery: CallbackDelivery, secret: str, body: bytes, now: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-VTU-Event": delivery.event_type,
        "X-VTU-Event-Id": delivery.event_id,
        "X-VTU-Delivery": str(delivery.pk),
        "X-VTU-Attempt": str(delivery.attempts),
        callback_signing.SIGNATURE_HEADER: callback_signing.signature_header(
            secret=secret, body=body, timestamp=int(now.timestamp())
        ),
    }


def _send(delivery: CallbackDelivery, now: datetime) -> callback_http.SendResult:
    try:
        secret = callback_signing.secret_decrypt(delivery.endpoint.secret_encrypted)
    except InvalidToken:
        return callback_http.SendResult(outcome="refused", error="The signing secret cannot be decrypted (SECRET_KEY changed).")
    body = delivery.body.encode()
    try:
        return callback_http.post(delivery.endpoint.url, body=body, headers=_headers(delivery, secret, body, now))
    except SoftTimeLimitExceeded:  # past the HTTP deadline (e.g. DNS hung): record it as a timeout
        return callback_http.SendResult(outcome="timeout", error="The attempt exceeded its time limit.")


def callback_delivery_attempt(*, delivery_id: int, claim_token: str, now: datetime | None = None) -> CallbackDelivery | None:
    """Make one attempt if `claim_token` still holds the delivery; None when it does not
    (already sent, re-claimed by the sweeper, or closed). `now` is the attempt's clock: the
    signature timestamp and the next retry time derive from it (tests inject it)."""
    now = now or clock()
    attempt_token = _claim(delivery_id, claim_token, now)
    if attempt_token is None:
        return None
    delivery = CallbackDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if not delivery.endpoint.is_active:
        close_pending(delivery.endpoint_id, "endpoint disabled or deleted")
        return delivery
    result = _send(delivery, now)  # no transaction open: the guard in callback_http checks
    _record(delivery, attempt_token, result, now)
    delivery.refresh_from_db()
    return delivery


def _record(delivery: CallbackDelivery, attempt_token: str, result: callback_http.SendResult, now: datetime) -> None:
    CALLBACK_DELIVERIES.labels(outcome=result.outcome).inc()
    with transaction.atomic():
        CallbackAttempt.objects.create(
            delivery=delivery, number=delivery.attempts, started_at=now, outcome=result.outcome,
            status_code=result.status_code, latency_ms=result.latency_ms,
            response_excerpt=result.response_excerpt, error=result.error,
        )
        mine = CallbackDelivery.objects.filter(pk=delivery.pk, claim_token=attempt_token)
        common = {"claim_token": "", "claimed_until": None, "last_status_code": result.status_code}
        if result.ok:
            mine.update(status=CallbackDelivery.Status.SUCCEEDED, delivered_at=now, next_attempt_at=None,
                        last_error="", **common)
            CallbackEndpoint.objects.filter(pk=delivery.endpoint_id).exclude(failing_since=None).update(
                failing_since=None, last_failure_at=None
            )
            return
        error = result.error or f"HTTP {result.status_code}"
        if delivery.round_attempts >= MAX_ATTEMPTS:
            mine.update(status=CallbackDelivery.Status.FAILED, next_attempt_at=None, last_error=error, **common)
        else:
            delay = timedelta(seconds=RETRY_SCHEDULE_SECONDS[delivery.round_attempts - 1])
            mine.update(next_attempt_at=now + delay, last_error=error, **common)
        _endpoint_failed(delivery.endpoint_id, now)


def _endpoint_failed(endpoint_id: int, now: datetime) -> None:
    """Start or continue the endpoint's failing streak; disable it when the streak is
    CALLBACK_DISABLE_AFTER_DAYS old. A gap of a day without attempts starts a new streak, so
    one failure after a quiet week does not disable an endpoint."""
    endpoints = CallbackEndpoint.objects.filter(pk=endpoint_id)
    endpoints.filter(Q(failing_since=None) | Q(last_failure_at__lt=now - timedelta(days=1))).update(failing_since=now)
    endpoints.update(last_failure_at=now)
    cutoff = now - timedelta(days=settings.CALLBACK_DISABLE_AFTER_DAYS)
    reason = f"No successful delivery for {settings.CALLBACK_DISABLE_AFTER_DAYS} days"
    if endpoints.filter(is_active=True, failing_since__lte=cutoff).update(
        is_active=False, disabled_at=now, disabled_reason=reason
    ):
        endpoint = endpoints.get()
        close_pending(endpoint_id, "endpoint disabled")
        audit_record(action="callback_endpoint.disable", actor=Actor.system("callbacks"), target=endpoint, reason=reason)
        _tasks().email_notice_send.delay_on_commit(
            endpoint.user_id, "callback_endpoint_disabled",
            {"url": endpoint.url, "endpoint_id": endpoint.pk, "days": settings.CALLBACK_DISABLE_AFTER_DAYS},
        )
        log.warning("callback_endpoint_disabled", endpoint_id=endpoint_id)


def callback_deliveries_claim_due(*, now: datetime | None = None, limit: int = 200) -> list[tuple[int, str]]:
    """Claim due deliveries (next attempt reached, no live claim) for the sweeper and queue
    an attempt for each after commit. FOR UPDATE SKIP LOCKED: two sweepers share the work."""
    now = now or clock()
    claimed: list[tuple[int, str]] = []
    with transaction.atomic():
        due = (
            CallbackDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=CallbackDelivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        for delivery_id in list(due):
            token = new_token()
            CallbackDelivery.objects.filter(pk=delivery_id).update(claim_token=token, claimed_until=now + lease())
            claimed.append((delivery_id, token))
            dispatch(delivery_id, token)
    return claimed
