"""Inbound gateway webhooks: receive (store, authenticate, dedupe) and process.

Receive runs in the request and is fast: the delivery row is committed first (evidence that
survives anything after it, forgeries included), then the signature is checked on the raw
bytes, then the event is inserted under its UNIQUE (gateway, dedupe_key) — only after
authentication, so a forged post can never take the genuine event's key. Processing runs in
a task (queue "webhooks") that asks the gateway before any money moves.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.services import Actor, audit_record, staff_reason
from config.metrics import WEBHOOK_DELIVERIES
from payments import handlers, services
from payments.errors import NotYetCredited
from payments.gateways.base import GatewayError, MalformedEvent
from payments.gateways.registry import get_gateway
from payments.gateways.types import InboundWebhook, NormalizedEvent
from payments.models import Deposit, WebhookDelivery, WebhookEvent

log = structlog.get_logger("payments.webhooks")

# Headers kept with a delivery. Values that equal the secret itself (Flutterwave's verif-hash,
# Chapa's Chapa-Signature is HMAC(secret, secret): a constant) are never stored.
KEPT_HEADERS = (
    "content-type", "content-length", "user-agent", "x-forwarded-for", "x-request-id",
    "x-paystack-signature", "flutterwave-signature", "monnify-signature", "stripe-signature",
    "x-chapa-signature", "x-signature", "x-sandbox-signature",
)
SECRET_EQUIVALENT_HEADERS = ("verif-hash", "chapa-signature")
# An event stored but never processed (a crash between the two) is taken again after this.
STALE_UNPROCESSED = timedelta(minutes=2)


@dataclass(frozen=True)
class Receipt:
    status: int  # HTTP status to answer
    error_code: str = ""
    delivery_id: int | None = None
    event_id: int | None = None
    verdict: str = ""


def kept_headers(headers: dict[str, str]) -> dict[str, str]:
    kept = {name: value[:1000] for name, value in headers.items() if name in KEPT_HEADERS}
    for name in SECRET_EQUIVALENT_HEADERS:
        if name in headers:
            kept[name] = "[present, not stored]"
    return kept


def webhook_receive(
    *, gateway: str, body: bytes, headers: dict[str, str], query: dict[str, str], remote_ip: str | None
) -> Receipt:
    """Store, authenticate and dedupe one POST. Never holds a transaction across the check.
    401 bad/missing signature, 400 malformed, 200 otherwise (including duplicates and events
    we ignore: a non-2xx would make the gateway retry for days)."""
    headers = {name.lower(): value for name, value in headers.items()}
    remote_ip = _valid_ip(remote_ip)
    delivery = WebhookDelivery.objects.create(
        gateway=gateway, headers=kept_headers(headers), query=jsonb_safe(query), body=body, remote_ip=remote_ip
    )
    adapter = get_gateway(gateway)
    inbound = InboundWebhook(gateway=gateway, headers=headers, body=body, query=query, remote_ip=remote_ip)
    check = adapter.verify_signature(inbound)
    if not check.ok:
        return _judged(delivery, WebhookDelivery.Verdict.REJECTED_SIGNATURE, check.reason, 401,
                       "WEBHOOK_SIGNATURE_INVALID")
    try:
        event = adapter.parse_event(inbound)
    except MalformedEvent as exc:
        return _judged(delivery, WebhookDelivery.Verdict.REJECTED_MALFORMED, str(exc), 400, "MALFORMED_JSON")
    if not event.dedupe_key.strip(":"):
        return _judged(delivery, WebhookDelivery.Verdict.REJECTED_MALFORMED, "no event id", 400, "MALFORMED_JSON")
    if event.livemode is not None and event.livemode != adapter.live:
        mode = "live" if event.livemode else "test"
        return _judged(delivery, WebhookDelivery.Verdict.IGNORED, f"{mode} event on a {'live' if adapter.live else 'test'} account", 200)
    stored, created = _event_get_or_create(event, delivery, body, body_signed=check.body_bound)
    verdict = WebhookDelivery.Verdict.ACCEPTED if created else WebhookDelivery.Verdict.DUPLICATE
    notes = [] if check.body_bound else ["origin-only signature: the gateway's verify API decides"]
    if adapter.source_ips and remote_ip not in adapter.source_ips:
        notes.append(f"source IP {remote_ip} is not in {gateway}'s published list")
        log.warning("webhook_unlisted_source_ip", gateway=gateway, delivery_id=delivery.pk, ip=remote_ip)
    reason = "; ".join(notes)
    receipt = _judged(delivery, verdict, reason, 200, event=stored)
    stale = stored.processed_at is None and stored.received_at < timezone.now() - STALE_UNPROCESSED
    if created or stale or stored.outcome == WebhookEvent.Outcome.ERROR:
        from payments import tasks

        tasks.webhook_event_process.delay_on_commit(stored.pk)
    return receipt


def jsonb_safe(value: Any) -> Any:
    """PostgreSQL's jsonb refuses the NUL character: a `?a=%00` on a webhook URL made the
    delivery insert fail with a 500 (found by tests/hostile). The stored copy drops it; the
    signature check still sees the request exactly as it came."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {jsonb_safe(key): jsonb_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonb_safe(item) for item in value]
    return value


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def _event_get_or_create(
    event: NormalizedEvent, delivery: WebhookDelivery, body: bytes, *, body_signed: bool
) -> tuple[WebhookEvent, bool]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: one statement in autocommit (no
    transaction round trips on the hot path); a conflict means the event exists already."""
    table = WebhookEvent._meta.db_table
    values = [
        event.gateway, event.dedupe_key[:255], event.event_type[:64], event.kind, event.reference[:128],
        event.gateway_transaction_id[:128], body.decode("utf-8", "replace"), delivery.pk, timezone.now(),
        WebhookEvent.Outcome.PENDING, "", 0, body_signed,
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (gateway, dedupe_key, event_type, kind, reference, gateway_transaction_id, "  # noqa: S608 - table name from the model
            "payload, first_delivery_id, received_at, outcome, error, attempts, body_signed) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (gateway, dedupe_key) DO NOTHING RETURNING id",
            values,
        )
        row = cursor.fetchone()
    if row is not None:
        return WebhookEvent(
            pk=row[0], gateway=event.gateway, dedupe_key=event.dedupe_key[:255], first_delivery_id=delivery.pk,
            received_at=values[8], outcome=WebhookEvent.Outcome.PENDING, body_signed=body_signed,
        ), True
    return WebhookEvent.objects.get(gateway=event.gateway, dedupe_key=event.dedupe_key[:255]), False


def _judged(
    delivery: WebhookDelivery, verdict: str, reason: str, status: int, error_code: str = "",
    event: WebhookEvent | None = None,
) -> Receipt:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(verdict=verdict, reason=reason[:1000], event=event)
    WEBHOOK_DELIVERIES.labels(gateway=delivery.gateway, verdict=verdict).inc()
    if status >= 400:
        log.warning("webhook_rejected", gateway=delivery.gateway, delivery_id=delivery.pk, verdict=verdict,
                    reason=reason)
    return Receipt(status=status, error_code=error_code, delivery_id=delivery.pk,
                   event_id=event.pk if event else None, verdict=verdict)


# --- processing -------------------------------------------------------------------------------


def webhook_event_process(*, event_id: int, actor: Actor = services.SYSTEM) -> str:
    """Settle one stored event. Idempotent: a processed event returns its outcome; every
    money step below is idempotent on its own key anyway. A GatewayError propagates (the task
    retries; the sweep takes the event again later) after recording it on the event."""
    stored = WebhookEvent.objects.select_related("first_delivery").get(pk=event_id)
    if stored.processed_at is not None and stored.outcome != WebhookEvent.Outcome.ERROR:
        return stored.outcome
    WebhookEvent.objects.filter(pk=stored.pk).update(attempts=F("attempts") + 1)
    adapter = get_gateway(stored.gateway)
    delivery = stored.first_delivery
    event = adapter.parse_event(InboundWebhook(
        gateway=stored.gateway, headers=delivery.headers if delivery else {},
        body=bytes(delivery.body) if delivery else json.dumps(stored.payload).encode(),
        query=delivery.query if delivery else {},
    ))
    try:
        outcome, deposit = handlers.handle(event, body_signed=stored.body_signed)
    except NotYetCredited:
        _record(stored, WebhookEvent.Outcome.ERROR, None, "the funding it reverses is not credited yet", done=False)
        return WebhookEvent.Outcome.ERROR
    except GatewayError as exc:
        _record(stored, WebhookEvent.Outcome.ERROR, None, str(exc), done=False)
        raise
    # An orphan stays unprocessed: the sweep looks again for a while (recovery.MAX_EVENT_ATTEMPTS),
    # because its deposit or account may appear later (a Paystack dedicated account is stored
    # when its assign webhook arrives, which can come after the first transfer).
    _record(stored, outcome, deposit, "", done=outcome != WebhookEvent.Outcome.ORPHAN)
    return outcome


def _record(stored: WebhookEvent, outcome: str, deposit: Deposit | None, error: str, done: bool = True) -> None:
    WebhookEvent.objects.filter(pk=stored.pk).update(
        outcome=outcome, error=error[:2000], deposit=deposit or stored.deposit,
        processed_at=timezone.now() if done else None,
    )


def webhook_event_reprocess(*, event_id: int, actor: Actor, reason: str = "") -> str:
    """Staff: process a stored event again (audited). Idempotent: money moves at most once
    (the deposit lock and the journal key), so re-running a credited event changes nothing.
    A staff member must give a reason (REASON_REQUIRED)."""
    reason = staff_reason(actor=actor, reason=reason)
    with transaction.atomic():
        stored = WebhookEvent.objects.select_for_update().get(pk=event_id)
        audit_record(action="webhook_event.reprocess", actor=actor, target=stored, reason=reason,
                     changes={"previous_outcome": stored.outcome})
        WebhookEvent.objects.filter(pk=stored.pk).update(processed_at=None, outcome=WebhookEvent.Outcome.PENDING)
    try:
        return webhook_event_process(event_id=event_id, actor=actor)
    except GatewayError:
        return WebhookEvent.Outcome.ERROR
