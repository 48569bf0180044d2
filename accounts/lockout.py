"""Failed-login lockout, counted per (account, IP) and per IP.

A lock on (account, IP) stops guessing one account from one place without letting anyone
lock a victim out from afar: the victim's own IP has its own counter. The per-IP counter
stops one address spraying many accounts. Counters live in the shared cache (Redis).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from accounts.errors import LoginLocked


def _keys(email: str, ip: str | None) -> tuple[str, str]:
    digest = hashlib.sha256(f"{email.strip().lower()}|{ip or '-'}".encode()).hexdigest()[:32]
    return f"login-fail:acct-ip:{digest}", f"login-fail:ip:{ip or '-'}"


def _count(key: str) -> int:
    return int(cache.get(key) or 0)


def ensure_not_locked(*, email: str, ip: str | None) -> None:
    account_key, ip_key = _keys(email, ip)
    if (
        _count(account_key) >= settings.LOGIN_MAX_FAILURES_PER_ACCOUNT_IP
        or _count(ip_key) >= settings.LOGIN_MAX_FAILURES_PER_IP
    ):
        seconds = settings.LOGIN_LOCK_MINUTES * 60
        raise LoginLocked(headers={"Retry-After": str(seconds)}, errors={"retry_after_seconds": seconds})


def record_failure(*, email: str, ip: str | None) -> None:
    timeout = settings.LOGIN_LOCK_MINUTES * 60
    for key in _keys(email, ip):
        cache.add(key, 0, timeout)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout)


def record_success(*, email: str, ip: str | None) -> None:
    account_key, _ = _keys(email, ip)
    cache.delete(account_key)
