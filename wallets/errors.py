"""The ledger's errors; each carries a code registered in config/errors.py."""

from __future__ import annotations

from config.errors import ApiError, InvalidState, NotFound

__all__ = [
    "BankReferenceUsed",
    "DuplicateAdjustment",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidState",
    "LedgerBusy",
    "LimitExceeded",
    "NotFound",
    "RecipientNotFound",
    "SecondApprovalSameUser",
    "SelfTransfer",
    "WalletFrozen",
]


class InsufficientFunds(ApiError):
    code = "INSUFFICIENT_FUNDS"


class WalletFrozen(ApiError):
    code = "WALLET_FROZEN"


class LimitExceeded(ApiError):
    """`errors` names the limit: {"limit": "single" | "daily" | "max_balance", "limit_kobo": ...}."""

    code = "LIMIT_EXCEEDED"


class IdempotencyConflict(ApiError):
    code = "IDEMPOTENCY_CONFLICT"


class SelfTransfer(ApiError):
    code = "SELF_TRANSFER"


class RecipientNotFound(ApiError):
    code = "RECIPIENT_NOT_FOUND"


class BankReferenceUsed(ApiError):
    code = "BANK_REFERENCE_USED"


class DuplicateAdjustment(ApiError):
    """`errors` names the twin: {"duplicate_of": <adjustment id>, "status": ...}."""

    code = "DUPLICATE_ADJUSTMENT"


class SecondApprovalSameUser(ApiError):
    code = "SECOND_APPROVAL_SAME_USER"


class LedgerBusy(ApiError):
    """Lock timeouts or deadlocks persisted through every retry: the client may retry."""

    code = "SERVICE_UNAVAILABLE"
