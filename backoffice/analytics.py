"""The business figures, computed once for the dashboard and the analytics API alike.

`report(start=, end=)` covers the Africa/Lagos calendar days start..end inclusive and
returns plain JSON types (integers for money and counts, basis points for rates, ISO
strings for times), so the page and `GET /api/v1/admin/analytics` show the same numbers.

Definitions (docs/backoffice.md has the long form):
- a purchase counts on the day it *completed* (`completed_at`: delivered or failed);
- sales, cost and margin: purchases whose status is `successful`; a purchase later reversed
  by its provider or refunded by staff leaves the sales and is counted under `reversed` /
  `refunded` (on its completion day), so re-running a past range after a refund changes it;
- success rate (basis points) = delivered / (delivered + failed), where delivered is
  successful, reversed or refunded (the provider did deliver); open purchases are excluded;
- per provider: attempts created in the range, success / (success + failed); unknown and
  pending attempts are shown, never counted as either;
- deposits: successful (or since reversed) deposits by the day they succeeded, credited
  amount and gateway fee per gateway;
- sales per product kind and per channel (web app or API key): successful purchases, as sales;
- queue, provider float (the provider's word and the ledger's float accounts), ledger check,
  open disputes and alerts are "now", whatever the range.

Each source model is looked up by label; a source that is not installed is listed under
`unavailable` rather than shown as zero.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

LAGOS = ZoneInfo("Africa/Lagos")
MAX_DAYS = 366
DELIVERED = ("successful", "reversed", "refunded")


class RangeTooLong(ValueError):
    pass


def _model(label: str) -> Any:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def lagos_today() -> date:
    return timezone.now().astimezone(LAGOS).date()


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start of `start`, start of the day after `end`) in Lagos, as aware datetimes."""
    if end < start:
        raise ValueError("the range ends before it starts")
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeTooLong(f"at most {MAX_DAYS} days")
    return datetime.combine(start, time.min, tzinfo=LAGOS), datetime.combine(end + timedelta(days=1), time.min, tzinfo=LAGOS)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _bps(part: int, whole: int) -> int | None:
    return part * 10_000 // whole if whole else None


def _sum(field: str, **filters: Any) -> Any:
    return Coalesce(Sum(field, filter=Q(**filters) if filters else None), 0)


# --- purchases ------------------------------------------------------------------------------


def _completed(purchase_model: Any, lo: datetime, hi: datetime) -> Any:
    return purchase_model.objects.filter(completed_at__gte=lo, completed_at__lt=hi)


def purchase_totals(purchase_model: Any, lo: datetime, hi: datetime) -> dict[str, Any]:
    totals = _completed(purchase_model, lo, hi).aggregate(
        sales_count=Count("id", filter=Q(status="successful")),
        sales_kobo=_sum("amount_kobo", status="successful"),
        cost_kobo=_sum("cost_kobo", status="successful"),
        margin_kobo=_sum("margin_kobo", status="successful"),
        failed_count=Count("id", filter=Q(status="failed")),
        reversed_count=Count("id", filter=Q(status="reversed")),
        reversed_kobo=_sum("amount_kobo", status="reversed"),
        refunded_count=Count("id", filter=Q(status="refunded")),
        refunded_kobo=_sum("amount_kobo", status="refunded"),
    )
    delivered = totals["sales_count"] + totals["reversed_count"] + totals["refunded_count"]
    totals["success_rate_bps"] = _bps(delivered, delivered + totals["failed_count"])
    return totals


def success_by_network(purchase_model: Any, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    rows = (
        _completed(purchase_model, lo, hi)
        .values("network__code")
        .annotate(delivered=Count("id", filter=Q(status__in=DELIVERED)), failed=Count("id", filter=Q(status="failed")))
        .order_by("network__code")
    )
    return [
        {
            "network": row["network__code"], "delivered": row["delivered"], "failed": row["failed"],
            "success_rate_bps": _bps(row["delivered"], row["delivered"] + row["failed"]),
        }
        for row in rows
    ]


def success_by_provider(attempt_model: Any, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    rows = (
        attempt_model.objects.filter(created_at__gte=lo, created_at__lt=hi)
        .values("provider")
        .annotate(
            success=Count("id", filter=Q(state="success")),
            failed=Count("id", filter=Q(state="failed")),
            open=Count("id", filter=Q(state__in=("sending", "pending", "unknown"))),
        )
        .order_by("provider")
    )
    return [
        {
            "provider": row["provider"], "success": row["success"], "failed": row["failed"], "open": row["open"],
            "success_rate_bps": _bps(row["success"], row["success"] + row["failed"]),
        }
        for row in rows
    ]


def purchases_daily(purchase_model: Any, lo: datetime, hi: datetime) -> dict[date, dict[str, int]]:
    rows = (
        _completed(purchase_model, lo, hi)
        .annotate(day=TruncDate("completed_at", tzinfo=LAGOS))
        .values("day")
        .annotate(
            sales_kobo=_sum("amount_kobo", status="successful"),
            margin_kobo=_sum("margin_kobo", status="successful"),
            delivered=Count("id", filter=Q(status__in=DELIVERED)),
            failed=Count("id", filter=Q(status="failed")),
        )
    )
    return {row.pop("day"): row for row in rows}


def sales_by(purchase_model: Any, lo: datetime, hi: datetime, field: str) -> list[dict[str, Any]]:
    """Successful purchases completed in the range per `field` (product kind, or channel:
    web = the app with a JWT, api = a reseller's API key)."""
    rows = (
        _completed(purchase_model, lo, hi).filter(status="successful")
        .values(field)
        .annotate(sales_count=Count("id"), sales_kobo=_sum("amount_kobo"), margin_kobo=_sum("margin_kobo"))
        .order_by(field)
    )
    return [dict(row) for row in rows]


def purchase_queue(purchase_model: Any) -> dict[str, int]:
    """Now: sent and waiting for a definitive answer (requery), not yet sent, and past the SLA."""
    return purchase_model.objects.filter(status__in=("pending", "processing")).aggregate(
        pending=Count("id", filter=Q(status="pending")),
        processing=Count("id", filter=Q(status="processing")),
        needs_review=Count("id", filter=Q(needs_review_at__isnull=False)),
    )


def purchase_queue_now() -> dict[str, int] | None:
    """purchase_queue() on its own (the dashboard's work list); None without the vtu app."""
    purchase = _model("vtu.Purchase")
    return purchase_queue(purchase) if purchase is not None else None


# --- deposits -------------------------------------------------------------------------------


def _succeeded(deposit_model: Any, lo: datetime, hi: datetime) -> Any:
    return deposit_model.objects.filter(status__in=("successful", "reversed"), succeeded_at__gte=lo, succeeded_at__lt=hi)


def deposit_totals(deposit_model: Any, lo: datetime, hi: datetime) -> dict[str, int]:
    return _succeeded(deposit_model, lo, hi).aggregate(
        count=Count("id"), credited_kobo=_sum("credited_kobo"), fee_kobo=_sum("fee_kobo"),
        reversed_count=Count("id", filter=Q(status="reversed")),
    )


def deposits_by_gateway(deposit_model: Any, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    rows = (
        _succeeded(deposit_model, lo, hi)
        .values("gateway")
        .annotate(
            count=Count("id"), credited_kobo=_sum("credited_kobo"), fee_kobo=_sum("fee_kobo"),
            reversed_count=Count("id", filter=Q(status="reversed")),
        )
        .order_by("gateway")
    )
    return [dict(row) for row in rows]


def deposits_daily(deposit_model: Any, lo: datetime, hi: datetime) -> dict[date, int]:
    rows = (
        _succeeded(deposit_model, lo, hi)
        .annotate(day=TruncDate("succeeded_at", tzinfo=LAGOS))
        .values("day")
        .annotate(credited_kobo=_sum("credited_kobo"))
    )
    return {row["day"]: row["credited_kobo"] for row in rows}


# --- "now" figures --------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def provider_float(state_model: Any) -> list[dict[str, Any]]:
    """What each provider last said our balance with it is (the balance-check task)."""
    return [
        {"provider": provider, "balance_kobo": balance, "checked_at": _iso(checked), "enabled": enabled, "circuit": circuit}
        for provider, balance, checked, enabled, circuit in state_model.objects.order_by("provider").values_list(
            "provider", "last_balance_kobo", "balance_checked_at", "enabled", "circuit"
        )
    ]


def ledger_float() -> list[dict[str, Any]]:
    """The books' side of provider float: the balance of each float:<provider> account
    (backoffice/ledger_float.py keeps it cheap)."""
    from backoffice.ledger_float import float_balances

    return [{"provider": provider, "balance_kobo": balance} for provider, balance in sorted(float_balances().items())]


def disputes_open(dispute_model: Any) -> dict[str, Any]:
    """Now: disputes waiting for staff, and since when the oldest has waited."""
    found = dispute_model.objects.filter(status="open").aggregate(open=Count("id"), oldest=Min("created_at"))
    return {"open": found["open"], "oldest_open_at": _iso(found["oldest"])}


def ledger_check(check_model: Any) -> dict[str, Any] | None:
    latest = check_model.objects.filter(finished_at__isnull=False).order_by("-id").first()
    if latest is None:
        return None
    return {"ok": latest.ok, "finished_at": _iso(latest.finished_at), "finding_count": latest.finding_count}


def alerts_open() -> dict[str, int]:
    from config.models import Alert

    rows = Alert.objects.filter(resolved_at__isnull=True).values("severity").annotate(n=Count("id"))
    by_severity = {row["severity"]: row["n"] for row in rows}
    return {"total": sum(by_severity.values()), **{sev: by_severity.get(sev, 0) for sev in Alert.Severity.values}}


# --- the report -----------------------------------------------------------------------------


def _daily(start: date, end: date, purchases: dict[date, dict[str, int]] | None, deposits: dict[date, int] | None) -> list[dict[str, Any]]:
    empty = {"sales_kobo": 0, "margin_kobo": 0, "delivered": 0, "failed": 0}
    series = []
    for day in _days(start, end):
        row: dict[str, Any] = {"date": day.isoformat()}
        if purchases is not None:
            row.update(purchases.get(day, empty))
        if deposits is not None:
            row["deposits_kobo"] = deposits.get(day, 0)
        series.append(row)
    return series


def report(*, start: date, end: date) -> dict[str, Any]:
    """Every figure for the Lagos days start..end (inclusive). Raises ValueError (or
    RangeTooLong) for a reversed or over-long range."""
    lo, hi = bounds(start, end)
    purchase, attempt = _model("vtu.Purchase"), _model("vtu.ProviderAttempt")
    deposit, state, check = _model("payments.Deposit"), _model("vtu.ProviderState"), _model("wallets.LedgerCheck")
    dispute = _model("vtu.Dispute")
    sources = {
        "purchases": purchase, "provider_attempts": attempt, "deposits": deposit, "provider_float": state,
        "ledger_check": check, "disputes": dispute,
    }
    result: dict[str, Any] = {
        "range": {"from": start.isoformat(), "to": end.isoformat(), "timezone": "Africa/Lagos"},
        "unavailable": sorted(name for name, model in sources.items() if model is None),
        "alerts_open": alerts_open(),
    }
    if purchase is not None:
        result["purchases"] = purchase_totals(purchase, lo, hi)
        result["success_by_network"] = success_by_network(purchase, lo, hi)
        result["sales_by_product"] = sales_by(purchase, lo, hi, "product")
        result["sales_by_channel"] = sales_by(purchase, lo, hi, "channel")
        result["queue"] = purchase_queue(purchase)
    if attempt is not None:
        result["success_by_provider"] = success_by_provider(attempt, lo, hi)
    if deposit is not None:
        result["deposits"] = deposit_totals(deposit, lo, hi)
        result["deposits_by_gateway"] = deposits_by_gateway(deposit, lo, hi)
    if state is not None:
        result["provider_float"] = provider_float(state)
    if check is not None:
        result["ledger_check"] = ledger_check(check)
        result["ledger_float"] = ledger_float()
    if dispute is not None:
        result["disputes"] = disputes_open(dispute)
    result["daily"] = _daily(
        start, end,
        purchases_daily(purchase, lo, hi) if purchase is not None else None,
        deposits_daily(deposit, lo, hi) if deposit is not None else None,
    )
    return result
