"""Refunds and chargebacks of credited deposits: one journal per refund or lost dispute.

Exactly once per reversal, whatever arrives and however often: `deposit_reverse` locks the
deposit row, skips a reversal whose key is already stored (UNIQUE (deposit, key)), and posts
`chargeback:<gateway>:<reference>:<key>` (UNIQUE in the ledger besides). Never more than was
paid: what posts is capped at `paid_kobo - reversed_kobo` (a CHECK constraint backs it), and
the wallet is never debited more than it was credited in total (the rest of a full refund is
the recovered fee, given back from revenue). The deposit becomes `reversed` only when all of
it was taken back; partial reversals leave it `successful` with `reversed_kobo` > 0.
docs/adr/0005-deposit-reversals.md.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import Actor, audit_record
from payments import ledger
from payments.errors import NotYetCredited, ReversalNeedsReview
from payments.gateways.types import Reversal
from payments.models import Deposit, DepositReversal
from payments.services import SYSTEM, transition

CREDITED = (Deposit.Status.SUCCESSFUL, Deposit.Status.REVERSED)


def reversal_key(reversal: Reversal) -> str:
    """The gateway's refund/dispute id as a journal-key suffix: [A-Za-z0-9._:=-], bounded."""
    return re.sub(r"[^A-Za-z0-9._:=-]", "-", f"{reversal.kind}:{reversal.key}")[:120]


def deposit_reverse(*, deposit_id: int, reversal: Reversal, reason: str, actor: Actor = SYSTEM) -> Deposit:
    """Post one refund or lost dispute of a credited deposit.

    Locks the deposit row. Idempotent on (deposit, reversal key): a repeat changes nothing. A
    cumulative reversal (a running total) posts only what exceeds the earlier ones. Raises
    NotYetCredited (the funding is not credited yet: the caller retries later) and
    ReversalNeedsReview (no amount, or another currency: nothing moves).
    """
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().get(pk=deposit_id)
        if deposit.status not in CREDITED:
            raise NotYetCredited(deposit.reference)
        key = reversal_key(reversal)
        if DepositReversal.objects.filter(deposit=deposit, key=key).exists():
            return deposit
        amount = _amount_to_post(deposit, reversal)
        if amount > 0:
            _post(deposit, reversal, key=key, amount=amount, reason=reason, actor=actor)
        return deposit


def _amount_to_post(deposit: Deposit, reversal: Reversal) -> int:
    if reversal.amount is None:
        raise ReversalNeedsReview(f"{reversal.kind} {reversal.key}: the gateway gives no amount")
    if reversal.amount.currency != deposit.currency:
        raise ReversalNeedsReview(f"{reversal.kind} {reversal.key}: {reversal.amount.currency} on a "
                                  f"{deposit.currency} deposit")
    claimed = reversal.amount.minor
    if reversal.cumulative:
        earlier = DepositReversal.objects.filter(deposit=deposit, kind=reversal.kind, cumulative=True)
        claimed -= earlier.aggregate(total=Sum("amount_kobo"))["total"] or 0
    paid = deposit.paid_kobo or deposit.credited_kobo or 0
    return max(0, min(claimed, paid - deposit.reversed_kobo))


def _post(deposit: Deposit, reversal: Reversal, *, key: str, amount: int, reason: str, actor: Actor) -> None:
    wallet_part, revenue_part = ledger.reversal_split(deposit=deposit, amount_kobo=amount)
    journal = ledger.post_chargeback(
        deposit=deposit, key_suffix=key, wallet_kobo=wallet_part, revenue_kobo=revenue_part, reason=reason,
        actor=actor,
    )
    DepositReversal.objects.create(
        deposit=deposit, kind=reversal.kind, key=key, cumulative=reversal.cumulative, amount_kobo=amount,
        wallet_kobo=wallet_part, revenue_kobo=revenue_part, journal_key=journal.idempotency_key, reason=reason[:255],
    )
    total = deposit.reversed_kobo + amount
    if total >= (deposit.paid_kobo or deposit.credited_kobo or 0):
        transition(deposit, Deposit.Status.REVERSED, reason=reason, reversed_kobo=total)
    else:
        Deposit.objects.filter(pk=deposit.pk).update(reversed_kobo=total, updated_at=timezone.now())
        deposit.reversed_kobo = total
    audit_record(action="deposit.reverse", actor=actor, target=deposit, reason=reason,
                 changes={"kind": reversal.kind, "key": key, "amount_kobo": amount, "wallet_kobo": wallet_part,
                          "revenue_kobo": revenue_part, "reversed_kobo": total})
