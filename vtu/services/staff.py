"""After-the-fact services: provider reversal, staff refund, staff resolution of a stuck
purchase, staff "requery now" (unsigned provider callbacks: vtu/services/callbacks.py).

Each owns its transaction and audit record; money moves only through vtu.services.ledger.
"""

from __future__ import annotations

import structlog
from django.db import transaction

from audit.services import Actor, audit_record
from config.errors import InvalidState, NotFound, ReasonRequired
from vtu import clock
from vtu.models import ProviderAttempt, Purchase
from vtu.providers.base import Outcome, ProviderResult
from vtu.services import dispatch, flow, ledger
from vtu.services.notify import notify_outcome
from vtu.services.transitions import purchase_note, purchase_transition

log = structlog.get_logger("vtu.staff")
Status = Purchase.Status


def _get(reference: str, *, for_update: bool = False) -> Purchase:
    purchases = Purchase.objects.select_related("network", "plan")
    if for_update:
        purchases = purchases.select_for_update(of=("self",))
    purchase = purchases.filter(reference=reference).first()
    if purchase is None:
        raise NotFound(f"No purchase {reference}.")
    return purchase


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


def purchase_reverse(*, purchase: Purchase, cause: str, message: str = "", actor: Actor | None = None) -> bool:
    """successful -> reversed: one `reversal:<ref>` journal, the exact opposite of the
    capture (the float comes back). Idempotent: a second call finds the status moved."""
    actor = actor or Actor.system("provider reversal")
    with transaction.atomic():
        moved = purchase_transition(
            purchase=purchase, to=Status.REVERSED, cause=cause, actor=actor.label,
            message=(f"Reversed by the provider, refunded: {message}" if message else "Reversed, refunded.")[:500],
        )
        if not moved:
            return False
        ledger.purchase_reversal_post(purchase=purchase, actor=actor)
        audit_record(action="purchase.reverse", actor=actor, target=purchase, reason=message or cause)
        notify_outcome(purchase)
    return True


def purchase_refund(*, staff: Actor, reference: str, reason: str) -> Purchase:
    """Staff refund of a delivered purchase (a dispute upheld): successful -> refunded with one
    `refund:<ref>` journal paid from the `refunds` account; the provider float is untouched
    (the provider did deliver and charge us). Raises InvalidState unless successful."""
    reason = _reason(reason)
    with transaction.atomic():
        purchase = _get(reference, for_update=True)
        if purchase.status != Status.SUCCESSFUL:
            raise InvalidState(f"Only a successful purchase can be refunded; this one is {purchase.status}.")
        purchase_transition(
            purchase=purchase, to=Status.REFUNDED, cause="staff_refund", actor=staff.label,
            detail={"reason": reason}, message="Refunded to your wallet.",
        )
        ledger.purchase_refund_post(purchase=purchase, reason=reason, actor=staff)
        audit_record(action="purchase.refund", actor=staff, target=purchase, reason=reason)
        notify_outcome(purchase)
    return purchase


def purchase_resolve(*, staff: Actor, reference: str, delivered: bool, reason: str) -> Purchase:
    """Staff settle a flagged purchase the providers cannot (no requery, past its SLA):
    delivered -> capture at the open attempt's provider and cost; not delivered -> release.
    Staff must have checked with the provider: this is the decision the code refuses to guess."""
    reason = _reason(reason)
    purchase, attempt = _resolvable(reference, delivered=delivered)
    with transaction.atomic():
        audit_record(
            action="purchase.resolve", actor=staff, target=purchase, reason=reason,
            changes={"delivered": delivered, "request_id": attempt.request_id if attempt else None},
        )
        if delivered:
            result = ProviderResult(outcome=Outcome.SUCCESS, message="Delivered (confirmed by support).")
            landed = flow.settle_success(purchase, attempt, result, "staff")
        else:
            if attempt is not None:
                flow.attempt_close(attempt, ProviderAttempt.State.FAILED, ProviderResult(outcome=Outcome.FAILED))
            landed = flow.settle_failed(
                purchase, cause="staff_failed", message="not delivered (confirmed by support).", actor=staff.label
            )
        if not landed:
            # A worker (or another staff member) settled it first: the audit row must not say
            # this decision happened. Raising rolls it back with everything above.
            raise InvalidState("The purchase was settled by someone else while resolving; look again.")
        purchase.refresh_from_db()
    return purchase


def _resolvable(reference: str, *, delivered: bool) -> tuple[Purchase, ProviderAttempt | None]:
    """The flagged processing purchase and its last attempt, or INVALID_STATE."""
    purchase = _get(reference)
    if purchase.status != Status.PROCESSING:
        raise InvalidState(f"Only a processing purchase can be resolved; this one is {purchase.status}.")
    if purchase.needs_review_at is None:
        # Staff resolve only what the system gave up on (past its SLA, flagged); before that
        # the requery engine is still working on it and a hand decision would race it.
        raise InvalidState("Only a purchase flagged for review can be resolved by hand; requery it instead.")
    attempt = ProviderAttempt.objects.filter(purchase=purchase).order_by("-number").first()
    if delivered and (attempt is None or not attempt.is_open):
        raise InvalidState("No open provider attempt: nothing outstanding can have been delivered.")
    return purchase, attempt


def purchase_requery_now(*, staff: Actor, reference: str) -> Purchase:
    """Staff ask for a requery at once (the answer is recorded by the worker, as any other)."""
    purchase = _get(reference)
    if purchase.status not in (Status.PROCESSING, Status.SUCCESSFUL):
        raise InvalidState(f"Nothing to requery: the purchase is {purchase.status}.")
    with transaction.atomic():
        audit_record(action="purchase.requery", actor=staff, target=purchase)
        purchase_note(purchase=purchase, cause="staff_requery", actor=staff.label)
        Purchase.objects.filter(pk=purchase.pk, status=Status.PROCESSING).update(next_check_at=clock.now())
        _dispatch_requery(purchase.pk, "staff")
    return purchase


def _dispatch_requery(purchase_id: int, reason: str) -> None:
    from vtu.tasks import purchase_requery

    dispatch.after_commit(purchase_requery, purchase_id, reason)
