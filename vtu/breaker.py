"""Staff reset of a provider's circuit breaker (the breaker itself: vtu.services.routing).

An open breaker sends nothing to its provider until the cool-down lets one probe through.
When staff know the provider is back (their status page, a call), they close it by hand,
with a reason. Kept out of vtu/services/ while that package is tuned; it changes only the
ProviderState row, as the routing code's own conditional updates do.
"""

from __future__ import annotations

from django.db import transaction

from audit.services import Actor, audit_record
from config.errors import NotFound, ReasonRequired
from vtu.models import ProviderState
from vtu.services import snapshot

Circuit = ProviderState.Circuit


def circuit_reset(*, staff: Actor, provider: str, reason: str) -> bool:
    """Close `provider`'s breaker and clear its failure count. Returns False (and records
    nothing) when it was already closed with no failures on record.

    Locks: the ProviderState row. Idempotent (see above). Raises REASON_REQUIRED, NOT_FOUND.
    Other processes see the change within VTU_CATALOGUE_CACHE_SECONDS (their snapshot)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    with transaction.atomic():
        state = ProviderState.objects.select_for_update().filter(provider=provider).first()
        if state is None:
            raise NotFound(f"No provider state for {provider!r}.")
        if state.circuit == Circuit.CLOSED and state.consecutive_failures == 0:
            return False
        ProviderState.objects.filter(pk=state.pk).update(
            circuit=Circuit.CLOSED, consecutive_failures=0, opened_at=None, probe_started_at=None
        )
        audit_record(
            action="circuit.reset", actor=staff, target=state, reason=reason,
            changes={"circuit": [state.circuit, Circuit.CLOSED], "consecutive_failures": [state.consecutive_failures, 0]},
        )
    snapshot.forget()
    return True
