"""Per-KYC-tier limits. Services take a `Limits` as an argument: the caller (a view, the purchase
service) knows the user's tier; `wallets` never reads `accounts` to find it."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Limits:
    single_kobo: int  # one transfer or one purchase
    daily_kobo: int  # customer-initiated outflow (purchases and transfers out) per Lagos day
    max_balance_kobo: int  # enforced on transfers in; see docs/adr/0002-limits.md for deposits


def limits_for_tier(tier: int) -> Limits:
    """The limits of KYC tier `tier` from settings.KYC_TIER_LIMITS_KOBO. An unknown tier gets
    the lowest tier's limits (fail closed)."""
    table = settings.KYC_TIER_LIMITS_KOBO
    row = table.get(tier) if isinstance(tier, int) else None
    if row is None:
        row = table[min(table)]
    return Limits(single_kobo=row["single"], daily_kobo=row["daily"], max_balance_kobo=row["max_balance"])
