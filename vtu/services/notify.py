"""What the customer hears about a purchase: the API/callback payload, e-mail receipts and
reseller callbacks. Called inside the transaction that made the change: the callback rows
commit with it and the e-mail task is dispatched only after commit."""

from __future__ import annotations

from typing import Any

from accounts.callbacks import callback_emit
from accounts.tasks import email_notice_send
from vtu.models import Purchase
from vtu.services import dispatch


def purchase_payload(purchase: Purchase) -> dict[str, Any]:
    """The customer's view of a purchase (no provider name, cost or margin)."""
    plan = purchase.plan
    return {
        "reference": purchase.reference,
        "client_reference": purchase.client_reference or None,
        "status": purchase.status,
        "product": purchase.product,
        "network": purchase.network.code,
        "plan_code": plan.code if plan is not None else None,
        "plan_name": plan.name if plan is not None else None,
        "phone_number": purchase.phone,
        "ported": purchase.ported,
        "amount": purchase.amount_kobo,
        "face_value": purchase.face_value_kobo,
        "message": purchase.message,
        "provider_reference": purchase.provider_reference or None,
        "token": purchase.token or None,
        "needs_review": purchase.needs_review_at is not None,
        "created_at": purchase.created_at.isoformat(),
        "updated_at": purchase.updated_at.isoformat(),
        "completed_at": purchase.completed_at.isoformat() if purchase.completed_at else None,
    }


def naira(kobo: int | None) -> str:
    if kobo is None:
        return ""
    return f"₦{kobo // 100:,}.{kobo % 100:02d}"


def _email_context(purchase: Purchase) -> dict[str, Any]:
    plan = purchase.plan
    what = plan.name if plan is not None else f"{purchase.network.name} airtime {naira(purchase.face_value_kobo)}"
    return {
        "reference": purchase.reference,
        "what": what,
        "phone_number": purchase.phone,
        "amount": naira(purchase.amount_kobo),
        "status": purchase.status,
        "message": purchase.message,
    }


def notify_outcome(purchase: Purchase) -> None:
    """Reseller callback, and for purchases made in the app (JWT) an e-mail receipt, for a
    purchase that reached a final state."""
    event = {
        Purchase.Status.SUCCESSFUL: ("purchase.successful", "purchase_successful"),
        Purchase.Status.FAILED: ("purchase.failed", "purchase_refunded"),
        Purchase.Status.REVERSED: ("purchase.reversed", "purchase_refunded"),
        Purchase.Status.REFUNDED: ("purchase.refunded", "purchase_refunded"),  # by staff, or a dispute's refund
    }.get(purchase.status)
    if event is None:
        return
    event_type, template = event
    callback_emit(
        user_id=purchase.user_id, event_type=event_type, event_id=f"{event_type}:{purchase.reference}",
        data=purchase_payload(purchase),
    )
    if purchase.channel == Purchase.Channel.WEB:
        # Purchases made with an API key are reported to the reseller by the callback above
        # (and in GET /purchases); an e-mail for each of a reseller's thousands would be noise.
        dispatch.after_commit(email_notice_send, purchase.user_id, template, _email_context(purchase))
