"""Hot system accounts are not updated on the hot path; no HTTP inside a transaction."""

from __future__ import annotations

import re

import pytest
import requests
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from config.http import HTTPInsideTransaction, outbound_request
from wallets.models import LedgerAccount
from wallets.selectors import account_balance_kobo, system_balances
from wallets.services import Leg, hold_capture, hold_place, system_account, wallet_get_or_create
from wallets.tests.factories import fund_wallet

UPDATE_ACCOUNT = re.compile(r'UPDATE "?wallets_ledgeraccount"? .*WHERE .*"?id"? = (\d+)', re.S)
LOCK_ACCOUNT = re.compile(r'FROM "?wallets_ledgeraccount"? .*FOR (NO KEY )?UPDATE', re.S)


@pytest.mark.django_db
def test_a_capture_issues_no_update_on_a_system_account_row(user):
    fund_wallet(user, 10_000)
    wallet = wallet_get_or_create(user_id=user.pk)
    hold_place(account_id=wallet.pk, amount_kobo=5000, reference="HOT-1")
    float_account, revenue = system_account("float:vtpass"), system_account("revenue")
    with CaptureQueriesContext(connection) as queries:
        hold_capture(
            reference="HOT-1", key="capture:HOT-1", credit_legs=[Leg(float_account.pk, 4500), Leg(revenue.pk, 500)]
        )
    sql = [query["sql"] for query in queries.captured_queries]
    updated = {int(match.group(1)) for statement in sql if (match := UPDATE_ACCOUNT.search(statement))}
    assert updated == {wallet.pk}, sql  # the wallet row only; the test can fail: it sees the wallet's UPDATE
    assert not [statement for statement in sql if LOCK_ACCOUNT.search(statement)]
    assert LedgerAccount.objects.get(pk=revenue.pk).balance_kobo == 0  # the row stays 0 ...
    assert account_balance_kobo(revenue) == 500  # ... the balance is derived from entries
    assert system_balances()["float:vtpass"] == 4500


@pytest.mark.django_db
def test_outbound_http_inside_a_transaction_fails():
    with transaction.atomic():
        with pytest.raises(HTTPInsideTransaction):
            outbound_request("GET", "http://127.0.0.1:9/", service="test", timeout=(0.5, 0.5))
        with pytest.raises(HTTPInsideTransaction):
            requests.get("http://127.0.0.1:9/", timeout=0.5)  # the suite-wide patch catches plain requests too
    with pytest.raises(requests.ConnectionError):  # outside a transaction the call is attempted
        outbound_request("GET", "http://127.0.0.1:9/", service="test", timeout=(0.5, 0.5))
