"""The append-only audit log (a PostgreSQL trigger refuses UPDATE and DELETE) and the API
request log (pruned after a retention period)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AuditLog(models.Model):
    class ActorKind(models.TextChoices):
        USER = "user"
        STAFF = "staff"
        API_KEY = "api_key"
        SYSTEM = "system"

    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    actor_api_key_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=128, blank=True)
    action = models.CharField(max_length=64)  # indexed: audit_action_idx (no LIKE index)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {"field": [before, after]}
    reason = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["action"], name="audit_action_idx"),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_repr}"


class RequestLog(models.Model):
    """One API request: who, what, how it ended, how long it took. Bodies and query strings
    are never stored (they carry PINs, tokens and card data). Not append-only: rows older
    than REQUEST_LOG_RETENTION_DAYS are pruned by `audit.tasks.request_log_prune`.

    `user_id` / `api_key_id` are plain ids, not foreign keys: the log is written outside the
    request's transaction, in batches, and must never block or fail on a deleted user.
    """

    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField()
    latency_ms = models.PositiveIntegerField()
    user_id = models.BigIntegerField(null=True, blank=True)
    api_key_id = models.BigIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user_id", "-created_at"], name="requestlog_user_idx"),
            models.Index(fields=["status", "-created_at"], name="requestlog_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.method} {self.path} {self.status}"
