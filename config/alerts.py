"""Operator alerts: an e-mail to OPS_ALERT_EMAILS, a row for the admin dashboard banner, and
a log line; deduplicated by key so one incident mails once (DESIGN §8)."""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from config.models import Alert

log = structlog.get_logger("alerts")


def alert_raise(
    *, kind: str, dedupe_key: str, message: str, severity: str = Alert.Severity.WARNING, details: dict | None = None
) -> Alert:
    """Open (or re-open) the alert `dedupe_key`; mail the operators only when it opens."""
    now = timezone.now()
    opened = False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind, dedupe_key=dedupe_key, severity=severity, message=message, details=details or {}
            )
            opened = True
    except IntegrityError:
        alert = Alert.objects.get(dedupe_key=dedupe_key)
        reopened = Alert.objects.filter(pk=alert.pk, resolved_at__isnull=False).update(
            resolved_at=None, count=F("count") + 1, last_seen_at=now, message=message, details=details or {}
        )
        if not reopened:
            Alert.objects.filter(pk=alert.pk).update(count=F("count") + 1, last_seen_at=now)
        opened = bool(reopened)
        alert.refresh_from_db()
    log.warning("alert", kind=kind, dedupe_key=dedupe_key, severity=severity, opened=opened, message=message)
    if opened and settings.OPS_ALERT_EMAILS:
        transaction.on_commit(lambda: _mail(alert.pk), robust=True)
    return alert


def alert_resolve(*, dedupe_key: str) -> int:
    return Alert.objects.filter(dedupe_key=dedupe_key, resolved_at__isnull=True).update(resolved_at=timezone.now())


def _mail(alert_id: int) -> None:
    alert = Alert.objects.get(pk=alert_id)
    send_mail(
        subject=f"[VTU {alert.severity}] {alert.kind}",
        message=f"{alert.message}\n\n{_format(alert.details)}",
        from_email=None,
        recipient_list=settings.OPS_ALERT_EMAILS,
        fail_silently=True,
    )


def _format(details: dict[str, Any]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in details.items())
