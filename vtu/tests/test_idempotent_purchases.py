"""A purchase's Idempotency-Key answer is stored in the purchase's own transaction
(`@idempotent(answer_with_result=True)`): the first answer replays unchanged, a refusal stays
a refusal even if the repeat would now succeed, and twins sent at once buy once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import PIN, UserFactory
from config.models import IdempotencyRecord
from conftest import authenticate
from vtu.models import Purchase
from vtu.tests.conftest import MTN_NUMBER, PLAN, assert_nothing_moved, wallet_state
from wallets.invariants import assert_ledger_invariants
from wallets.models import Hold
from wallets.tests.factories import fund_wallet

DATA_URL = "/api/v1/data/purchase"


def body(**overrides):
    return {"plan_code": PLAN, "phone_number": MTN_NUMBER, "pin": PIN, **overrides}


@pytest.mark.django_db
def test_the_answer_is_stored_with_the_purchase_and_replays_unchanged(buyer, world, vtu_clock, monkeypatch):
    from vtu.services import purchases

    at_commit: list[int | None] = []
    real_dispatch = purchases._dispatch

    def dispatch(purchase):  # runs right after the purchase's commit
        at_commit.append(IdempotencyRecord.objects.get(key="order-1").status_code)
        real_dispatch(purchase)

    monkeypatch.setattr(purchases, "_dispatch", dispatch)
    client = authenticate(APIClient(), buyer)

    first = client.post(DATA_URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    purchase = Purchase.objects.get(reference=first.json()["reference"])
    replay = client.post(DATA_URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == 202 and first.json()["status"] == "pending"  # as accepted
    assert at_commit == [202]  # committed with the purchase, not stored afterwards
    assert purchase.status == "successful"  # the worker ran after commit (eager in tests)
    record = IdempotencyRecord.objects.get(key="order-1")
    assert (record.status_code, record.response_body) == (202, first.json())
    assert replay.status_code == 202 and replay.headers["Idempotency-Replayed"] == "true"
    assert replay.json() == first.json()  # the first answer, not today's state
    assert Purchase.objects.filter(user=buyer).count() == 1
    assert wallet_state(buyer) == (1_000_000 - 30_000, 0)


@pytest.mark.django_db
def test_a_refusal_replays_as_a_refusal_even_after_the_wallet_is_funded(world, vtu_clock, catalogue):
    poor = UserFactory()
    fund_wallet(poor, 10_000)
    client = authenticate(APIClient(), poor)

    refused = client.post(DATA_URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="order-2")
    fund_wallet(poor, 1_000_000)
    before = wallet_state(poor)
    replay = client.post(DATA_URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="order-2")

    assert (refused.status_code, refused.json()["error_code"]) == (402, "INSUFFICIENT_FUNDS")
    assert (replay.status_code, replay.json()["error_code"]) == (402, "INSUFFICIENT_FUNDS")
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert_nothing_moved(poor, before)  # the repeat's purchase and hold were rolled back
    assert_ledger_invariants()


@pytest.mark.django_db
def test_another_body_under_the_same_key_is_refused_and_moves_nothing(buyer, world, vtu_clock):
    client = authenticate(APIClient(), buyer)
    client.post(DATA_URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="order-3")
    before = wallet_state(buyer)

    other = client.post(DATA_URL, body(phone_number="08031234568"), format="json", HTTP_IDEMPOTENCY_KEY="order-3")

    assert (other.status_code, other.json()["error_code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert_nothing_moved(buyer, before, purchases_before=1)


@pytest.mark.django_db(transaction=True)
def test_twins_sent_at_once_buy_once_and_get_the_same_answer(world, catalogue):
    user = UserFactory()
    fund_wallet(user, 1_000_000)
    barrier = threading.Barrier(8)
    answers: list[tuple[int, str]] = []

    def send() -> None:
        client = authenticate(APIClient(), user)
        barrier.wait()
        response = client.post(DATA_URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="order-4")
        answers.append((response.status_code, response.json().get("reference", response.json().get("error_code"))))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == 8
    assert {status for status, _ in answers} == {202}
    assert len({reference for _, reference in answers}) == 1
    assert Purchase.objects.filter(user=user).count() == 1
    assert Hold.objects.filter(account__user=user).count() == 1
    assert IdempotencyRecord.objects.filter(key="order-4").count() == 1
    assert_ledger_invariants()


@pytest.mark.django_db
def test_a_purchase_sends_its_insert_with_the_hold_and_the_holds_audit_row_with_the_wallet_update(
    buyer, world, vtu_clock
):
    """config.rows.deferring on the hot path: two round trips fewer, nothing written twice."""
    from django.test.utils import CaptureQueriesContext

    from audit.models import AuditLog
    from vtu.services.purchases import PurchaseRequest, purchase_create

    with CaptureQueriesContext(connection) as sent:
        purchase, created = purchase_create(
            user=buyer, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN)
        )
    statements = [query["sql"] for query in sent]
    with_purchase = [sql for sql in statements if 'INSERT INTO "vtu_purchase"' in sql]
    assert created and len(with_purchase) == 1 and 'INSERT INTO "wallets_hold"' in with_purchase[0]
    assert any('INSERT INTO "audit_auditlog"' in sql and "UPDATE wallets_ledgeraccount" in sql for sql in statements)
    hold = Hold.objects.get(reference=purchase.hold_reference)
    assert AuditLog.objects.filter(action="hold.place", target_id=str(hold.pk)).count() == 1
    assert Purchase.objects.filter(pk=purchase.pk).count() == 1


@pytest.mark.django_db
def test_the_stored_answer_rides_with_the_duplicate_check(buyer, world, vtu_clock):
    from django.test.utils import CaptureQueriesContext

    client = authenticate(APIClient(), buyer)
    with CaptureQueriesContext(connection) as sent:
        response = client.post(DATA_URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="order-5")

    assert response.status_code == 202
    carriers = [q["sql"] for q in sent if "platform_idempotencyrecord" in q["sql"]]
    assert len(carriers) == 1 and "SELECT reference FROM vtu_purchase" in carriers[0]
    assert IdempotencyRecord.objects.get(key="order-5").response_body == response.json()
