"""The payments app's errors; each carries a code registered in config/errors.py."""

from __future__ import annotations

from config.errors import ApiError, InvalidState, NotFound

__all__ = [
    "AmountOutOfRange",
    "GatewayDisabled",
    "GatewayFailed",
    "InvalidIdNumber",
    "InvalidState",
    "NotFound",
    "UnknownGatewayError",
    "VirtualAccountExists",
]


class UnknownGatewayError(ApiError):
    code = "UNKNOWN_GATEWAY"


class GatewayDisabled(ApiError):
    code = "GATEWAY_DISABLED"


class AmountOutOfRange(ApiError):
    code = "AMOUNT_OUT_OF_RANGE"


class GatewayFailed(ApiError):
    """The gateway did not give a usable answer to a checkout or account request."""

    code = "GATEWAY_ERROR"


class InvalidIdNumber(ApiError):
    code = "INVALID_ID_NUMBER"


class VirtualAccountExists(ApiError):
    code = "ALREADY_EXISTS"


class NotYetCredited(Exception):
    """A refund/chargeback arrived before the funding it reverses was credited: retry later."""


class ReversalNeedsReview(Exception):
    """A refund/chargeback that cannot be posted as it stands (no amount, another currency,
    a gateway that offers no way to confirm it): staff decide; nothing moved."""
