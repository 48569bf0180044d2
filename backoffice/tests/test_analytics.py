"""The figures, exactly, for a known fixture: analytics.report(), the staff API and the
dashboard show the same numbers."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from rest_framework.test import APIClient

from backoffice import analytics
from backoffice.tests import known_fixture
from backoffice.tests.factories import staff_user
from conftest import authenticate

pytestmark = pytest.mark.django_db
D = known_fixture.D
MONTH_START = D - timedelta(days=29)

FLOAT = [
    {"provider": "amigo", "balance_kobo": 5_000_000, "checked_at": "2026-11-20T07:00:00+00:00", "enabled": True, "circuit": "closed"},
    {"provider": "vtpass", "balance_kobo": None, "checked_at": None, "enabled": False, "circuit": "open"},
]
NOW_FIGURES = {
    "alerts_open": {"total": 2, "info": 0, "warning": 1, "critical": 1},
    "queue": {"pending": 1, "processing": 2, "needs_review": 1},
    "provider_float": FLOAT,
    "ledger_check": {"ok": False, "finished_at": "2026-11-20T07:01:00+00:00", "finding_count": 2},
    "unavailable": [],
    "disputes": {"open": 1, "oldest_open_at": "2026-11-20T10:00:00+00:00"},
}
# The books' float per provider (known_fixture.ledger_float_postings); every other float
# account the migrations created is at zero.
LEDGER_FLOAT = {"amigo": 29_000, "vtpass": 4_800}


def with_ledger_float(expected: dict) -> dict:
    from wallets.models import LedgerAccount

    names = sorted(code.removeprefix("float:") for code in
                   LedgerAccount.objects.filter(code__startswith="float:").values_list("code", flat=True))
    return {**expected, "ledger_float": [{"provider": name, "balance_kobo": LEDGER_FLOAT.get(name, 0)} for name in names]}


def _day(day: date, sales=0, margin=0, delivered=0, failed=0, deposits=0) -> dict:
    return {"date": day.isoformat(), "sales_kobo": sales, "margin_kobo": margin, "delivered": delivered,
            "failed": failed, "deposits_kobo": deposits}


EXPECTED_TODAY = {
    **NOW_FIGURES,
    "range": {"from": "2026-11-20", "to": "2026-11-20", "timezone": "Africa/Lagos"},
    # Attempts created on D (Lagos), the 00:05 one included; not D-5's, not D+1's.
    "success_by_provider": [
        {"provider": "amigo", "success": 3, "failed": 1, "open": 1, "success_rate_bps": 7500},
        {"provider": "vtpass", "success": 1, "failed": 1, "open": 1, "success_rate_bps": 5000},
    ],
    "purchases": {
        "sales_count": 3, "sales_kobo": 35_000, "cost_kobo": 33_900, "margin_kobo": 1_100, "failed_count": 1,
        "reversed_count": 0, "reversed_kobo": 0, "refunded_count": 0, "refunded_kobo": 0, "success_rate_bps": 7500,
    },
    "success_by_network": [
        {"network": "GLO", "delivered": 1, "failed": 0, "success_rate_bps": 10_000},
        {"network": "MTN", "delivered": 2, "failed": 1, "success_rate_bps": 6666},
    ],
    "sales_by_product": [
        {"product": "airtime", "sales_count": 2, "sales_kobo": 15_000, "margin_kobo": 500},
        {"product": "data", "sales_count": 1, "sales_kobo": 20_000, "margin_kobo": 600},
    ],
    "sales_by_channel": [
        {"channel": "api", "sales_count": 1, "sales_kobo": 5_000, "margin_kobo": 200},
        {"channel": "web", "sales_count": 2, "sales_kobo": 30_000, "margin_kobo": 900},
    ],
    "deposits": {"count": 1, "credited_kobo": 100_000, "fee_kobo": 1_500, "reversed_count": 0},
    "deposits_by_gateway": [{"gateway": "paystack", "count": 1, "credited_kobo": 100_000, "fee_kobo": 1_500, "reversed_count": 0}],
    "daily": [_day(D, sales=35_000, margin=1_100, delivered=3, failed=1, deposits=100_000)],
}

_special = {
    D: _day(D, sales=35_000, margin=1_100, delivered=3, failed=1, deposits=100_000),
    D - timedelta(days=1): _day(D - timedelta(days=1), sales=50_000, margin=2_000, delivered=3, deposits=200_000),
    D - timedelta(days=2): _day(D - timedelta(days=2), deposits=50_000),
    D - timedelta(days=3): _day(D - timedelta(days=3), deposits=30_000),
}
EXPECTED_MONTH = {
    **NOW_FIGURES,
    "range": {"from": "2026-10-22", "to": "2026-11-20", "timezone": "Africa/Lagos"},
    # Today's attempts plus D-5's (amigo failed, vtpass success); not D-35's, not D+1's.
    "success_by_provider": [
        {"provider": "amigo", "success": 3, "failed": 2, "open": 1, "success_rate_bps": 6000},
        {"provider": "vtpass", "success": 2, "failed": 1, "open": 1, "success_rate_bps": 6666},
    ],
    "purchases": {
        "sales_count": 4, "sales_kobo": 85_000, "cost_kobo": 81_900, "margin_kobo": 3_100, "failed_count": 1,
        "reversed_count": 1, "reversed_kobo": 30_000, "refunded_count": 1, "refunded_kobo": 40_000, "success_rate_bps": 8571,
    },
    "success_by_network": [
        {"network": "AIRTEL", "delivered": 2, "failed": 0, "success_rate_bps": 10_000},
        {"network": "GLO", "delivered": 2, "failed": 0, "success_rate_bps": 10_000},
        {"network": "MTN", "delivered": 2, "failed": 1, "success_rate_bps": 6666},
    ],
    "sales_by_product": [
        {"product": "airtime", "sales_count": 3, "sales_kobo": 65_000, "margin_kobo": 2_500},
        {"product": "data", "sales_count": 1, "sales_kobo": 20_000, "margin_kobo": 600},
    ],
    "sales_by_channel": [
        {"channel": "api", "sales_count": 1, "sales_kobo": 5_000, "margin_kobo": 200},
        {"channel": "web", "sales_count": 3, "sales_kobo": 80_000, "margin_kobo": 2_900},
    ],
    "deposits": {"count": 4, "credited_kobo": 380_000, "fee_kobo": 2_250, "reversed_count": 1},
    "deposits_by_gateway": [
        {"gateway": "flutterwave", "count": 1, "credited_kobo": 30_000, "fee_kobo": 0, "reversed_count": 1},
        {"gateway": "monnify", "count": 1, "credited_kobo": 200_000, "fee_kobo": 0, "reversed_count": 0},
        {"gateway": "paystack", "count": 2, "credited_kobo": 150_000, "fee_kobo": 2_250, "reversed_count": 0},
    ],
    "daily": [_special.get(MONTH_START + timedelta(days=i), _day(MONTH_START + timedelta(days=i))) for i in range(30)],
}


@pytest.fixture
def fixture_day(monkeypatch):
    from vtu.models import ProviderState

    ProviderState.objects.all().delete()  # only the fixture's providers
    known_fixture.build()
    monkeypatch.setattr(analytics, "lagos_today", lambda: D)


def test_the_report_for_today_is_exact(fixture_day):
    assert analytics.report(start=D, end=D) == with_ledger_float(EXPECTED_TODAY)


def test_the_report_for_thirty_days_is_exact(fixture_day):
    assert analytics.report(start=MONTH_START, end=D) == with_ledger_float(EXPECTED_MONTH)


def test_an_empty_range_has_zeros_and_no_rates(fixture_day):
    report = analytics.report(start=date(2025, 1, 1), end=date(2025, 1, 2))
    assert report["purchases"]["sales_kobo"] == 0 and report["purchases"]["success_rate_bps"] is None
    assert report["success_by_network"] == [] and report["deposits_by_gateway"] == []
    assert [row["date"] for row in report["daily"]] == ["2025-01-01", "2025-01-02"]


def test_the_api_answers_the_same_figures(fixture_day):
    client = authenticate(APIClient(), staff_user("finance"))
    response = client.get("/api/v1/admin/analytics", {"date_from": MONTH_START.isoformat(), "date_to": D.isoformat()})
    assert response.status_code == 200
    assert response.json() == with_ledger_float(EXPECTED_MONTH)
    default = client.get("/api/v1/admin/analytics")  # the last 30 Lagos days
    assert default.json() == with_ledger_float(EXPECTED_MONTH)
    today = client.get("/api/v1/admin/analytics", {"date_from": D.isoformat(), "date_to": D.isoformat()})
    assert today.json() == with_ledger_float(EXPECTED_TODAY)


@pytest.mark.parametrize(
    "params",
    [{"date_from": "2026-11-21", "date_to": "2026-11-20"}, {"date_from": "2024-01-01", "date_to": "2026-11-20"},
     {"date_from": "yesterday"}, {"date_to": "2026-13-01"}],
)
def test_the_api_refuses_a_bad_range(fixture_day, params):
    client = authenticate(APIClient(), staff_user("admin"))
    response = client.get("/api/v1/admin/analytics", params)
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"


def test_support_has_no_figures():
    response = authenticate(APIClient(), staff_user("support")).get("/api/v1/admin/analytics")
    assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED")


def _card(html: str, card_id: str) -> str:
    match = re.search(rf'id="{card_id}"><div class="label">[^<]*</div>\s*<div class="value[^"]*">(?:<a [^>]*>)?([^<]*)<', html)
    assert match, card_id
    return match.group(1)


def test_the_dashboard_shows_the_same_figures_and_charts(fixture_day, client):
    client.force_login(staff_user("finance"))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response.context["today"] == with_ledger_float(EXPECTED_TODAY)
    assert response.context["month"] == with_ledger_float(EXPECTED_MONTH)
    html = response.content.decode()
    assert _card(html, "today-sales") == "₦350.00"
    assert _card(html, "today-margin") == "₦11.00"
    assert _card(html, "today-success") == "75.00%"
    assert _card(html, "month-sales") == "₦850.00"
    assert _card(html, "month-margin") == "₦31.00"
    assert _card(html, "month-success") == "85.71%"
    assert _card(html, "month-refunds") == "₦300.00 / ₦400.00"
    assert _card(html, "month-deposits") == "₦3,800.00"
    assert _card(html, "queue-processing") == "2" and _card(html, "queue-review") == "1" and _card(html, "queue-pending") == "1"
    assert '?flagged=yes">1</a>' in html and '?status__exact=processing">2</a>' in html
    assert ('<td>amigo</td><td class="num">3</td><td class="num">2</td><td class="num">1</td>'
            '<td class="num">60.00%</td>') in html  # per provider, 30 days
    assert "2 findings" in _card(html, "ledger-check")
    assert "<td>paystack</td><td class=\"num\">2</td><td class=\"num\">₦1,500.00</td>" in html
    assert "<td>amigo</td><td class=\"num\">₦50,000.00</td>" in html
    assert html.count("<figure class=\"chart\">") == 4 and html.count("<rect ") == sum(len(c.bars) for c in response.context["charts"])
    charts = response.context["charts"]
    assert [chart.title for chart in charts] == [
        "Sales per day", "Margin per day", "Purchases per day (delivered, failed)", "Deposits credited per day",
    ]
    sales = charts[0]
    assert sales.max_label == "₦500.00" and len(sales.bars) == 2  # two days with sales
    assert "11-20: ₦350.00" in html
    assert "2 open alerts" in html and "amigo float low" in html


def test_support_sees_the_banner_and_app_list_but_no_figures(fixture_day, client):
    client.force_login(staff_user("support"))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response.context["show_figures"] is False
    html = response.content.decode()
    assert 'id="dashboard"' not in html and 'class="chart"' not in html and "₦" not in html
    assert "2 open alerts" in html
    # Their work list, counts only: purchases waiting for a requery and past the SLA.
    assert 'id="work-queue"' in html
    assert (_card(html, "queue-processing"), _card(html, "queue-pending"), _card(html, "queue-review")) == ("2", "1", "1")
