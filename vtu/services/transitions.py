"""The one way a purchase changes status: a conditional update plus a PurchaseEvent.

`purchase_transition` moves `from -> to` only if the row is still in `from` (0 rows means
another worker or staff member won) and only along `Purchase.TRANSITIONS`. Call it inside
the transaction that also moves the money, so the status and the ledger commit together.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config import metrics
from vtu import clock
from vtu.models import Purchase, PurchaseEvent


class IllegalTransition(RuntimeError):
    """A programming error: the transition map does not allow this move."""


def purchase_transition(
    *,
    purchase: Purchase,
    to: str,
    cause: str,
    detail: dict[str, Any] | None = None,
    actor: str = "",
    **fields: Any,
) -> bool:
    """Move `purchase` from its current in-memory status to `to`, with `fields` updated too.

    Returns False (and changes nothing) when the row is no longer in that status. On
    success the in-memory object is updated and one PurchaseEvent is written.
    Locks: the purchase row, until the caller's transaction ends.
    """
    current = purchase.status
    if to not in Purchase.TRANSITIONS[current]:
        raise IllegalTransition(f"{purchase.reference}: {current} -> {to}")
    now = clock.now()
    values = {"status": to, "updated_at": now, **fields}
    if to not in Purchase.OPEN_STATUSES and purchase.completed_at is None:
        values.setdefault("completed_at", now)
    if to not in Purchase.OPEN_STATUSES:
        values.setdefault("next_check_at", None)
    moved = Purchase.objects.filter(pk=purchase.pk, status=current).update(**values)
    if not moved:
        return False
    for name, value in values.items():
        setattr(purchase, name, value)
    PurchaseEvent.objects.create(
        purchase=purchase, from_status=current, to_status=to, cause=cause, detail=detail or {}, actor=actor,
        created_at=now,
    )
    labels = {
        "status": to, "network": purchase_network_code(purchase), "provider": purchase.provider or "none",
        "product": purchase.product,
    }
    transaction.on_commit(lambda: metrics.PURCHASES.labels(**labels).inc())
    return True


def purchase_note(*, purchase: Purchase, cause: str, detail: dict[str, Any] | None = None, actor: str = "") -> None:
    """An event that is not a transition (a requery that found nothing new, a failover, a
    staff requery): same status on both sides, so the history reads top to bottom."""
    PurchaseEvent.objects.create(
        purchase=purchase, from_status=purchase.status, to_status=purchase.status, cause=cause,
        detail=detail or {}, actor=actor, created_at=clock.now(),
    )


def purchase_network_code(purchase: Purchase) -> str:
    network = purchase._state.fields_cache.get("network")
    return network.code if network is not None else str(purchase.network_id)
