"""Errors of the vtu app, each with a registered code (config/errors.py)."""

from __future__ import annotations

from config.errors import ApiError


class PlanNotFound(ApiError):
    code = "PLAN_NOT_FOUND"


class NetworkNotFound(ApiError):
    code = "NETWORK_NOT_FOUND"


class ProductDisabled(ApiError):
    code = "PRODUCT_DISABLED"


class UnsupportedProduct(ApiError):
    code = "UNSUPPORTED_PRODUCT"


class NetworkMismatch(ApiError):
    code = "NETWORK_MISMATCH"


class InvalidAmount(ApiError):
    code = "INVALID_AMOUNT"


class AmountOutOfRange(ApiError):
    code = "AMOUNT_OUT_OF_RANGE"


class DuplicatePurchase(ApiError):
    code = "DUPLICATE_PURCHASE"


class DuplicateReference(ApiError):
    code = "DUPLICATE_REFERENCE"


class ProviderUnavailable(ApiError):
    code = "PROVIDER_UNAVAILABLE"


class PurchaseNotFound(ApiError):
    code = "NOT_FOUND"


class DisputeWindowClosed(ApiError):
    code = "DISPUTE_WINDOW_CLOSED"


class AlreadyDisputed(ApiError):
    code = "ALREADY_DISPUTED"
