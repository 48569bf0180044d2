"""Reseller callbacks: the entry point `vtu`, `payments` and `wallets` call.

`callback_emit` is the contract; the reseller API issue fills in endpoints, signed delivery
and retries behind it. Until then it records nothing.
"""

from __future__ import annotations

from typing import Any

EVENT_TYPES = ("purchase.successful", "purchase.failed", "purchase.reversed", "deposit.successful", "transfer.received")


def callback_emit(*, user_id: int, event_type: str, event_id: str, data: dict[str, Any]) -> None:
    """Queue `event_type` for every active endpoint of `user_id` that wants it.

    Call it inside the transaction that made the change: deliveries are rows written in the
    same transaction and sent by a worker after commit. `event_id` is stable per logical
    event (e.g. "purchase.successful:<purchase reference>") so a retry never emits twice.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown callback event {event_type!r}")
