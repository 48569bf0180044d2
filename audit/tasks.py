"""Periodic upkeep of the audit app."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audit.models import RequestLog

PRUNE_BATCH = 5_000


@shared_task
def request_log_prune() -> int:
    """Delete request log rows older than REQUEST_LOG_RETENTION_DAYS, in batches of
    PRUNE_BATCH ids so no single statement holds a long lock on a busy table. Idempotent:
    a second run finds nothing. The audit log is never pruned here (it is append-only)."""
    cutoff = timezone.now() - timedelta(days=settings.REQUEST_LOG_RETENTION_DAYS)
    deleted_total = 0
    while True:
        ids = list(RequestLog.objects.filter(created_at__lt=cutoff).order_by("id").values_list("id", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted_total
        deleted, _ = RequestLog.objects.filter(id__in=ids).delete()
        deleted_total += deleted
