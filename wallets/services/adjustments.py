"""Staff credits and debits of a wallet, with maker-checker above a threshold (DESIGN §2),
once per request (a request key, a duplicate guard) and not splittable under the threshold
(a per-wallet day total): docs/ledger.md "Staff adjustments"."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from audit.services import Actor, audit_record
from config.errors import ApiError, InvalidState, NotFound, PermissionDenied, ReasonRequired
from wallets import clock, selectors
from wallets.errors import BankReferenceUsed, DuplicateAdjustment, IdempotencyConflict, SecondApprovalSameUser
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


def adjustment_request_key(*, source: str, key: str) -> str:
    """The request key stored on an adjustment: `<source>:<key>` (source "form" for the
    console's one-time form token, "api" for an Idempotency-Key). A key that would not fit in
    255 characters is stored by its SHA-256 as `<source>-sha256:<hex>`: deterministic, so a
    retry finds the first adjustment, and no plain key can look like it (the plain form has
    ":" right after the source)."""
    plain = f"{source}:{key}"
    if len(plain) <= 255:
        return plain
    return f"{source}-sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _require_staff(actor: Actor) -> int:
    if actor.user_id is None:
        raise PermissionDenied("A staff member must make adjustments.")
    return actor.user_id


@dataclass(frozen=True)
class _Wanted:
    """One intended adjustment, as its request describes it (what a repeat must match)."""

    account_id: int
    direction: str
    amount_kobo: int
    reason: str
    bank_reference: str | None

    def matches(self, adjustment: Adjustment) -> bool:
        return all(getattr(adjustment, name) == value for name, value in vars(self).items())


def _wanted(*, account_id: int, direction: str, amount_kobo: int, reason: str, bank_reference: str | None) -> _Wanted:
    """Validate a request (ReasonRequired, ValueError, ApiError VALIDATION_ERROR)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    check_amount(amount_kobo)
    if direction not in Adjustment.Direction.values:
        raise ValueError(f"direction must be credit or debit, not {direction!r}")
    bank_reference = bank_reference_normalise(bank_reference)
    if bank_reference and direction != Adjustment.Direction.CREDIT:
        raise ValueError("a bank reference goes with a credit")
    return _Wanted(account_id, direction, amount_kobo, reason, bank_reference)


def adjustment_request(
    *,
    staff: Actor,
    account_id: int,
    direction: str,
    amount_kobo: int,
    reason: str,
    bank_reference: str | None = None,
    request_key: str | None = None,
    confirm_duplicate: bool = False,
) -> Adjustment:
    """A staff member credits or debits a customer wallet, with a reason. It posts at once
    unless it needs a second, different staff member (`adjustment_approve`; status
    pending_approval): when its amount is above ADJUSTMENT_APPROVAL_THRESHOLD_KOBO, or when
    it takes the wallet's adjustments of the Lagos day (any staff member's, pending or
    posted, credits and debits alike) above it, so splitting cannot dodge the approval. A
    credit for a bank transfer carries the bank's reference, normalised
    (`bank_reference_normalise`) and UNIQUE among adjustments not rejected (journal key
    bankfund:<reference>, from the `bank` account); a rejected request frees its reference.

    Locks: the wallet row (SELECT ... FOR UPDATE) first, so the requests for one wallet run
    one at a time and each sees the ones before it (request key, duplicate guard, day total).
    Idempotent: on `request_key` (`adjustment_request_key()`; UNIQUE per requester): the
    same request again returns the first adjustment with `replayed` set, another request
    under the key raises IdempotencyConflict. Without `confirm_duplicate`, the same
    requester's same direction and amount on the wallet within
    ADJUSTMENT_DUPLICATE_WINDOW_SECONDS (not rejected) raises DuplicateAdjustment. Also
    raises ReasonRequired, BankReferenceUsed, NotFound, InsufficientFunds / WalletFrozen (an
    immediate debit), ValueError, LedgerBusy.
    """
    wanted = _wanted(account_id=account_id, direction=direction, amount_kobo=amount_kobo, reason=reason,
                     bank_reference=bank_reference)
    staff_id = _require_staff(staff)
    if request_key is not None and not 1 <= len(request_key) <= 255:
        raise ValueError("a request key is 1-255 characters (see adjustment_request_key)")

    def work() -> Adjustment:
        lock_timeout_now()
        _lock_wallet(account_id)
        first = _answered(staff_id, request_key, wanted)
        if first is not None:
            return first
        _refuse_used_bank_reference(wanted)  # the precise refusal first: confirming would not help
        if not confirm_duplicate:
            _refuse_duplicate(staff_id, wanted)
        approval = _approval_needed(wanted)
        adjustment = _insert(staff_id, request_key, wanted)
        if adjustment.replayed:  # a twin under the same key, for another wallet, committed first
            return adjustment
        changes: dict[str, object] = {"direction": direction, "amount_kobo": amount_kobo,
                                      "bank_reference": wanted.bank_reference, "approval": approval or "not needed"}
        if confirm_duplicate:
            changes["confirm_duplicate"] = True
        audit_record(action="adjustment.request", actor=staff, target=adjustment, reason=wanted.reason, changes=changes)
        if approval is None:
            _post_adjustment(adjustment, actor=staff)
        return adjustment

    return run_in_transaction(work)


def _lock_wallet(account_id: int) -> None:
    locked = LedgerAccount.objects.select_for_update().filter(pk=account_id, kind=LedgerAccount.Kind.CUSTOMER)
    if not locked.values_list("pk", flat=True):
        raise NotFound("No such wallet.")


def _answered(staff_id: int, request_key: str | None, wanted: _Wanted) -> Adjustment | None:
    """The adjustment this requester already made under `request_key`, marked `replayed`;
    None when there is none. Another request under the key: IdempotencyConflict."""
    if request_key is None:
        return None
    first = Adjustment.objects.filter(requested_by_id=staff_id, request_key=request_key).first()
    if first is None:
        return None
    if not wanted.matches(first):
        raise IdempotencyConflict(
            f"This request key was already used for adjustment {first.pk}, with other details.",
            errors={"adjustment_id": first.pk},
        )
    first.replayed = True
    return first


def _refuse_used_bank_reference(wanted: _Wanted) -> None:
    """Read first for the clear answer; UNIQUE adjustment_bank_reference_unique_unless_rejected
    stays the guarantee (`_insert`)."""
    taken = Adjustment.objects.filter(bank_reference=wanted.bank_reference).exclude(status=Adjustment.Status.REJECTED)
    if wanted.bank_reference and taken.exists():
        raise BankReferenceUsed()


def _refuse_duplicate(staff_id: int, wanted: _Wanted) -> None:
    """The same requester, wallet, direction and amount within the window, not rejected:
    probably the same intention twice (a double click, a retry without a key)."""
    window = settings.ADJUSTMENT_DUPLICATE_WINDOW_SECONDS
    if window <= 0:
        return
    twin = (
        Adjustment.objects.filter(
            account_id=wanted.account_id, direction=wanted.direction, amount_kobo=wanted.amount_kobo,
            requested_by_id=staff_id, created_at__gte=clock.now() - timedelta(seconds=window),
        )
        .exclude(status=Adjustment.Status.REJECTED)
        .order_by("-pk")
        .first()
    )
    if twin is not None:
        raise DuplicateAdjustment(
            f"You asked for the same {wanted.direction} of this wallet at "
            f"{twin.created_at.astimezone(clock.LAGOS):%H:%M:%S} Lagos time "
            f"(adjustment {twin.pk}, {twin.status}). If a second one is meant, confirm it.",
            errors={"duplicate_of": twin.pk, "status": twin.status},
        )


def _approval_needed(wanted: _Wanted) -> str | None:
    """Why this request waits for a second staff member ("amount", "day_total"), or None.
    The day total counts every staff member's adjustments of this wallet since Lagos
    midnight that are not rejected, whatever their direction: a control on what staff can
    move in and out of one wallet in a day without a second pair of eyes."""
    threshold = settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO
    if wanted.amount_kobo > threshold:
        return "amount"
    _count, today = selectors.adjustment_day_total(account_id=wanted.account_id)
    return "day_total" if today + wanted.amount_kobo > threshold else None


def _insert(staff_id: int, request_key: str | None, wanted: _Wanted) -> Adjustment:
    adjustment = Adjustment(
        account_id=wanted.account_id, direction=wanted.direction, amount_kobo=wanted.amount_kobo, reason=wanted.reason,
        bank_reference=wanted.bank_reference, request_key=request_key, requested_by_id=staff_id, created_at=clock.now(),
    )
    try:
        with transaction.atomic():
            adjustment.save()
    except IntegrityError as exc:
        first = _answered(staff_id, request_key, wanted)
        if first is not None:
            return first
        raise BankReferenceUsed() from exc
    return adjustment


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
