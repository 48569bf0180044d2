"""The clock the purchase flow reads (backoff, SLA, duplicate window, breaker cool-down).

One function so tests can move time (`monkeypatch.setattr("vtu.clock.now", ...)`) instead of
sleeping. Everything in vtu that compares with "now" calls `clock.now()`.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
