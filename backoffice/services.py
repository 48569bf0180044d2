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

from audit.services import Actor, audit_record
from config.errors import NotFound, ReasonRequired
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


def staff_otp_enrol(*, user: Any, actor: Actor, reset: bool = False) -> TOTPDevice:
    """Give `user` a new confirmed TOTP device (the operator hands over its otpauth URL or QR
    code). With `reset`, the user's existing devices are removed first (lost phone)."""
    with transaction.atomic():
        if reset:
            removed = [device.pk for device in TOTPDevice.objects.filter(user=user)]
            if removed:
                TOTPDevice.objects.filter(pk__in=removed).delete()
                audit_record(action="staff.otp_reset", actor=actor, target=user, changes={"devices": [removed, []]})
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        audit_record(action="staff.otp_enrol", actor=actor, target=user, changes={"device": [None, device.pk]})
    return device


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
