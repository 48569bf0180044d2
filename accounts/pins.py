"""The 4-digit transaction PIN.

Stored as HMAC-SHA256(pepper, "<user id>:<pin>"): a slow password hash buys nothing for a
space of 10,000 PINs and would cap purchases at ~20/s (DESIGN §6); the pepper lives outside
the database, so a dump alone does not reveal PINs. Every attempt is recorded by one
conditional UPDATE that only matches while an attempt is left, so parallel requests can never
get more than PIN_MAX_ATTEMPTS answers before the lock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.errors import PinInvalid, PinLocked, PinNotSet
from accounts.models import User
from config.rows import execute_relaxed

PIN_RE = re.compile(r"^\d{4}$")


def _pepper() -> bytes:
    return (settings.PIN_PEPPER or settings.SECRET_KEY).encode()


def pin_digest(*, user_id: int, pin: str) -> str:
    return hmac.new(_pepper(), f"{user_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def is_valid_pin_format(pin: object) -> bool:
    return isinstance(pin, str) and bool(PIN_RE.match(pin))


def pin_verify(*, user_id: int, pin: str, known: tuple[str, datetime | None] | None = None) -> None:
    """Check the PIN of `user_id`; return quietly when right.

    Two statements, one commit: a read of the digest and the lock, a constant-time compare
    in Python, then one conditional UPDATE that records the attempt (a right PIN resets the
    count; a wrong one counts and, at PIN_MAX_ATTEMPTS, sets the lock in the same statement).
    `known` is (pin_hash, pin_locked_until) as the caller read them in this request (the user
    row authentication loaded): then the read is skipped. That costs no safety: the UPDATE
    is the guard, and it re-checks the lock and the attempts left in the database. A right
    PIN's reset commits without waiting for the WAL flush (config.rows.execute_relaxed):
    lost in a database crash, the count just stays higher, which fails safe; a wrong PIN's
    count is always durable.
    The UPDATE only matches while an attempt is left, and PostgreSQL re-checks that after
    waiting for a concurrent writer, so however many requests race, no more than
    PIN_MAX_ATTEMPTS guesses are ever answered before the lock. Locks: the user row, for the
    one UPDATE. Raises PinNotSet, PinLocked (already, or by this attempt) or PinInvalid
    (with the attempts left).
    """
    now = timezone.now()
    row = known if known is not None else (
        User.objects.filter(pk=user_id).values_list("pin_hash", "pin_locked_until").first()
    )
    if row is None or not row[0]:
        raise PinNotSet()
    stored, locked_until = row
    if locked_until is not None and locked_until > now:
        raise _locked(locked_until)
    right = is_valid_pin_format(pin) and hmac.compare_digest(stored, pin_digest(user_id=user_id, pin=pin))
    until = now + timedelta(minutes=settings.PIN_LOCK_MINUTES)
    attempts = _record_attempt(user_id=user_id, right=right, now=now, until=until)
    if attempts is None:  # another request used the last attempt meanwhile
        raise _locked(None)
    if right:
        return
    if attempts >= settings.PIN_MAX_ATTEMPTS:
        _audit_lock(user_id)
        raise _locked(until)
    raise PinInvalid(errors={"attempts_left": settings.PIN_MAX_ATTEMPTS - attempts})


def _record_attempt(*, user_id: int, right: bool, now: datetime, until: datetime) -> int | None:
    """Record one attempt; return the failed-attempt count after it, or None when no attempt
    was left. An expired lock starts a fresh count."""
    table = User._meta.db_table
    ops = connection.ops
    params = {
        "id": user_id,
        "right": right,
        "max": settings.PIN_MAX_ATTEMPTS,
        "now": ops.adapt_datetimefield_value(now),
        "until": ops.adapt_datetimefield_value(until),
    }
    # `counted` is the failed-attempt count this attempt leaves when wrong.
    counted = "(CASE WHEN pin_locked_until IS NOT NULL THEN 1 ELSE pin_failed_attempts + 1 END)"
    run = execute_relaxed if right else _execute_plain
    with connection.cursor() as cursor:
        run(
            cursor,
            f"UPDATE {table} SET "  # noqa: S608 - table name and fragments are ours
            f"pin_failed_attempts = CASE WHEN %(right)s THEN 0 ELSE {counted} END, "
            f"pin_locked_until = CASE WHEN NOT %(right)s AND {counted} >= %(max)s THEN %(until)s ELSE NULL END "
            "WHERE id = %(id)s AND pin_hash <> '' "
            "AND (pin_locked_until IS NULL AND pin_failed_attempts < %(max)s OR pin_locked_until <= %(now)s) "
            "RETURNING pin_failed_attempts",
            params,
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _execute_plain(cursor: Any, sql: str, params: dict[str, Any]) -> None:
    cursor.execute(sql, params)


def _locked(until: datetime | None) -> PinLocked:
    seconds = max(1, int((until - timezone.now()).total_seconds())) if until else settings.PIN_LOCK_MINUTES * 60
    return PinLocked(errors={"retry_after_seconds": seconds}, headers={"Retry-After": str(seconds)})


def _audit_lock(user_id: int) -> None:
    from audit.services import Actor, audit_record

    audit_record(action="user.pin_locked", actor=Actor.system("pin"), target_type="accounts.user", target_id=user_id)
