"""The recovery sweep (beat, every two minutes; config/schedule.py).

1. Deposits still `initialized` whose `next_check_at` is due are claimed with
   SELECT ... FOR UPDATE SKIP LOCKED (two beats or workers never take the same row), their
   next check pushed back with backoff in the same short transaction, then verified with the
   gateway outside it (the webhook may never have come). Old ones are marked abandoned.
2. Authenticated events that were stored but never processed (a crash between receive and
   the task, a lost task) are processed again; so are events whose processing hit an error.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from payments import services, webhooks
from payments.gateways.base import GatewayError
from payments.models import Deposit, WebhookEvent

log = structlog.get_logger("payments.recovery")
BATCH = 50
MAX_EVENT_ATTEMPTS = 20


def _claim_due_deposits(now: datetime) -> list[int]:
    with transaction.atomic():
        due = list(
            Deposit.objects.select_for_update(skip_locked=True)
            .filter(status=Deposit.Status.INITIALIZED, next_check_at__lte=now)
            .order_by("next_check_at")[:BATCH]
        )
        for deposit in due:
            Deposit.objects.filter(pk=deposit.pk).update(
                next_check_at=now + services.next_check_delay(deposit.check_attempts + 1),
                check_attempts=deposit.check_attempts + 1,
            )
    return [deposit.pk for deposit in due]


def _claim_stale_events(now: datetime) -> list[int]:
    with transaction.atomic():
        stale = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True, received_at__lte=now - webhooks.STALE_UNPROCESSED,
                    attempts__lt=MAX_EVENT_ATTEMPTS)
            .order_by("received_at")
            .values_list("pk", flat=True)[:BATCH]
        )
        # Pushing received_at is the backoff: the next sweep skips what this one took.
        WebhookEvent.objects.filter(pk__in=stale).update(received_at=now)
    return stale


def deposits_sweep(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"verified": 0, "credited": 0, "abandoned": 0, "errors": 0, "events": 0}
    for deposit_id in _claim_due_deposits(now):
        counts["verified"] += 1
        try:
            deposit = services.deposit_confirm(deposit_id=deposit_id)
            counts["credited"] += deposit.status == Deposit.Status.SUCCESSFUL
        except GatewayError as exc:
            counts["errors"] += 1
            log.info("deposit_verify_failed", deposit_id=deposit_id, error=str(exc))
        counts["abandoned"] += services.deposit_abandon_if_stale(deposit_id=deposit_id, now=now)
    for event_id in _claim_stale_events(now):
        counts["events"] += 1
        try:
            webhooks.webhook_event_process(event_id=event_id)
        except GatewayError:
            counts["errors"] += 1
    return counts
