"""The purchase's money, through `wallets` services only (DESIGN §2 keys):

- hold     `hold:<ref>`      placed with the purchase (limits of the user's KYC tier)
- capture  `capture:<ref>`   wallet -> float:<provider> at cost, margin -> revenue
- release  (no journal)      a definitive failure frees the hold
- reversal `reversal:<ref>`  the provider reversed a delivery: the capture's exact opposite
- refund   `refund:<ref>`    staff refund of something the provider charged us for: paid
                             from the `refunds` account, the float is untouched

Every call is idempotent on its key, so a retried worker cannot move money twice.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from vtu.models import Purchase
from wallets import services as wallets
from wallets.services import Leg


def hold_reference(purchase_reference: str) -> str:
    return f"hold:{purchase_reference}"


_wallet_ids: dict[int, int] = {}
WALLET_ID_CACHE_SIZE = 100_000


def wallet_id(user_id: int) -> int:
    """The user's wallet id, remembered per process after commit (a wallet is never replaced;
    its status and balance are always read by the ledger's own guarded UPDATE)."""
    if user_id in _wallet_ids:
        return _wallet_ids[user_id]
    account_id = wallets.wallet_get_or_create(user_id=user_id).pk
    if len(_wallet_ids) >= WALLET_ID_CACHE_SIZE:
        _wallet_ids.clear()
    transaction.on_commit(lambda: _wallet_ids.setdefault(user_id, account_id))
    return account_id


def purchase_hold(*, purchase: Purchase, kyc_tier: int, actor: Any = None) -> None:
    wallets.hold_place(
        account_id=wallet_id(purchase.user_id), amount_kobo=purchase.amount_kobo, reference=purchase.hold_reference,
        limits=wallets.limits_for_tier(kyc_tier), actor=actor,
    )


_system_ids: dict[str, int] = {}


def system_account_id(code: str) -> int:
    """A system account's id, remembered per process: system accounts are never deleted or
    renumbered, and two lookups per capture are two round trips saved. Remembered only once
    the caller's transaction commits: an account this transaction created (the first capture
    for a new provider) does not exist for anyone else until then, nor ever if it rolls back."""
    if code in _system_ids:
        return _system_ids[code]
    account_id = wallets.system_account(code).pk
    transaction.on_commit(lambda: _system_ids.setdefault(code, account_id))
    return account_id


def purchase_capture(*, purchase: Purchase, provider: str, cost_kobo: int) -> None:
    """Capture at the delivering provider's cost. Under a below-cost promotion the wallet's
    price all goes to the float and revenue pays the rest in a second journal
    (`capture:<ref>:subsidy`), since a capture's credit legs are all positive."""
    float_account = system_account_id(f"float:{provider}")
    revenue = system_account_id("revenue")
    margin = purchase.amount_kobo - cost_kobo
    legs = [Leg(float_account, min(cost_kobo, purchase.amount_kobo))]
    if margin > 0:
        legs.append(Leg(revenue, margin))
    wallets.hold_capture(reference=purchase.hold_reference, key=purchase.capture_key, credit_legs=legs)
    if margin < 0:
        wallets.journal_post(
            key=subsidy_key(purchase), kind="purchase", reference=purchase.reference,
            legs=[Leg(revenue, margin), Leg(float_account, -margin)], memo=f"promotion below cost {purchase.reference}",
        )


def subsidy_key(purchase: Purchase) -> str:
    return f"{purchase.capture_key}:subsidy"


def purchase_release(*, purchase: Purchase) -> None:
    wallets.hold_release(reference=purchase.hold_reference)


def purchase_reversal_post(*, purchase: Purchase, actor: Any = None) -> None:
    wallets.journal_reverse(
        original_key=purchase.capture_key, key=f"reversal:{purchase.reference}",
        memo=f"provider reversed {purchase.reference}", actor=actor,
    )
    if purchase.margin_kobo < 0:
        wallets.journal_reverse(
            original_key=subsidy_key(purchase), key=f"reversal:{purchase.reference}:subsidy",
            memo=f"provider reversed {purchase.reference}", actor=actor,
        )


def purchase_refund_post(*, purchase: Purchase, reason: str, actor: Any = None) -> None:
    wallets.journal_post(
        key=f"refund:{purchase.reference}", kind="refund",
        legs=[
            Leg(system_account_id("refunds"), -purchase.amount_kobo),
            Leg(wallet_id(purchase.user_id), purchase.amount_kobo),
        ],
        reference=purchase.reference, memo=reason[:200], actor=actor,
    )
