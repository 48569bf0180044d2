"""Reading vendor values at the edge: naira amounts to kobo, plan names to size and validity.

Vendors send naira as numbers or strings ("1,234.50", 449, 0.5); we convert once, here, with
Decimal from the text (never float arithmetic), and keep integer kobo everywhere after.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(TB|GB|MB)\b", re.IGNORECASE)
_DAYS = re.compile(r"(\d+)\s*-?\s*(days?|hrs?|hours?|weeks?|months?|years?)\b", re.IGNORECASE)
_WORDS = (("daily", 1), ("weekly", 7), ("monthly", 30), ("yearly", 365), ("1 year", 365))


def naira_to_kobo(value: Any) -> int:
    """449 -> 44900, "1,234.5" -> 123450. Raises ValueError for anything else (bool, None,
    text that is not a number, a negative amount)."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not an amount")
    try:
        amount = Decimal(str(value).replace(",", "").replace("₦", "").strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount: {value!r}")
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def gb_to_mb(value: Any) -> int:
    """Amigo-style capacity in GB (0.5, 1, 1.5) to MB, 1 GB = 1024 MB like our catalogue."""
    try:
        return int((Decimal(str(value)) * 1024).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        return 0


def size_mb_from_name(name: str) -> int:
    """"MTN 1.5GB - 30 days" -> 1536; 0 when the name has no size."""
    match = _SIZE.search(name or "")
    if not match:
        return 0
    amount, unit = Decimal(match.group(1)), match.group(2).upper()
    factor = {"MB": 1, "GB": 1024, "TB": 1024 * 1024}[unit]
    return int((amount * factor).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def validity_days_from_name(name: str) -> int:
    """"... - 30 days" -> 30, "24 hrs" -> 1, "Weekly" -> 7; 0 when the name does not say."""
    text = name or ""
    match = _DAYS.search(text)
    if match:
        number, unit = int(match.group(1)), match.group(2).lower()
        if unit.startswith(("hr", "hour")):
            return max(1, -(-number // 24))
        if unit.startswith("week"):
            return number * 7
        if unit.startswith("month"):
            return number * 30
        if unit.startswith("year"):
            return number * 365
        return number
    lowered = text.lower()
    return next((days for word, days in _WORDS if word in lowered), 0)
