"""Opening wallets, finding system accounts, freezing and unfreezing."""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from config.errors import NotFound, ReasonRequired
from wallets.models import LedgerAccount

FIXED_SYSTEM_ACCOUNTS = ("revenue", "fees", "refunds", "receivables", "adjustments", "suspense", "bank")
SYSTEM_FAMILIES = ("clearing", "float")  # clearing:<gateway>, float:<provider>
_FAMILY_CODE = re.compile(r"^(clearing|float):[a-z0-9][a-z0-9_-]{0,40}$")
NUMBER_ATTEMPTS = 8


def _new_wallet_number() -> str:
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))  # 10 digits, no leading zero


def wallet_get_or_create(*, user_id: int, currency: str | None = None) -> LedgerAccount:
    """The user's wallet in `currency` (default WALLET_CURRENCY), opened on first use.

    Locks: none (a plain SELECT; the insert relies on UNIQUE (user, currency)). Idempotent:
    two concurrent first uses create one wallet; the loser of the insert race reads the
    winner's row. A random 10-digit number is drawn again on the rare collision.
    """
    currency = currency or settings.WALLET_CURRENCY
    wallets = LedgerAccount.objects.filter(user_id=user_id, currency=currency, kind=LedgerAccount.Kind.CUSTOMER)
    wallet = wallets.first()
    if wallet is not None:
        return wallet
    for _ in range(NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                wallet = LedgerAccount.objects.create(
                    code=f"wallet:{user_id}:{currency}", kind=LedgerAccount.Kind.CUSTOMER, user_id=user_id,
                    number=_new_wallet_number(), currency=currency,
                )
                audit_record(action="wallet.open", actor=Actor.system("wallets"), target=wallet)
                return wallet
        except IntegrityError:
            wallet = wallets.first()
            if wallet is not None:
                return wallet
    raise RuntimeError("could not allocate a unique wallet number")


def is_system_code(code: str) -> bool:
    return code in FIXED_SYSTEM_ACCOUNTS or bool(_FAMILY_CODE.match(code))


def system_account(code: str) -> LedgerAccount:
    """The system account `code`: revenue, fees, refunds, receivables, adjustments, suspense,
    bank, clearing:<gateway> or float:<provider>. A missing one is created (data migration
    0003 creates those known at deploy time). Raises ValueError for any other code."""
    if not is_system_code(code):
        raise ValueError(f"{code!r} is not a system account code")
    account = LedgerAccount.objects.filter(code=code).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(
                code=code, name=code, kind=LedgerAccount.Kind.SYSTEM, currency=settings.WALLET_CURRENCY,
                allow_negative=True, materialised=False,
            )
    except IntegrityError:
        return LedgerAccount.objects.get(code=code)


def wallet_freeze(*, account_id: int, reason: str, actor: Actor) -> bool:
    """Freeze a customer wallet: new holds, transfers out and staff debits are refused;
    credits, captures and releases of existing holds, and reversals still post.

    Locks: the wallet row (one conditional UPDATE). Idempotent: freezing a frozen wallet
    changes nothing and returns False. Raises ReasonRequired, NotFound."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic():
        wallets = LedgerAccount.objects.filter(pk=account_id, kind=LedgerAccount.Kind.CUSTOMER)
        if not wallets.exists():
            raise NotFound("No such wallet.")
        changed = wallets.filter(status=LedgerAccount.Status.ACTIVE).update(
            status=LedgerAccount.Status.FROZEN, frozen_reason=reason, frozen_at=timezone.now()
        )
        if changed:
            audit_record(
                action="wallet.freeze", actor=actor, target_type="wallets.ledgeraccount", target_id=account_id,
                reason=reason, changes={"status": ["active", "frozen"]},
            )
    return bool(changed)


def wallet_unfreeze(*, account_id: int, reason: str, actor: Actor) -> bool:
    """Unfreeze a wallet. Locks: the wallet row (conditional UPDATE). Idempotent (False when
    it was not frozen). Raises ReasonRequired, NotFound."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic():
        wallets = LedgerAccount.objects.filter(pk=account_id, kind=LedgerAccount.Kind.CUSTOMER)
        if not wallets.exists():
            raise NotFound("No such wallet.")
        changed = wallets.filter(status=LedgerAccount.Status.FROZEN).update(
            status=LedgerAccount.Status.ACTIVE, frozen_reason="", frozen_at=None
        )
        if changed:
            audit_record(
                action="wallet.unfreeze", actor=actor, target_type="wallets.ledgeraccount", target_id=account_id,
                reason=reason, changes={"status": ["frozen", "active"]},
            )
    return bool(changed)
