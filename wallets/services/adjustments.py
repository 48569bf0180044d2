"""Staff credits and debits of a wallet, with maker-checker above a threshold (DESIGN §2)."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.db import IntegrityError, transaction

from audit.services import Actor, audit_record
from config.errors import ApiError, InvalidState, NotFound, PermissionDenied, ReasonRequired
from wallets import clock
from wallets.errors import BankReferenceUsed, SecondApprovalSameUser
from wallets.models import Adjustment, Journal, LedgerAccount
from wallets.services.accounts import system_account
from wallets.services.posting import Leg, check_amount, lock_timeout_now, post, run_in_transaction

_IGNORED_IN_BANK_REFERENCES = re.compile(r"[\s\-_/.]+")
_BANK_REFERENCE = re.compile(r"^[A-Z0-9]{1,100}$")


def bank_reference_normalise(value: str | None) -> str | None:
    """The one spelling of a bank reference, so one bank transfer cannot be credited twice
    under "GTB-1", "gtb 1" and "GTB1": upper case, with spaces, hyphens, underscores, slashes
    and dots removed (banks print the same reference with and without them). Any other
    character is refused rather than dropped or kept: a look-alike letter from another
    script would otherwise make a "new" reference. None or blank -> None.
    Raises ApiError VALIDATION_ERROR."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text:
        return None
    normalised = _IGNORED_IN_BANK_REFERENCES.sub("", text).upper()
    if not _BANK_REFERENCE.match(normalised):
        message = "Letters and digits only (spaces, hyphens, underscores, slashes and dots are ignored)."
        raise ApiError(code="VALIDATION_ERROR", detail=f"Invalid bank reference: {message}",
                       errors={"bank_reference": [message]})
    return normalised


def _require_staff(actor: Actor) -> int:
    if actor.user_id is None:
        raise PermissionDenied("A staff member must make adjustments.")
    return actor.user_id


def adjustment_request(
    *,
    staff: Actor,
    account_id: int,
    direction: str,
    amount_kobo: int,
    reason: str,
    bank_reference: str | None = None,
) -> Adjustment:
    """A staff member credits or debits a customer wallet, with a reason. Up to
    ADJUSTMENT_APPROVAL_THRESHOLD_KOBO it posts at once; above, it waits (status
    pending_approval) for a second, different staff member (`adjustment_approve`). A credit
    for a bank transfer carries the bank's reference, normalised (`bank_reference_normalise`)
    and UNIQUE among adjustments not rejected, so the transfer is credited once (journal key
    bankfund:<reference>, from the `bank` account); a rejected request frees its reference.

    Locks: the wallet row when it posts (see `_post_adjustment`). Idempotent: through the
    bank reference (UNIQUE) for bank credits; other requests are new each time (the API
    wraps them in an Idempotency-Key). Raises ReasonRequired, BankReferenceUsed, NotFound,
    InsufficientFunds / WalletFrozen (an immediate debit), ValueError, LedgerBusy.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    check_amount(amount_kobo)
    if direction not in Adjustment.Direction.values:
        raise ValueError(f"direction must be credit or debit, not {direction!r}")
    bank_reference = bank_reference_normalise(bank_reference)
    if bank_reference and direction != Adjustment.Direction.CREDIT:
        raise ValueError("a bank reference goes with a credit")
    staff_id = _require_staff(staff)
    if not LedgerAccount.objects.filter(pk=account_id, kind=LedgerAccount.Kind.CUSTOMER).exists():
        raise NotFound("No such wallet.")

    def work() -> Adjustment:
        lock_timeout_now()
        adjustment = Adjustment(
            account_id=account_id, direction=direction, amount_kobo=amount_kobo, reason=reason,
            bank_reference=bank_reference, requested_by_id=staff_id,
        )
        try:
            with transaction.atomic():
                adjustment.save()
        except IntegrityError as exc:
            raise BankReferenceUsed() from exc
        audit_record(
            action="adjustment.request", actor=staff, target=adjustment, reason=reason,
            changes={"direction": direction, "amount_kobo": amount_kobo, "bank_reference": bank_reference},
        )
        if amount_kobo <= settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO:
            _post_adjustment(adjustment, actor=staff)
        return adjustment

    return run_in_transaction(work)


def adjustment_approve(*, staff: Actor, adjustment_id: int) -> Adjustment:
    """The second staff member approves a pending adjustment, which posts.

    Locks: the adjustment row (SELECT ... FOR UPDATE), then the wallet row. Idempotent
    through the status (a posted adjustment is not pending any more: InvalidState) and the
    journal key adjust:<id>. Raises SecondApprovalSameUser, InvalidState, NotFound,
    InsufficientFunds / WalletFrozen (a debit), LedgerBusy.
    """
    staff_id = _require_staff(staff)

    def work() -> Adjustment:
        lock_timeout_now()
        adjustment = _pending_for_update(adjustment_id)
        if adjustment.requested_by_id == staff_id:
            raise SecondApprovalSameUser()
        adjustment.decided_by_id, adjustment.decided_at = staff_id, clock.now()
        audit_record(action="adjustment.approve", actor=staff, target=adjustment, reason=adjustment.reason)
        _post_adjustment(adjustment, actor=staff)
        return adjustment

    return run_in_transaction(work)


def adjustment_reject(*, staff: Actor, adjustment_id: int, reason: str) -> Adjustment:
    """Any staff member, the requester included, refuses a pending adjustment; nothing posts.
    Locks: the adjustment row. Raises ReasonRequired, InvalidState, NotFound."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    staff_id = _require_staff(staff)
    with transaction.atomic():
        adjustment = _pending_for_update(adjustment_id)
        # The requester withdrawing their own request is not a checker's decision: decided_by
        # stays empty (CHECK adjustment_maker_is_not_checker), and the audit row names them.
        decided_by_id = None if adjustment.requested_by_id == staff_id else staff_id
        Adjustment.objects.filter(pk=adjustment.pk).update(
            status=Adjustment.Status.REJECTED, decided_by_id=decided_by_id, decided_at=clock.now(), decision_reason=reason
        )
        audit_record(action="adjustment.reject", actor=staff, target=adjustment, reason=reason)
    adjustment.refresh_from_db()
    return adjustment


def _pending_for_update(adjustment_id: int) -> Adjustment:
    adjustment = Adjustment.objects.select_for_update().filter(pk=adjustment_id).first()
    if adjustment is None:
        raise NotFound("No such adjustment.")
    if adjustment.status != Adjustment.Status.PENDING:
        raise InvalidState(f"The adjustment is {adjustment.status}.")
    return adjustment


def _post_adjustment(adjustment: Adjustment, *, actor: Actor) -> Journal:
    """Credit: contra -x, wallet +x (contra = bank for a bank transfer, else adjustments).
    Debit: wallet -x (guarded: available, not frozen), adjustments +x."""
    amount = adjustment.amount_kobo
    if adjustment.bank_reference:
        key, kind, contra = f"bankfund:{adjustment.bank_reference}", Journal.Kind.DEPOSIT, system_account("bank")
    else:
        key, kind, contra = f"adjust:{adjustment.pk}", Journal.Kind.ADJUSTMENT, system_account("adjustments")
    sign = 1 if adjustment.direction == Adjustment.Direction.CREDIT else -1
    legs = [Leg(adjustment.account_id, sign * amount), Leg(contra.pk, -sign * amount)]
    journal, _created = post(
        key=key, kind=kind, legs=legs, reference=adjustment.bank_reference or f"ADJ-{adjustment.pk}",
        memo=adjustment.reason[:255], actor=actor, known_accounts={contra.pk: contra},
        metadata={"adjustment_id": adjustment.pk, "direction": adjustment.direction},
    )
    adjustment.status, adjustment.journal = Adjustment.Status.POSTED, journal
    Adjustment.objects.filter(pk=adjustment.pk).update(
        status=adjustment.status, journal=journal, decided_by_id=adjustment.decided_by_id,
        decided_at=adjustment.decided_at,
    )
    audit_record(
        action="adjustment.post", actor=actor, target=adjustment, reason=adjustment.reason,
        changes={"journal": key, "amount_kobo": sign * amount},
    )
    return journal
