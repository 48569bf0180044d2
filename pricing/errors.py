from __future__ import annotations

from config.errors import ApiError


class BelowCost(ApiError):
    """The matched rule would sell below cost and is not a promotion."""

    code = "BELOW_COST"


class PriceNotSet(ApiError):
    """No active rule prices this product for this audience."""

    code = "PRICE_NOT_SET"
