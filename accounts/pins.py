"""The 4-digit transaction PIN.

Stored as HMAC-SHA256(pepper, "<user id>:<pin>"): a slow password hash buys nothing for a
space of 10,000 PINs and would cap purchases at ~20/s (DESIGN §6); the pepper lives outside
the database, so a dump alone does not reveal PINs. Wrong attempts are counted by an atomic
update that *reserves* an attempt before comparing, so parallel requests can never make more
than PIN_MAX_ATTEMPTS comparisons before the lock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.errors import PinInvalid, PinLocked, PinNotSet
from accounts.models import User

PIN_RE = re.compile(r"^\d{4}$")


def _pepper() -> bytes:
    return (settings.PIN_PEPPER or settings.SECRET_KEY).encode()


def pin_digest(*, user_id: int, pin: str) -> str:
    return hmac.new(_pepper(), f"{user_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def is_valid_pin_format(pin: object) -> bool:
    return isinstance(pin, str) and bool(PIN_RE.match(pin))


def pin_verify(*, user_id: int, pin: str) -> None:
    """Check the PIN of `user_id`; return quietly when right.

    Raises PinNotSet, PinLocked (locked now or by this attempt) or PinInvalid (with the
    attempts left). Locks: none held; each step is one conditional UPDATE.
    """
    now = timezone.now()
    users = User.objects.filter(pk=user_id)
    # An expired lock starts a fresh count.
    users.filter(pin_locked_until__lte=now).update(pin_locked_until=None, pin_failed_attempts=0)
    stored = users.values_list("pin_hash", flat=True).first()
    if not stored:
        raise PinNotSet()
    slot = _reserve_attempt(user_id)
    if slot is None:
        raise _locked(user_id)
    if is_valid_pin_format(pin) and hmac.compare_digest(stored, pin_digest(user_id=user_id, pin=pin)):
        users.update(pin_failed_attempts=0)
        return
    attempts = slot
    if attempts >= settings.PIN_MAX_ATTEMPTS:
        until = now + timedelta(minutes=settings.PIN_LOCK_MINUTES)
        users.filter(pin_locked_until__isnull=True).update(pin_locked_until=until)
        _audit_lock(user_id)
        raise _locked(user_id)
    raise PinInvalid(errors={"attempts_left": settings.PIN_MAX_ATTEMPTS - attempts})


def _reserve_attempt(user_id: int) -> int | None:
    """Take the next attempt slot (1..PIN_MAX_ATTEMPTS) with one conditional UPDATE, or None
    when none is left. Under concurrency each caller gets its own slot number, so exactly the
    caller holding the last slot locks the PIN and reports it."""
    table = User._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET pin_failed_attempts = pin_failed_attempts + 1 "  # noqa: S608 - table name is ours
            "WHERE id = %s AND pin_locked_until IS NULL AND pin_failed_attempts < %s "
            "RETURNING pin_failed_attempts",
            [user_id, settings.PIN_MAX_ATTEMPTS],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _locked(user_id: int) -> PinLocked:
    until = User.objects.filter(pk=user_id).values_list("pin_locked_until", flat=True).first()
    seconds = max(1, int((until - timezone.now()).total_seconds())) if until else settings.PIN_LOCK_MINUTES * 60
    return PinLocked(errors={"retry_after_seconds": seconds}, headers={"Retry-After": str(seconds)})


def _audit_lock(user_id: int) -> None:
    from audit.services import Actor, audit_record

    audit_record(action="user.pin_locked", actor=Actor.system("pin"), target_type="accounts.user", target_id=user_id)
