"""Reads on the audit log."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import QuerySet

from audit.models import AuditLog


def audit_for_target(
    *, target: models.Model | None = None, target_type: str = "", target_id: Any = None
) -> QuerySet[AuditLog]:
    """The audit rows about one object, oldest first. Pass the object, or its
    `app_label.model` label and id (as audit_record stored them)."""
    if target is not None:
        target_type, target_id = target._meta.label_lower, target.pk
    if not target_type or target_id is None:
        raise ValueError("audit_for_target needs a target, or a target_type and a target_id")
    return AuditLog.objects.filter(target_type=target_type, target_id=str(target_id)).order_by("id")


def actions_for_target(
    *, target: models.Model | None = None, target_type: str = "", target_id: Any = None
) -> list[str]:
    """The actions recorded about one object, in the order they happened, e.g.
    ["user.suspend", "user.activate"]. What tests assert after a money action or a staff
    change: the action is there exactly once, in its place."""
    rows = audit_for_target(target=target, target_type=target_type, target_id=target_id)
    return list(rows.values_list("action", flat=True))
