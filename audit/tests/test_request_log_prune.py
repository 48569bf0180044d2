from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from audit import tasks
from audit.models import AuditLog, RequestLog
from audit.services import Actor, audit_record
from config.celery import app as celery_app
from config.schedule import PERIODIC_TASKS

pytestmark = pytest.mark.django_db


def _row(days_ago: float) -> RequestLog:
    return RequestLog.objects.create(
        method="GET", path="/api/v1/x", status=200, latency_ms=1, created_at=timezone.now() - timedelta(days=days_ago)
    )


@override_settings(REQUEST_LOG_RETENTION_DAYS=30)
def test_prune_deletes_rows_past_retention_in_batches_and_keeps_the_rest(monkeypatch):
    monkeypatch.setattr(tasks, "PRUNE_BATCH", 2)
    old = [_row(31), _row(45), _row(400), _row(30.01), _row(90)]
    kept = [_row(29.9), _row(0)]
    audit_record(action="user.update", actor=Actor.system("test"), target_type="accounts.user", target_id=1)

    assert tasks.request_log_prune.delay().get() == len(old)
    assert set(RequestLog.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert AuditLog.objects.count() == 1
    assert tasks.request_log_prune() == 0  # idempotent


def test_the_prune_task_is_scheduled_and_registered():
    names = {task for task, _every in PERIODIC_TASKS.values()}
    assert "audit.tasks.request_log_prune" in names
    assert "audit.tasks.request_log_prune" in celery_app.tasks
