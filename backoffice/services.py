"""Writes of the back office itself: two-factor devices, alert resolution, the record of
CSV exports (staff logins, console and API: accounts.staff_otp.staff_login_record).

Everything that changes another app's data goes through that app's services (user
suspension: accounts.services; money: wallets, vtu, payments). Each function here owns its
transaction and its audit record.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.services import refresh_tokens_revoke_all
from audit.models import AuditLog
from audit.services import Actor, audit_record
from config.errors import InvalidState, NotFound, ReasonRequired
from config.models import Alert


def staff_otp_confirm(*, user: Any, device_id: int, token: str) -> TOTPDevice | None:
    """Confirm the user's pending TOTP device with its first code. Returns the device, or
    None when the code is wrong (django-otp throttles repeated failures). Locks the device
    row so two submissions cannot both confirm."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=user, confirmed=False).first()
        if device is None:
            raise NotFound("No two-factor enrolment is waiting for this account.")
        clean = "".join(token.split())
        if not clean.isdigit() or not device.verify_token(clean):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(action="staff.otp_enrol", actor=Actor.for_user(user), target=user, changes={"device": [None, device.pk]})
    return device


def staff_otp_enrol(*, user: Any, actor: Actor) -> TOTPDevice:
    """Give `user` a new confirmed TOTP device (the operator hands over its otpauth URL or QR
    code). A lost phone is first `staff_otp_reset`."""
    with transaction.atomic():
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        audit_record(action="staff.otp_enrol", actor=actor, target=user, changes={"device": [None, device.pk]})
    return device


def staff_otp_reset(*, actor: Actor, user_id: int, reason: str) -> int:
    """Remove every two-factor device of a staff member (lost phone, or a device feared
    copied) and revoke their API refresh tokens. They log in next with the password alone,
    or, where two-factor is required of them, not until re-enrolled (`staff_otp_enrol`).

    Locks the user row (two resets remove the devices once). Returns how many devices were
    removed; none: nothing changes and nothing is audited. Raises REASON_REQUIRED, NOT_FOUND,
    INVALID_STATE (a superuser's devices, unless from the shell: the console must not strip
    the account above every administrator of its second factor)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        if user.is_superuser and actor.kind != AuditLog.ActorKind.SYSTEM:
            raise InvalidState("A superuser's two-factor devices are reset with manage.py staff_otp_enrol --reset.")
        removed = sorted(TOTPDevice.objects.filter(user=user).values_list("pk", flat=True))
        if not removed:
            return 0
        TOTPDevice.objects.filter(pk__in=removed).delete()
        refresh_tokens_revoke_all(user=user)
        audit_record(action="staff.otp_reset", actor=actor, target=user, reason=reason, changes={"devices": [removed, []]})
    return len(removed)


def alerts_resolve(*, actor: Actor, alert_ids: list[int], reason: str) -> int:
    """Mark open alerts resolved (a new occurrence re-opens them). Returns how many."""
    if not (reason or "").strip():
        raise ReasonRequired()
    resolved = 0
    with transaction.atomic():
        for alert in Alert.objects.select_for_update().filter(pk__in=alert_ids, resolved_at__isnull=True).order_by("pk"):
            Alert.objects.filter(pk=alert.pk).update(resolved_at=timezone.now())
            audit_record(
                action="alert.resolve", actor=actor, target=alert, reason=reason.strip(),
                changes={"resolved": [False, True]},
            )
            resolved += 1
    return resolved


def staff_export_record(*, actor: Actor, kind: str, date_from: date, date_to: date, rows: int) -> None:
    """One audit row per CSV export (what, which days, how many rows when it started), written
    before the file is sent: an export that fails half-way is still on record."""
    with transaction.atomic():
        audit_record(
            action="staff.export", actor=actor, target_type="backoffice.export", target_id=kind,
            changes={"kind": kind, "date_from": date_from, "date_to": date_to, "rows": rows},
        )
