"""POST /api/v1/wallet/transfer while the first request with the same Idempotency-Key is still
running: the twin gets 409 IDEMPOTENCY_IN_FLIGHT and money moves once (two real connections)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from conftest import authenticate
from wallets import apis
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal, LedgerAccount
from wallets.services import wallet_get_or_create
from wallets.tests.factories import fund_wallet

BODY_AMOUNT = 2_500


def _transfer(user, number: str, amount: int = BODY_AMOUNT):
    client = authenticate(APIClient(), user)
    body = {"recipient": number, "amount": amount, "pin": "1234", "narration": "rent"}
    return client.post("/api/v1/wallet/transfer", body, format="json", HTTP_IDEMPOTENCY_KEY="rent-march")


def _balance(user) -> int:
    return LedgerAccount.objects.get(pk=wallet_get_or_create(user_id=user.pk).pk).balance_kobo


@pytest.mark.django_db(transaction=True)
def test_a_twin_of_a_transfer_in_flight_gets_409_and_money_moves_once(monkeypatch):
    sender, recipient = UserFactory(), UserFactory()
    fund_wallet(sender, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    entered, release = threading.Event(), threading.Event()
    real_transfer = apis.wallet_transfer

    def blocked_transfer(**kwargs):
        """The first request stops inside its handler (after the key was claimed) until released."""
        entered.set()
        assert release.wait(timeout=20), "the test never released the first request"
        return real_transfer(**kwargs)

    monkeypatch.setattr(apis, "wallet_transfer", blocked_transfer)
    results: dict[str, object] = {}

    def first() -> None:
        try:
            results["first"] = _transfer(sender, number)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(timeout=20)
        twin = _transfer(sender, number)
        assert twin.status_code == 409 and twin.json()["error_code"] == "IDEMPOTENCY_IN_FLIGHT"
        other_body = _transfer(sender, number, amount=BODY_AMOUNT + 1)
        assert other_body.status_code == 422 and other_body.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED"
        assert not Journal.objects.filter(kind="transfer").exists()  # the twins ran no handler
    finally:
        release.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    assert results["first"].status_code == 201, results["first"].content
    replay = _transfer(sender, number)
    assert replay.status_code == 201 and replay["Idempotency-Replayed"] == "true"
    assert replay.json() == results["first"].json()
    assert Journal.objects.filter(kind="transfer").count() == 1
    assert (_balance(sender), _balance(recipient)) == (10_000 - BODY_AMOUNT, BODY_AMOUNT)
    assert_ledger_invariants()
