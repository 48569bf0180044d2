"""The ledger's services: the only code that changes balances (docs/ARCHITECTURE.md "Ledger").

Every function is keyword-only, owns its transaction (inside a caller's transaction it joins
it, without a savepoint) and its audit record, and says in its docstring what it locks, what
makes it idempotent and what it raises.
"""

from wallets.limits import Limits, limits_for_tier
from wallets.services.accounts import system_account, wallet_freeze, wallet_get_or_create, wallet_unfreeze
from wallets.services.adjustments import (
    adjustment_approve,
    adjustment_reject,
    adjustment_request,
    adjustment_request_key,
    bank_reference_normalise,
)
from wallets.services.holds import hold_capture, hold_place, hold_release
from wallets.services.journals import chargeback_post, journal_post, journal_reverse
from wallets.services.posting import Leg
from wallets.services.transfers import wallet_transfer

__all__ = [
    "Leg",
    "Limits",
    "adjustment_approve",
    "adjustment_reject",
    "adjustment_request",
    "adjustment_request_key",
    "bank_reference_normalise",
    "chargeback_post",
    "hold_capture",
    "hold_place",
    "hold_release",
    "journal_post",
    "journal_reverse",
    "limits_for_tier",
    "system_account",
    "wallet_freeze",
    "wallet_get_or_create",
    "wallet_transfer",
    "wallet_unfreeze",
]
