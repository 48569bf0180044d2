"""Disputes: a customer says a purchase went wrong ("debited but not delivered"); staff work
the queue in the console: requery, then decide (DESIGN §9, issue 6).

Services here own their transaction and audit record, like vtu.services; money moves only
through vtu.services.staff.purchase_refund (the purchase's one `refund:<ref>` journal).
(They sit outside vtu/services/ while that package is being tuned; they call it, never the
ledger directly.)

The rule that protects the business holds here too: a purchase whose outcome is unknown
(pending, processing) is never refunded from a dispute. Staff requery it, or resolve the
purchase itself first (delivered or failed, which captures or releases its hold).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from accounts.tasks import email_notice_send
from audit.services import Actor, audit_record
from config.errors import ApiError, InvalidState, NotFound, PermissionDenied, ReasonRequired
from vtu import clock
from vtu.errors import AlreadyDisputed, DisputeWindowClosed, PurchaseNotFound
from vtu.models import Dispute, Purchase
from vtu.services import staff as purchase_staff

Status = Purchase.Status
# Purchases whose money has already come back to the wallet: nothing left to refund.
MONEY_RETURNED = (Status.FAILED, Status.REVERSED, Status.REFUNDED)
OUTCOMES = ("delivered", "refund")


def window() -> timedelta:
    return timedelta(hours=settings.DISPUTE_WINDOW_HOURS)


def _required(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ReasonRequired()
    return text


def dispute_open(*, user: Any, reference: str, reason: str, actor: Actor) -> Dispute:
    """The owner of a purchase disputes it, once, within DISPUTE_WINDOW_HOURS of making it.

    Locks: the purchase row, so the status read is the one the dispute is opened against.
    Idempotent through UNIQUE(purchase): a second dispute is ALREADY_DISPUTED. Raises
    REASON_REQUIRED, NOT_FOUND (no such purchase, or someone else's: the same answer, so
    references cannot be probed), DISPUTE_WINDOW_CLOSED, ALREADY_DISPUTED, INVALID_STATE (the
    purchase failed or was reversed or refunded: the money is already back)."""
    reason = _required(reason)
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().filter(reference=reference, user=user).first()
        if purchase is None:
            raise PurchaseNotFound(f"No purchase {reference}.")
        if Dispute.objects.filter(purchase=purchase).exists():
            raise AlreadyDisputed()
        if clock.now() > purchase.created_at + window():
            raise DisputeWindowClosed(
                f"Purchases can be disputed for {settings.DISPUTE_WINDOW_HOURS} hours; this one is older."
            )
        if purchase.status in MONEY_RETURNED:
            raise InvalidState(f"This purchase is {purchase.status}: its amount is already back in your wallet.")
        try:
            with transaction.atomic():  # a savepoint: a twin request that won the UNIQUE is a clean refusal
                dispute = Dispute.objects.create(purchase=purchase, user=user, reason=reason, created_at=clock.now())
        except IntegrityError as exc:
            raise AlreadyDisputed() from exc
        audit_record(
            action="dispute.open", actor=actor, target=dispute, reason=reason,
            changes={"purchase": purchase.reference, "purchase_status": purchase.status},
        )
    return dispute


def dispute_requery(*, staff: Actor, dispute_id: int) -> Dispute:
    """Ask the provider again about the disputed purchase (audited as purchase.requery by the
    purchase service; the answer is recorded by the worker like any other)."""
    dispute = Dispute.objects.select_related("purchase").filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    if dispute.status != Dispute.Status.OPEN:
        raise InvalidState(f"The dispute is already {dispute.status}.")
    purchase_staff.purchase_requery_now(staff=staff, reference=dispute.purchase.reference)
    return dispute


def dispute_resolve(
    *, staff: Actor, dispute_id: int, outcome: str, reason: str, may_refund: bool, evidence: str = ""
) -> Dispute:
    """Decide an open dispute, with a reason (the customer is e-mailed the outcome):

    - "delivered": the purchase was delivered (status successful); `evidence` is required
      (provider reference, portal check). Nothing moves.
    - "refund": a successful purchase is refunded (one `refund:<ref>` journal from the refunds
      account, through purchase_refund); a purchase that already failed or was reversed or
      refunded closes the dispute as `returned`, moving nothing (the money is back already).

    A pending or processing purchase is refused (INVALID_STATE): its outcome is unknown.
    `may_refund`: whether this staff member holds the refund permission; checked against the
    purchase status read under its row lock, so a purchase that became successful after the
    caller looked cannot be refunded by someone without it (PERMISSION_DENIED).
    Locks: the dispute row, then the purchase row (nothing locks them the other way round).
    Idempotent: a decided dispute is INVALID_STATE. Raises REASON_REQUIRED,
    VALIDATION_ERROR (outcome, evidence), NOT_FOUND, INVALID_STATE, PERMISSION_DENIED."""
    reason = _required(reason)
    evidence = (evidence or "").strip()
    if outcome not in OUTCOMES:
        raise ApiError(code="VALIDATION_ERROR", errors={"outcome": [f"One of {', '.join(OUTCOMES)}."]})
    if outcome == "delivered" and not evidence:
        raise ApiError(
            code="VALIDATION_ERROR", detail="Say what shows it was delivered.",
            errors={"evidence": ["Required when resolving as delivered."]},
        )
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(pk=dispute_id).first()
        if dispute is None:
            raise NotFound("No such dispute.")
        if dispute.status != Dispute.Status.OPEN:
            raise InvalidState(f"The dispute is already {dispute.status}.")
        purchase = Purchase.objects.select_for_update(of=("self",)).select_related("network", "plan").get(pk=dispute.purchase_id)
        status = _decide(staff=staff, purchase=purchase, outcome=outcome, reason=reason, may_refund=may_refund)
        resolved_at = clock.now()
        moved = Dispute.objects.filter(pk=dispute.pk, status=Dispute.Status.OPEN).update(
            status=status, resolution_reason=reason, evidence=evidence, resolved_by_id=staff.user_id,
            resolved_at=resolved_at,
        )
        if not moved:  # cannot happen under the row lock; never report a decision that did not land
            raise InvalidState("The dispute changed while resolving; look again.")
        audit_record(
            action="dispute.resolve", actor=staff, target=dispute, reason=reason,
            changes={"status": ["open", status], "purchase_status": purchase.status, "evidence": evidence or None},
        )
        email_notice_send.delay_on_commit(dispute.user_id, "dispute_resolved", _email_context(purchase, status, reason))
    dispute.refresh_from_db()
    return dispute


def _decide(*, staff: Actor, purchase: Purchase, outcome: str, reason: str, may_refund: bool) -> str:
    """The dispute's new status; posts the refund when that is the decision (and allowed)."""
    if purchase.status in Purchase.OPEN_STATUSES:
        raise InvalidState(
            f"The purchase is still {purchase.status}: its outcome is unknown. Requery it, or resolve the "
            "purchase as delivered or failed first (refunding one that was delivered loses the money)."
        )
    if outcome == "delivered":
        if purchase.status != Status.SUCCESSFUL:
            raise InvalidState(f"The purchase is {purchase.status}, not successful: it cannot be called delivered.")
        return Dispute.Status.DELIVERED
    if purchase.status in MONEY_RETURNED:
        return Dispute.Status.RETURNED
    if not may_refund:  # a refund moves money: it takes the refund permission (finance, admin)
        raise PermissionDenied("Refunding a delivered purchase needs the refund permission.")
    purchase_staff.purchase_refund(staff=staff, reference=purchase.reference, reason=f"dispute: {reason}")
    purchase.refresh_from_db(fields=["status"])
    return Dispute.Status.REFUNDED


def _naira(kobo: int) -> str:
    return f"₦{kobo // 100:,}.{kobo % 100:02d}"


def _email_context(purchase: Purchase, status: str, reason: str) -> dict[str, Any]:
    plan = purchase.plan
    return {
        "reference": purchase.reference,
        "what": plan.name if plan is not None else f"{purchase.network.name} airtime",
        "phone_number": purchase.phone,
        "amount": _naira(purchase.amount_kobo),
        "outcome": status,
        "reason": reason,
    }


# --- reads ---------------------------------------------------------------------------------


def disputes_for_user(*, user: Any) -> QuerySet[Dispute]:
    """The customer's disputes, newest first, with their purchases."""
    return Dispute.objects.select_related("purchase").filter(user=user).order_by("-id")
