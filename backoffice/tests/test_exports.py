"""CSV exports of transactions and purchases for a date range: finance and admin only, every
export audited (staff.export) with its range and row count, exact rows, no formula injection."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditLog
from backoffice.tests import known_fixture
from backoffice.tests.factories import staff_user
from wallets.models import Journal
from wallets.tests.factories import fund_wallet

pytestmark = pytest.mark.django_db
URL = reverse("admin:exports")
D = known_fixture.D


def browser(group: str) -> Client:
    client = Client()
    client.force_login(staff_user(group))
    return client


def download(client: Client, **form: str) -> list[dict[str, str]]:
    response = client.post(URL, form)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8", response.content[:500]
    assert response["Content-Disposition"].startswith(f'attachment; filename="{form["kind"]}-')
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_purchases_for_a_range_exactly(db):
    known_fixture.build()
    rows = download(browser("finance"), kind="purchases", date_from=D.isoformat(), date_to=D.isoformat())

    # Made on D (Lagos): p1, p2, p3, p4 (by completion), and the three open ones; not D-1, D-40 or D+1.
    assert [(row["status"], row["network"], row["amount_kobo"], row["margin_kobo"]) for row in rows] == [
        ("successful", "MTN", "10000", "300"), ("successful", "MTN", "20000", "600"),
        ("successful", "GLO", "5000", "200"), ("failed", "MTN", "10000", "300"),
        ("processing", "MTN", "10000", "300"), ("pending", "GLO", "10000", "300"),
        ("processing", "AIRTEL", "10000", "300"),
    ]
    assert rows[1]["plan"] == "MTN_1GB_30D" and rows[2]["channel"] == "api"
    assert rows[2]["created_at"] == "2026-11-20T00:30:00+01:00"  # Lagos time
    row = AuditLog.objects.get(action="staff.export")
    assert row.changes == {"kind": "purchases", "date_from": "2026-11-20", "date_to": "2026-11-20", "rows": 7}
    assert row.actor_kind == "staff"


def test_transactions_are_ledger_entries_with_their_journal(user):
    fund_wallet(user, 12_345, reference="=HYPERLINK(evil)")
    journal = Journal.objects.get(idempotency_key="bankfund:=HYPERLINK(evil)")
    today = journal.created_at.astimezone(known_fixture.LAGOS).date().isoformat()

    rows = download(browser("admin"), kind="transactions", date_from=today, date_to=today)

    assert sorted((row["account_kind"], row["amount_kobo"]) for row in rows) == [("customer", "12345"), ("system", "-12345")]
    assert {row["journal_key"] for row in rows} == {"bankfund:=HYPERLINK(evil)"}  # starts with "b": left as is
    assert {row["reference"] for row in rows} == {"'=HYPERLINK(evil)"}  # a formula is neutralised
    assert AuditLog.objects.get(action="staff.export").changes["rows"] == 2


def test_support_cannot_export_and_bad_ranges_audit_nothing(db):
    assert browser("support").get(URL).status_code == 403
    assert browser("support").post(URL, {"kind": "purchases", "date_from": "2026-01-01", "date_to": "2026-01-02"}).status_code == 403
    finance = browser("finance")
    assert finance.get(URL).status_code == 200
    for form in ({"kind": "purchases", "date_from": "2026-02-01", "date_to": "2026-01-01"},
                 {"kind": "purchases", "date_from": "2024-01-01", "date_to": "2026-01-01"},
                 {"kind": "secrets", "date_from": "2026-01-01", "date_to": "2026-01-01"}):
        response = finance.post(URL, form)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert not AuditLog.objects.filter(action="staff.export").exists()
