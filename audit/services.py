"""audit_record: written by services, in their own transaction, never by signals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from audit.actions import ACTIONS
from audit.models import AuditLog
from config import request_context
from config.errors import ReasonRequired
from config.logs import redact_value
from config.rows import insert_row


@dataclass(frozen=True)
class Actor:
    """Who did it: a customer, a staff member, an API key, or the system (a task)."""

    kind: str
    user_id: int | None = None
    api_key_id: int | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind=AuditLog.ActorKind.SYSTEM, label=label)

    @classmethod
    def for_user(cls, user: Any, *, api_key: Any = None) -> Actor:
        if api_key is not None:
            return cls(
                kind=AuditLog.ActorKind.API_KEY, user_id=user.pk, api_key_id=api_key.pk,
                label=f"{user.email} key {api_key.prefix}",
            )
        kind = AuditLog.ActorKind.STAFF if getattr(user, "is_staff", False) else AuditLog.ActorKind.USER
        return cls(kind=kind, user_id=user.pk, label=user.email)

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return cls.system("anonymous")
        return cls.for_user(user, api_key=getattr(request, "api_key", None))


class UnknownAuditAction(ValueError):
    pass


def _target_fields(target: models.Model | None, target_type: str, target_id: Any) -> tuple[str, str, str]:
    if target is not None:
        return target._meta.label_lower, str(target.pk), str(target)[:200]
    return target_type, "" if target_id is None else str(target_id), ""


def _json_safe(value: Any) -> Any:
    """Times, dates, decimals and UUIDs as the strings Django's encoder makes of them, so a
    service can pass model values straight from `diff()`."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    action: str,
    actor: Actor,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: Any = None,
    changes: dict[str, Any] | None = None,
    reason: str = "",
    defer: bool = False,
) -> AuditLog:
    """Append one audit row. Call it inside the service's transaction so the row commits or
    rolls back with the change it describes. IP, user agent and request id come from the
    current request context. Secret-looking values in `changes` are redacted. `defer`: the
    row may ride with the caller's next statement (config.rows.deferring); its pk is set
    once it has been written."""
    if action not in ACTIONS:
        raise UnknownAuditAction(action)
    info = request_context.current()
    t_type, t_id, t_repr = _target_fields(target, target_type, target_id)
    row = AuditLog(
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        actor_api_key_id=actor.api_key_id,
        actor_label=actor.label[:128],
        action=action,
        target_type=t_type,
        target_id=t_id,
        target_repr=t_repr,
        changes=_json_safe(redact_value(changes or {})),
        reason=reason,
        ip=info.ip,
        user_agent=info.user_agent,
        request_id=info.request_id,
    )
    insert_row(row, defer=defer)  # one precompiled INSERT: audit rows are written on every money request
    return row


def staff_reason(*, actor: Actor, reason: str) -> str:
    """`reason` stripped. A staff member acting on someone else's behalf must give one (else
    REASON_REQUIRED, before anything is done): it is what the audit row explains the change
    with, whichever door (console, staff API, shell) the call came through. Customers, API
    keys and the system are not asked."""
    reason = (reason or "").strip()
    if actor.kind == AuditLog.ActorKind.STAFF and not reason:
        raise ReasonRequired()
    return reason


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [before, after]} for the fields whose value changed."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}
