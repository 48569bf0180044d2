"""Which provider gets a purchase: routes, circuit breaker and health score (R8).

Order: the staff's route priority first; among equal priorities the healthier provider; a
provider whose last known float is below the cost goes last (it would answer "low balance").
A provider is skipped when staff switched it (or its route, or its route for the plan's type)
off, when settings do not enable it, when its breaker is open, when its last checked float is
below PROVIDER_MIN_FLOAT_KOBO (R8/R10: route away before it answers "low balance"; a balance
check that finds it topped up brings it back), and for data when it has no usable mapping.

The breaker costs nothing on the happy path: a success writes only when the provider had
failures on record (the UPDATE's WHERE matches no row otherwise, so no row is locked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q

from vtu import clock
from vtu.models import DataPlan, Network, ProductKind, ProviderAttempt, ProviderPlan, ProviderState, Route
from vtu.services import snapshot
from vtu.services.calls import provider_configured, provider_supports

Circuit = ProviderState.Circuit


def failure_threshold() -> int:
    return getattr(settings, "PROVIDER_CIRCUIT_FAILURES", 5)


def cooldown() -> timedelta:
    return timedelta(seconds=getattr(settings, "PROVIDER_CIRCUIT_COOLDOWN_SECONDS", 60))


@dataclass(frozen=True)
class Candidate:
    provider: str
    cost_kobo: int
    provider_plan_id: str = ""  # data only
    priority: int = 0
    health: int = 100
    low_float: bool = False
    closed: bool = True  # breaker closed in the snapshot: no claim needed to send


def airtime_cost(face_value_kobo: int, cost_bps: int) -> int:
    """The provider's cost for airtime: its discount off face value, rounded up (never
    under-estimate a cost)."""
    return -(-face_value_kobo * cost_bps // 10_000)


def candidates(
    *, network: Network, product: str, plan: DataPlan | None = None, face_value_kobo: int | None = None
) -> list[Candidate]:
    """The providers that may take this purchase now, best first (from the catalogue snapshot)."""
    snap = snapshot.current()
    routes = [route for route in snap.routes if route.network_id == network.pk and route.product == product]
    return _rank(_usable(routes), snap.states, snap.mappings, product=product, plan=plan, face_value_kobo=face_value_kobo)


def primary_costs(plans: list[DataPlan]) -> dict[int, int]:
    """{plan id: cost at the provider that would take it first} for many data plans at once
    (the plan list), with the same rules as `candidates`; plans nobody can deliver are absent."""
    snap = snapshot.current()
    routes = _usable([route for route in snap.routes if route.product == ProductKind.DATA])
    costs: dict[int, int] = {}
    for plan in plans:
        mine = [route for route in routes if route.network_id == plan.network_id]
        ranked = _rank(mine, snap.states, snap.mappings, product=ProductKind.DATA, plan=plan)
        if ranked:
            costs[plan.pk] = ranked[0].cost_kobo
    return costs


def _usable(routes: list[Route]) -> list[Route]:
    return [
        route for route in routes
        if provider_configured(route.provider)
        and provider_supports(route.provider, kind=route.product, network=route.network.code)
    ]


def _rank(
    routes: list[Route],
    states: dict[str, ProviderState],
    mappings: dict[tuple[int, str], ProviderPlan],
    *,
    product: str,
    plan: DataPlan | None,
    face_value_kobo: int | None = None,
) -> list[Candidate]:
    now = clock.now()
    found: list[Candidate] = []
    for route in routes:
        state = states.get(route.provider)
        if state is not None and (not state.enabled or not _circuit_allows(state, now) or float_exhausted(state)):
            continue
        if product == ProductKind.DATA:
            mapping = mappings.get((plan.pk, route.provider)) if plan is not None else None
            if mapping is None or not route.plan_type_enabled(plan.plan_type):
                continue
            cost, plan_id = mapping.cost_kobo, mapping.provider_plan_id
        else:
            cost, plan_id = airtime_cost(face_value_kobo or 0, route.airtime_cost_bps), ""
        balance = state.last_balance_kobo if state is not None else None
        found.append(
            Candidate(
                provider=route.provider, cost_kobo=cost, provider_plan_id=plan_id, priority=route.priority,
                health=state.health_score if state is not None else 100,
                low_float=balance is not None and balance < cost,
                closed=state is None or state.circuit == Circuit.CLOSED,
            )
        )
    found.sort(key=lambda c: (c.low_float, c.priority, -c.health))
    return found


def float_exhausted(state: ProviderState) -> bool:
    """The last balance check found the float below PROVIDER_MIN_FLOAT_KOBO."""
    balance = state.last_balance_kobo
    return balance is not None and balance < getattr(settings, "PROVIDER_MIN_FLOAT_KOBO", 0)


def _circuit_allows(state: ProviderState, now: datetime) -> bool:
    if state.circuit == Circuit.CLOSED:
        return True
    if state.circuit == Circuit.OPEN:
        return state.opened_at is None or state.opened_at + cooldown() <= now
    # half open: one probe at a time; a probe that never reported back expires after the cool-down
    return state.probe_started_at is None or state.probe_started_at + cooldown() <= now


def circuit_claim(provider: str) -> bool:
    """May we send to `provider` now? Closed: yes. Open past its cool-down, or half-open with
    an expired probe: only the one caller whose conditional update wins becomes the probe."""
    state = ProviderState.objects.filter(provider=provider).first()
    if state is None or state.circuit == Circuit.CLOSED:
        return state is None or state.enabled
    now = clock.now()
    if not state.enabled or not _circuit_allows(state, now):
        return False
    rows = ProviderState.objects.filter(
        pk=state.pk, circuit=state.circuit, opened_at=state.opened_at, probe_started_at=state.probe_started_at
    ).update(circuit=Circuit.HALF_OPEN, probe_started_at=now)
    return rows == 1


_failed_here: set[str] = set()  # providers this process recorded a failure for since its last reset


def failures_on_record(provider: str) -> bool:
    """Whether a success must reset `provider`'s breaker: failures in the snapshot (other
    processes' failures reach it within its TTL) or recorded by this process. A healthy
    provider's success then costs no statement at all."""
    state = snapshot.current().states.get(provider)
    in_snapshot = state is not None and (state.circuit != Circuit.CLOSED or state.consecutive_failures > 0)
    return in_snapshot or provider in _failed_here


def circuit_record_success(provider: str) -> None:
    ProviderState.objects.filter(provider=provider).filter(
        ~Q(circuit=Circuit.CLOSED) | Q(consecutive_failures__gt=0)
    ).update(circuit=Circuit.CLOSED, consecutive_failures=0, opened_at=None, probe_started_at=None)
    _failed_here.discard(provider)


def circuit_record_failure(provider: str) -> None:
    """A provider-side failure (down, out of float, timeout, 5xx): count it; open the
    breaker at the threshold, or again at once when a half-open probe fails."""
    now = clock.now()
    _failed_here.add(provider)
    state, _ = ProviderState.objects.get_or_create(provider=provider)
    ProviderState.objects.filter(pk=state.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    ProviderState.objects.filter(pk=state.pk, circuit=Circuit.HALF_OPEN).update(
        circuit=Circuit.OPEN, opened_at=now, probe_started_at=None
    )
    ProviderState.objects.filter(
        pk=state.pk, circuit=Circuit.CLOSED, consecutive_failures__gte=failure_threshold()
    ).update(circuit=Circuit.OPEN, opened_at=now, probe_started_at=None)


def health_refresh(*, window: int = 100) -> dict[str, int]:
    """Recompute each provider's health (0-100) from its last `window` answered attempts:
    80 points for the success rate (provider-side failures and unknowns count against it,
    failures about the customer's input do not), 20 for median latency (full under 2 s,
    none at 30 s). Run by the sweeper, off the request path."""
    scores: dict[str, int] = {}
    now = clock.now()
    since = now - timedelta(hours=24)
    providers = ProviderAttempt.objects.filter(created_at__gte=since).values_list("provider", flat=True).distinct()
    for provider in providers:
        rows = list(
            ProviderAttempt.objects.filter(provider=provider, created_at__gte=since)
            .exclude(state=ProviderAttempt.State.SENDING)
            .order_by("-id")
            .values_list("state", "failover_allowed", "latency_ms")[:window]
        )
        good = sum(1 for state, _f, _l in rows if state in ("success", "pending") or (state == "failed" and not _f))
        rate_bps = (good * 10_000 // len(rows)) if rows else 10_000
        latencies = sorted(latency for _s, _f, latency in rows if latency is not None)
        p50 = latencies[len(latencies) // 2] if latencies else None
        speed = 1.0 if p50 is None or p50 <= 2000 else max(0.0, 1 - (p50 - 2000) / 28_000)
        score = round(rate_bps / 10_000 * 80 + speed * 20)
        ProviderState.objects.update_or_create(
            provider=provider,
            defaults={"health_score": score, "success_rate_bps": rate_bps, "latency_p50_ms": p50, "health_updated_at": now},
        )
        scores[provider] = score
    return scores
