"""A short-lived, per-process copy of the catalogue and routing tables for the hot path.

Every purchase needs the plan, the networks (prefix hint), the routes, the provider states
and the plan mappings: five small tables that change only when staff or a sync change them.
Reading them once per VTU_CATALOGUE_CACHE_SECONDS (default 5 s) instead of once per request
takes five round trips off every purchase. The price of it: a staff switch or a breaker
opening reaches a process up to that many seconds later. Nothing that moves money trusts the
copy alone: a half-open breaker is claimed with a fresh conditional update, the duplicate
guard and the hold read the database, and 0 turns the cache off (the test suite does).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from vtu.models import DataPlan, Network, ProviderPlan, ProviderState, Route


@dataclass(frozen=True)
class Snapshot:
    taken: float
    networks: dict[str, Network]  # by code
    plans: dict[str, DataPlan]  # by code, network loaded
    routes: list[Route]  # enabled, in priority order, network loaded
    states: dict[str, ProviderState]
    mappings: dict[tuple[int, str], ProviderPlan] = field(default_factory=dict)  # usable only, by (plan id, provider)
    networks_by_id: dict[int, Network] = field(default_factory=dict)
    plans_by_id: dict[int, DataPlan] = field(default_factory=dict)


_lock = threading.Lock()
_current: Snapshot | None = None


def ttl_seconds() -> float:
    return float(getattr(settings, "VTU_CATALOGUE_CACHE_SECONDS", 5))


def current() -> Snapshot:
    """The snapshot, rebuilt when older than the TTL (always, with a TTL of 0)."""
    global _current
    ttl = ttl_seconds()
    snapshot = _current
    if ttl > 0 and snapshot is not None and time.monotonic() - snapshot.taken < ttl:
        return snapshot
    fresh = _build()
    if ttl > 0:
        with _lock:
            _current = fresh
    return fresh


def forget() -> None:
    """Drop this process's copy (after a change this process made itself), quotes' rules too."""
    global _current
    from vtu.services import prices

    with _lock:
        _current = None
    prices.forget()


def _build() -> Snapshot:
    networks = {network.code: network for network in Network.objects.all()}
    by_id = {network.pk: network for network in networks.values()}
    plans = {}
    for plan in DataPlan.objects.all():
        plan.network = by_id[plan.network_id]
        plans[plan.code] = plan
    routes = list(Route.objects.filter(enabled=True).order_by("priority", "id"))
    for route in routes:
        route.network = by_id[route.network_id]
    states = {state.provider: state for state in ProviderState.objects.all()}
    mappings = {
        (mapping.plan_id, mapping.provider): mapping
        for mapping in ProviderPlan.objects.filter(active=True, suspended_at__isnull=True)
    }
    return Snapshot(
        time.monotonic(), networks, plans, routes, states, mappings,
        networks_by_id=by_id, plans_by_id={plan.pk: plan for plan in plans.values()},
    )
