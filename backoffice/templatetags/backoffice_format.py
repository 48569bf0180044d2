"""Display of money and rates in the console: kobo -> naira only here, at the edge."""

from __future__ import annotations

from django import template

register = template.Library()


def naira(kobo: int | None) -> str:
    """12345 -> "₦123.45"; None -> "—". Integer arithmetic, no float rounding."""
    if kobo is None:
        return "—"
    sign = "-" if kobo < 0 else ""
    whole, part = divmod(abs(int(kobo)), 100)
    return f"{sign}₦{whole:,}.{part:02d}"


def percent(bps: int | None) -> str:
    """Basis points -> "98.50%"; None (nothing to rate) -> "—"."""
    if bps is None:
        return "—"
    whole, part = divmod(int(bps), 100)
    return f"{whole}.{part:02d}%"


register.filter("naira", naira)
register.filter("percent", percent)


def local_time(iso: str | None) -> str:
    """An ISO time from the analytics report -> "2026-11-20 08:01" in Africa/Lagos."""
    if not iso:
        return "—"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(iso).astimezone(ZoneInfo("Africa/Lagos")).strftime("%Y-%m-%d %H:%M")


register.filter("local_time", local_time)
