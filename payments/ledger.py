"""The two ledger postings payments makes, through wallets' services (docs/ARCHITECTURE.md).

Kept in one module so the legs are read in one place (docs/adr/0003-deposit-fees.md) and so
the rest of payments imports wallets only here.
"""

from __future__ import annotations

from typing import Any

from audit.services import Actor
from payments.models import Deposit
from wallets.services import Leg, chargeback_post, journal_post, system_account, wallet_get_or_create


def funding_legs(*, deposit: Deposit, paid_kobo: int, fee_kobo: int, credited_kobo: int) -> list[tuple[str, int]]:
    """(account code, amount) with + credit / - debit; sums to zero. "wallet" is the owner's.

    clearing:<gw> -(paid - fee)  what the gateway will settle to us
    fees          -fee           the gateway's charge (an expense)
    wallet        +credited      what the customer can spend
    revenue       +(paid - credited)  the fee recovered from the customer, when they bear it
    """
    legs = [
        (f"clearing:{deposit.gateway}", -(paid_kobo - fee_kobo)),
        ("fees", -fee_kobo),
        ("wallet", credited_kobo),
        ("revenue", paid_kobo - credited_kobo),
    ]
    return [(code, amount) for code, amount in legs if amount != 0]


def post_funding(*, deposit: Deposit, paid_kobo: int, fee_kobo: int, credited_kobo: int, actor: Actor) -> Any:
    wallet = wallet_get_or_create(user_id=deposit.user_id, currency=deposit.currency)
    legs = [
        Leg(wallet.id if code == "wallet" else system_account(code).id, amount)
        for code, amount in funding_legs(
            deposit=deposit, paid_kobo=paid_kobo, fee_kobo=fee_kobo, credited_kobo=credited_kobo
        )
    ]
    return journal_post(
        key=f"fund:{deposit.gateway}:{deposit.reference}", kind="deposit", legs=legs, reference=deposit.reference,
        memo=f"Wallet funding via {deposit.gateway}",
        metadata={"gateway": deposit.gateway, "paid_kobo": paid_kobo, "fee_kobo": fee_kobo},
        actor=actor,
    )


def reversal_split(*, deposit: Deposit, amount_kobo: int) -> tuple[int, int]:
    """(wallet part, revenue part) of a reversal of `amount_kobo` (payer's terms) that comes
    after `deposit.reversed_kobo` already taken back: the wallet first, up to what it was
    credited in total; the rest is the fee recovered from the customer at funding, given
    back from revenue (customer-bears-fee only). docs/adr/0005-deposit-reversals.md."""
    credited = deposit.credited_kobo or 0
    before, after = deposit.reversed_kobo, deposit.reversed_kobo + amount_kobo
    wallet_part = min(after, credited) - min(before, credited)
    return wallet_part, amount_kobo - wallet_part


def post_chargeback(
    *, deposit: Deposit, key_suffix: str, wallet_kobo: int, revenue_kobo: int, reason: str, actor: Actor
) -> Any:
    """clearing +(wallet + revenue); the wallet debited by what is available, the rest to
    receivables, frozen and alerted on a shortfall (wallets does it); revenue -revenue."""
    wallet = wallet_get_or_create(user_id=deposit.user_id, currency=deposit.currency)
    return chargeback_post(
        gateway=deposit.gateway, reference=deposit.reference, key_suffix=key_suffix, account_id=wallet.pk,
        amount_kobo=wallet_kobo, revenue_kobo=revenue_kobo, memo=reason[:255], actor=actor,
    )
