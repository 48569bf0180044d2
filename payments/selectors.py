"""Reads of deposits for the API."""

from __future__ import annotations

from django.core.cache import cache

from payments import services
from payments.errors import NotFound
from payments.gateways.base import GatewayError
from payments.models import Deposit

# A client polling its status page asks the gateway at most this often per deposit.
REFRESH_EVERY_SECONDS = 5


def deposit_get_for_user(*, user_id: int, reference: str) -> Deposit:
    deposit = Deposit.objects.filter(user_id=user_id, reference=reference).first()
    if deposit is None:
        raise NotFound("No such deposit.")
    return deposit


def deposit_refresh(*, deposit: Deposit) -> Deposit:
    """While a deposit is initialized, ask the gateway (rate-limited per deposit). This races
    the webhook task by design: both end in deposit_settle, which credits once."""
    if deposit.status != Deposit.Status.INITIALIZED:
        return deposit
    if not cache.add(f"payments:refresh:{deposit.pk}", 1, timeout=REFRESH_EVERY_SECONDS):
        return deposit
    try:
        return services.deposit_confirm(deposit_id=deposit.pk)
    except GatewayError:
        return deposit  # unknown stays unknown; the sweep asks again
