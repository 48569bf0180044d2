"""Wallet-to-wallet transfers."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable

from django.conf import settings

from accounts.callbacks import callback_emit
from audit.services import Actor, audit_record
from wallets import clock
from wallets.errors import SelfTransfer
from wallets.limits import Limits
from wallets.models import Journal, LedgerAccount
from wallets.services.accounts import wallet_get_or_create
from wallets.services.holds import check_single_limit
from wallets.services.posting import AccountChange, Leg, OutflowChange, check_amount, post, run_in_transaction

JOURNAL_KEY_MAX = 255  # Journal.idempotency_key


def transfer_key(*, sender_user_id: int, idempotency_key: str | None) -> str:
    """`transfer:<user id>:<Idempotency-Key>`; without a client key every call is new.

    A client key too long to fit the journal key (the API accepts up to 255 characters) is
    stored by its SHA-256: `transfer:sha256:<user id>:<hex digest>`. The same client key
    always gives the same journal key, and the two forms cannot collide (a user id is
    digits, never "sha256")."""
    key = f"transfer:{sender_user_id}:{idempotency_key or 'auto-' + uuid.uuid4().hex}"
    if len(key) <= JOURNAL_KEY_MAX:
        return key
    digest = hashlib.sha256(str(idempotency_key).encode()).hexdigest()
    return f"transfer:sha256:{sender_user_id}:{digest}"


def wallet_transfer(
    *,
    sender_user_id: int,
    recipient_user_id: int,
    amount_kobo: int,
    idempotency_key: str | None,
    limits: Limits,
    recipient_limits: Limits | None = None,
    narration: str = "",
    actor: Actor | None = None,
    known_wallets: Iterable[LedgerAccount] = (),
    recipient_has_callbacks: bool | None = None,
) -> Journal:
    """Move `amount_kobo` from the sender's wallet to the recipient's (opened if needed).

    Locks: both wallet rows, in ascending id order, each by one guarded UPDATE: the sender's
    refuses when frozen, when the available balance is short, or when today's outflow
    (Africa/Lagos) would cross `limits.daily_kobo` (the counter moves in the same UPDATE);
    the recipient's refuses to go over `recipient_limits.max_balance_kobo`. Idempotent on
    `transfer:<sender>:<idempotency_key>` (UNIQUE journal key): a repeat returns the first
    journal; the same key with another recipient or amount raises IdempotencyConflict.
    Emits `transfer.received` to the recipient's callbacks in the same transaction.
    `known_wallets`: wallets the caller already read (saves a query; they are only used for
    ids, numbers and currency, never for balances). `recipient_has_callbacks=False`: the
    caller's lookup found no callback endpoint for the recipient (saves another).
    Raises SelfTransfer, LimitExceeded, InsufficientFunds, WalletFrozen, IdempotencyConflict,
    ValueError (amount not a positive integer), LedgerBusy.
    """
    if sender_user_id == recipient_user_id:
        raise SelfTransfer()
    check_amount(amount_kobo)
    check_single_limit(amount_kobo, limits)
    actor = actor or Actor.system("wallets")
    parties = {sender_user_id, recipient_user_id}
    found = {
        w.user_id: w for w in known_wallets
        if w.user_id in parties and w.currency == settings.WALLET_CURRENCY and w.kind == LedgerAccount.Kind.CUSTOMER
    }
    if set(found) != parties:  # one query for both; a wallet not opened yet is opened below
        found = {
            wallet.user_id: wallet
            for wallet in LedgerAccount.objects.filter(
                kind=LedgerAccount.Kind.CUSTOMER, currency=settings.WALLET_CURRENCY, user_id__in=parties
            )
        }
    sender = found.get(sender_user_id) or wallet_get_or_create(user_id=sender_user_id)
    recipient = found.get(recipient_user_id) or wallet_get_or_create(user_id=recipient_user_id)
    key = transfer_key(sender_user_id=sender_user_id, idempotency_key=idempotency_key)
    legs = [Leg(sender.pk, -amount_kobo), Leg(recipient.pk, amount_kobo)]

    def record(journal: Journal) -> None:  # audit and callback rows, before the wallet rows are locked
        audit_record(  # goes with the wallet UPDATEs, in their round trip (config.rows.deferring)
            action="transfer.create", actor=actor, target=journal,
            changes={"amount_kobo": amount_kobo, "from": sender.number, "to": recipient.number}, defer=True,
        )
        if recipient_has_callbacks is False:
            return  # the caller's lookup saw no endpoint: nothing to emit
        callback_emit(
            user_id=recipient_user_id, event_type="transfer.received", event_id=f"transfer.received:{journal.pk}",
            data={
                "reference": journal.reference, "amount": amount_kobo, "currency": recipient.currency,
                "from_wallet": sender.number, "narration": narration, "created_at": journal.created_at.isoformat(),
            },
        )

    def work() -> Journal:
        changes = {
            sender.pk: AccountChange(
                require_active=True, outflow=OutflowChange(clock.lagos_today(), amount_kobo, limits.daily_kobo)
            ),
            recipient.pk: AccountChange(
                max_balance_kobo=recipient_limits.max_balance_kobo if recipient_limits else None
            ),
        }
        journal, created = post(
            key=key, kind=Journal.Kind.TRANSFER, legs=legs, reference=f"TRF-{secrets.token_hex(6).upper()}",
            memo=narration, actor=actor, changes=changes, known_accounts={sender.pk: sender, recipient.pk: recipient},
            metadata={
                "sender_user_id": sender_user_id, "recipient_user_id": recipient_user_id,
                "sender_wallet": sender.number, "recipient_wallet": recipient.number, "amount_kobo": amount_kobo,
            },
            before_locks=record,
        )
        if created:  # the API answers with it without reading the entry back
            journal.sender_balance_kobo = journal.posted_balances[sender.pk]  # type: ignore[attr-defined]
        return journal

    return run_in_transaction(work)
