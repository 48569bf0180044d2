"""Races on PostgreSQL (threads, real transactions): however many deliveries and status
polls arrive at once, one payment credits once (reference §9 cases 14, 15)."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import authenticate
from payments import recovery
from payments.models import Deposit, WebhookDelivery, WebhookEvent
from payments.tests.conftest import post_webhook
from payments.tests.helpers import BASE_URLS, body_of, funding_event, sign, verify_answer
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for
from wallets.tests.helpers import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)
DELIVERIES = 30
STATUS_POLLS = 4


class _AlwaysAdd:
    """The status endpoint's per-deposit rate limit, disabled so every poll races the webhook."""

    def add(self, *args, **kwargs):
        return True


@pytest.mark.parametrize("gateway", ["paystack", "monnify", "stripe", "flutterwave"])
def test_thirty_deliveries_and_status_polls_at_once_post_one_journal(user, make_deposit, http, gateway):
    from django.test import Client

    deposit = make_deposit(user, gateway)
    method, url, answer = verify_answer(gateway, deposit.reference)
    verifies = [http.add(method, url, json=answer)]
    if gateway == "flutterwave":  # the status poll has no transaction id yet: by tx_ref
        verifies.append(http.add("GET", f"{BASE_URLS['flutterwave']}/transactions/verify_by_reference", json=answer))
    payload, query = funding_event(gateway, deposit.reference)
    body = body_of(payload)
    headers = sign(gateway, body, query=query)

    def work(index: int):
        if index < DELIVERIES:
            return post_webhook(Client(), gateway, body, headers, query).status_code
        client = authenticate(APIClient(), user)
        return client.get(f"/api/v1/wallet/fund/{deposit.reference}").status_code

    with mock.patch("payments.selectors.cache", _AlwaysAdd()):
        results = run_concurrently(DELIVERIES + STATUS_POLLS, work)

    assert results == [200] * (DELIVERIES + STATUS_POLLS), results
    assert Journal.objects.filter(idempotency_key=f"fund:{gateway}:{deposit.reference}").count() == 1
    assert Journal.objects.filter(kind="deposit").count() == 1
    assert wallet_for(user).balance_kobo == 500_000
    assert WebhookEvent.objects.count() == 1
    verdicts = sorted(WebhookDelivery.objects.values_list("verdict", flat=True))
    assert verdicts == ["accepted"] + ["duplicate"] * (DELIVERIES - 1)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL and deposit.credited_kobo == 500_000
    # Credited only on the gateway's own answer. With Flutterwave a status poll (by tx_ref) may
    # credit first, and the webhook's task then finds the deposit settled and asks nothing more.
    assert sum(response.call_count for response in verifies) >= 1
    assert_ledger_invariants()


def test_a_sweep_skips_a_deposit_another_sweeper_holds(user, make_deposit):
    deposit = make_deposit(user, "paystack", next_check_at=timezone.now())
    locked, release = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                Deposit.objects.select_for_update().get(pk=deposit.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    try:
        claimed = recovery._claim_due_deposits(timezone.now())
    finally:
        release.set()
        thread.join(10)
    assert claimed == []
    assert recovery._claim_due_deposits(timezone.now()) == [deposit.pk]
