"""The ledger's clock, in one place so tests can move it (day boundaries of the daily limit)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone

LAGOS = ZoneInfo("Africa/Lagos")


def now() -> datetime:
    return timezone.now()


def lagos_today() -> date:
    """The Africa/Lagos calendar day: the daily outflow limit resets at Lagos midnight."""
    return now().astimezone(LAGOS).date()


def lagos_day_start() -> datetime:
    """The moment the current Africa/Lagos day began (an aware datetime)."""
    return datetime.combine(lagos_today(), time.min, tzinfo=LAGOS)
