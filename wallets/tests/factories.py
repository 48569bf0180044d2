"""Test helpers other apps' tests use: a wallet funded by a real, balanced journal."""

from __future__ import annotations

import uuid
from typing import Any

from wallets.models import Journal, LedgerAccount
from wallets.services import Leg, journal_post, system_account, wallet_get_or_create


def _user_id(user: Any) -> int:
    return user if isinstance(user, int) else user.pk


def wallet_for(user: Any) -> LedgerAccount:
    """The user's wallet (opened if needed), fresh from the database."""
    return wallet_get_or_create(user_id=_user_id(user))


def fund_wallet(user: Any, amount_kobo: int, *, reference: str | None = None) -> Journal:
    """Credit `user`'s wallet with `amount_kobo` the way a bank transfer would: a posted
    journal `bankfund:<reference>` (bank -x, wallet +x), so balances, entries and invariants
    are all real. `user` may be a User or a user id."""
    wallet = wallet_get_or_create(user_id=_user_id(user))
    bank = system_account("bank")
    reference = reference or f"test-{uuid.uuid4().hex}"
    return journal_post(
        key=f"bankfund:{reference}", kind=Journal.Kind.DEPOSIT, reference=reference, memo="Test funding",
        legs=[Leg(bank.pk, -amount_kobo), Leg(wallet.pk, amount_kobo)],
    )
