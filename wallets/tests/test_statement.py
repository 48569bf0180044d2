"""GET /api/v1/wallet/statement?format=csv over its row limit: refused, never cut short."""

from __future__ import annotations

import csv
import io

import pytest

from wallets import apis
from wallets.tests.factories import fund_wallet
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db


def test_a_csv_statement_over_the_row_limit_is_refused_not_truncated(user, user_client, monkeypatch):
    monkeypatch.setattr(apis, "CSV_MAX_ROWS", 3)
    for n in range(3):
        fund_wallet(user, 1000, reference=f"dep-{n}")
    at_limit = user_client.get("/api/v1/wallet/statement?format=csv")
    assert at_limit.status_code == 200
    rows = list(csv.reader(io.StringIO(at_limit.content.decode())))
    assert [row[5] for row in rows[1:]] == ["1000", "2000", "3000"]  # every entry, up to the closing balance
    fund_wallet(user, 1000, reference="dep-3")
    before = snapshot()
    over = user_client.get("/api/v1/wallet/statement?format=csv")
    assert over.status_code == 400 and over["Content-Type"].startswith("application/json")
    body = over.json()
    assert body["error_code"] == "STATEMENT_TOO_LARGE" and body["errors"] == {"max_rows": 3}
    assert "shorter date range" in body["detail"]
    assert snapshot() == before
    paged = user_client.get("/api/v1/wallet/statement?page_size=100").json()  # JSON pages are not limited
    assert paged["closing_balance"] == 4000 and len(paged["results"]) == 4
