"""The beat sweeper (every 30 s) and the provider balance check (DESIGN §8).

`purchases_sweep` claims due purchases with SELECT ... FOR UPDATE SKIP LOCKED (two beats or
a slow run never take the same rows), pushes their next_check_at out by a lease, and
dispatches after commit: `pending` ones (the outbox: created but never picked up) to the
worker again, `processing` ones to a requery. It then flags purchases past their SLA
(needs_review_at + one deduplicated alert; the hold stays), raises the two aging alerts of R5
(open purchases older than 15 minutes: warning; older than 2 hours: critical; each resolved
when none is that old) and refreshes provider health.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q

from config.alerts import alert_raise, alert_resolve
from vtu import clock
from vtu.models import ProviderState, Purchase, Route
from vtu.services import dispatch, routing, snapshot
from vtu.services.calls import CallRecorder, provider_configured, provider_get
from vtu.services.notify import naira

log = structlog.get_logger("vtu.sweeper")
Status = Purchase.Status
LEASE = timedelta(minutes=2)  # a claimed purchase is not claimed again before this


@dataclass
class SweepReport:
    dispatched: list[int] = field(default_factory=list)
    requeried: list[int] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    aging: dict[int, int] = field(default_factory=dict)  # tier minutes -> open purchases older than it


def purchases_sweep(*, limit: int = 200) -> SweepReport:
    report = SweepReport()
    now = clock.now()
    with transaction.atomic():
        due = list(
            Purchase.objects.select_for_update(skip_locked=True)
            .filter(status__in=Purchase.OPEN_STATUSES, next_check_at__lte=now)
            .order_by("next_check_at")
            .values_list("id", "status")[:limit]
        )
        if due:
            Purchase.objects.filter(pk__in=[pk for pk, _ in due]).update(next_check_at=now + LEASE)
        report.dispatched = [pk for pk, status in due if status == Status.PENDING]
        report.requeried = [pk for pk, status in due if status == Status.PROCESSING]
        transaction.on_commit(lambda: _dispatch(report))
    report.flagged = _flag_past_sla(now)
    report.aging = _alert_aging(now)
    routing.health_refresh()
    return report


def _dispatch(report: SweepReport) -> None:
    from vtu.tasks import purchase_process, purchase_requery

    for pk in report.dispatched:  # a lost send is claimed again when its lease runs out
        dispatch.send_now(purchase_process, pk)
    for pk in report.requeried:
        dispatch.send_now(purchase_requery, pk, "due")


def _flag_past_sla(now: datetime) -> list[str]:
    """Open purchases older than the SLA get needs_review_at (once) and staff an alert."""
    cutoff = now - timedelta(minutes=settings.PURCHASE_SLA_MINUTES)
    with transaction.atomic():
        late = list(
            Purchase.objects.select_for_update(skip_locked=True)
            .filter(status__in=Purchase.OPEN_STATUSES, needs_review_at__isnull=True, created_at__lt=cutoff)
            .values_list("id", "reference")[:500]
        )
        if not late:
            if not Purchase.objects.filter(status__in=Purchase.OPEN_STATUSES, needs_review_at__isnull=False).exists():
                alert_resolve(dedupe_key="purchases_past_sla")
            return []
        Purchase.objects.filter(pk__in=[pk for pk, _ in late]).update(needs_review_at=now)
        waiting = Purchase.objects.filter(status__in=Purchase.OPEN_STATUSES, needs_review_at__isnull=False).count()
        references = [reference for _, reference in late]
        alert_raise(
            kind="purchase_sla", dedupe_key="purchases_past_sla",
            message=f"{waiting} purchase(s) past the {settings.PURCHASE_SLA_MINUTES}-minute SLA need review "
            "(holds kept; requery or resolve in the admin)",
            details={"newly_flagged": ", ".join(references[:20]), "count_waiting": waiting},
        )
    log.warning("purchases_past_sla", count=len(references))
    return references


def aging_tiers() -> tuple[tuple[int, str], ...]:
    return (
        (settings.PURCHASE_AGING_WARNING_MINUTES, "warning"),
        (settings.PURCHASE_AGING_CRITICAL_MINUTES, "critical"),
    )


def _alert_aging(now: datetime) -> dict[int, int]:
    """One query (index purchase_status_created_idx) for both tiers; one deduplicated alert per
    tier (`purchases_aging_<minutes>m`): opened once, mailed once, resolved when it clears."""
    tiers = aging_tiers()
    cutoffs = {minutes: now - timedelta(minutes=minutes) for minutes, _severity in tiers}
    counts = Purchase.objects.filter(status__in=Purchase.OPEN_STATUSES).aggregate(
        oldest=Min("created_at"), **{f"t{m}": Count("id", filter=Q(created_at__lt=c)) for m, c in cutoffs.items()}
    )
    found: dict[int, int] = {}
    for minutes, severity in tiers:
        key, count = f"purchases_aging_{minutes}m", counts[f"t{minutes}"]
        found[minutes] = count
        if not count:
            alert_resolve(dedupe_key=key)
            continue
        alert_raise(
            kind="purchase_aging", dedupe_key=key, severity=severity,
            message=f"{count} purchase(s) without a final answer for over {minutes} minutes (holds kept; "
            "the requery engine keeps asking; see the review queue)",
            details={"count": count, "oldest_created_at": counts["oldest"].isoformat(), "minutes": minutes},
        )
    return found


def provider_balances_check() -> dict[str, int | None]:
    """Poll each routed provider's float (outside any transaction); store it for routing and
    the dashboard; alert below LOW_FLOAT_ALERT_KOBO, resolve the alert when topped up."""
    balances: dict[str, int | None] = {}
    for name in sorted(set(Route.objects.filter(enabled=True).values_list("provider", flat=True))):
        if not provider_configured(name):
            continue
        recorder = CallRecorder()
        try:
            balance = provider_get(name, recorder).balance_kobo()
        except Exception as exc:  # noqa: BLE001 - one provider's failure must not stop the others
            log.warning("provider_balance_failed", provider=name, error=type(exc).__name__)
            balances[name] = None
            continue
        finally:
            recorder.flush()
        balances[name] = balance
        ProviderState.objects.update_or_create(
            provider=name, defaults={"last_balance_kobo": balance, "balance_checked_at": clock.now()}
        )
        _alert_float(name, balance)
    snapshot.forget()  # this process routes on the new balances at once; others within their TTL
    return balances


def _alert_float(name: str, balance: int) -> None:
    """`low_float:<provider>` below LOW_FLOAT_ALERT_KOBO (top it up soon); the critical
    `float_exhausted:<provider>` below PROVIDER_MIN_FLOAT_KOBO, where routing skips it."""
    levels = (
        ("low_float", settings.LOW_FLOAT_ALERT_KOBO, "warning", ""),
        ("float_exhausted", settings.PROVIDER_MIN_FLOAT_KOBO, "critical", "; routing skips it until topped up"),
    )
    for kind, floor, severity, consequence in levels:
        key = f"{kind}:{name}"
        if balance >= floor:
            alert_resolve(dedupe_key=key)
            continue
        alert_raise(
            kind=kind, dedupe_key=key, severity=severity,
            message=f"{name} float is {naira(balance)}, below {naira(floor)}{consequence}",
            details={"provider": name, "balance_kobo": balance},
        )
