"""Celery tasks (queue "webhooks"). They take ids, return quietly when the work is done, and
retry only transient gateway errors; the sweep is the guarantee behind every retry."""

from __future__ import annotations

from celery import shared_task

from payments import recovery, webhooks
from payments.gateways.base import GatewayTransientError


@shared_task(bind=True, acks_late=True, max_retries=5)
def webhook_event_process(self, event_id: int) -> str:  # type: ignore[no-untyped-def]
    try:
        return webhooks.webhook_event_process(event_id=event_id)
    except GatewayTransientError as exc:
        # The webhook was answered 200 already; ask again shortly, then leave it to the sweep.
        if self.request.is_eager:
            return "error"
        raise self.retry(exc=exc, countdown=min(300, 15 * 2**self.request.retries)) from exc


@shared_task
def deposits_sweep() -> dict[str, int]:
    return recovery.deposits_sweep()
