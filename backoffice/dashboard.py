"""The admin index as a dashboard: today and the last 30 days from backoffice.analytics (the
same figures as the analytics API), charts as server-side SVG, and the open alerts (the
banner on every page). Staff without the figures see the purchase queue only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest

from backoffice import analytics, charts
from backoffice.templatetags.backoffice_format import naira
from config.models import Alert

DASHBOARD_DAYS = 30
BANNER_ALERTS = 5


def open_alerts_banner() -> dict[str, Any]:
    """The newest open alerts (most severe first) and how many are open in all."""
    open_alerts = Alert.objects.filter(resolved_at__isnull=True)
    severity_rank = {"critical": 0, "warning": 1, "info": 2}
    newest = sorted(open_alerts.order_by("-last_seen_at")[:50], key=lambda a: (severity_rank.get(a.severity, 3), -a.last_seen_at.timestamp()))
    return {"count": open_alerts.count(), "items": newest[:BANNER_ALERTS]}


def _charts(month: dict[str, Any]) -> list[charts.Chart]:
    daily = month["daily"]
    labels = [row["date"][5:] for row in daily]  # MM-DD
    made = []
    if "purchases" in month:
        made.append(charts.stacked_bars(
            title="Sales per day", labels=labels, series=[("bar-sales", [row["sales_kobo"] for row in daily])], fmt=naira
        ))
        made.append(charts.stacked_bars(
            title="Margin per day", labels=labels, series=[("bar-margin", [row["margin_kobo"] for row in daily])], fmt=naira
        ))
        made.append(charts.stacked_bars(
            title="Purchases per day (delivered, failed)", labels=labels,
            series=[("bar-ok", [row["delivered"] for row in daily]), ("bar-failed", [row["failed"] for row in daily])],
        ))
    if "deposits_by_gateway" in month:
        made.append(charts.stacked_bars(
            title="Deposits credited per day", labels=labels,
            series=[("bar-deposits", [row["deposits_kobo"] for row in daily])], fmt=naira,
        ))
    return made


def float_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per provider: what it last reported and what the books say (float:<provider>)."""
    reported = {row["provider"]: row for row in report.get("provider_float") or []}
    books = {row["provider"]: row["balance_kobo"] for row in report.get("ledger_float") or []}
    return [
        {"provider": name, "reported": reported.get(name), "ledger_kobo": books.get(name)}
        for name in sorted(set(reported) | {name for name, balance in books.items() if balance})
    ]


def _work_queue(request: HttpRequest) -> dict[str, int] | None:
    """Staff without the figures (support) still see the purchases waiting on someone: it is
    their work list. Counts only, no money."""
    if not request.user.has_perm("vtu.view_purchase"):
        return None
    return analytics.purchase_queue_now()


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    if not request.user.has_perm("backoffice.analytics_view"):
        return {"show_figures": False, "queue": _work_queue(request)}
    today = analytics.lagos_today()
    today_report = analytics.report(start=today, end=today)
    month_report = analytics.report(start=today - timedelta(days=DASHBOARD_DAYS - 1), end=today)
    return {
        "show_figures": True,
        "today": today_report,
        "month": month_report,
        "charts": _charts(month_report),
        "float_rows": float_rows(month_report),
        "can_export": request.user.has_perm("backoffice.data_export"),
    }
