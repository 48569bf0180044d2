"""Models of the project-wide plumbing: the Idempotency-Key store and alert deduplication."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """One Idempotency-Key of one owner (a user), with the first response to replay.

    `locked_at` marks a request in flight (409 to a concurrent twin); `status_code` null
    means no response stored yet. Kept IDEMPOTENCY_TTL_HOURS, then pruned by a periodic task.
    """

    owner = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


class Alert(models.Model):
    """An operator alert (low float, purchase past SLA, ledger finding, unmatched webhook).

    Deduplicated on `dedupe_key` while open: raising the same alert again only bumps its
    count and last-seen time, so an e-mail goes out once per incident.
    """

    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        CRITICAL = "critical"

    kind = models.CharField(max_length=64)
    dedupe_key = models.CharField(max_length=255, unique=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["resolved_at", "-last_seen_at"], name="alert_open_idx")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.kind}: {self.message[:60]}"
