"""The wallet API: balance, transfers (and every bad input), transactions, statements, staff
funding and debits."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from conftest import authenticate
from wallets.errors import IdempotencyConflict
from wallets.invariants import assert_ledger_invariants
from wallets.models import Adjustment, Journal, LedgerAccount
from wallets.services import (
    hold_place,
    hold_release,
    limits_for_tier,
    wallet_freeze,
    wallet_get_or_create,
    wallet_transfer,
)
from wallets.tests.factories import fund_wallet
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    return authenticate(APIClient(), user)


def _wallet(user) -> LedgerAccount:
    return LedgerAccount.objects.get(pk=wallet_get_or_create(user_id=user.pk).pk)


def _adjust(staff, path: str, body: dict, **kwargs):
    """A staff credit or debit with a fresh Idempotency-Key (required on these endpoints)."""
    return _client(staff).post(path, body, HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex, **kwargs)


def _staff(**extra):
    """A staff member of the finance group (the staff wallet endpoints need its permissions)."""
    from django.contrib.auth.models import Group

    user = UserFactory(is_staff=True, pin="", **extra)
    user.groups.add(Group.objects.get(name="finance"))
    return user


# --- wallet/me ----------------------------------------------------------------------------------


def test_wallet_me_shows_balance_available_held_number_and_limits(user, user_client):
    fund_wallet(user, 50_000)
    hold_place(account_id=_wallet(user).pk, amount_kobo=20_000, reference="P-1")
    body = user_client.get("/api/v1/wallet/me").json()
    assert body["balance"] == 50_000 and body["available"] == 30_000 and body["held"] == 20_000
    assert body["currency"] == "NGN" and body["status"] == "active" and len(body["wallet_number"]) == 10
    assert body["limits"]["daily"] == 5_000_000 and body["limits"]["daily_used"] == 0


def test_wallet_me_needs_authentication(api_client):
    response = api_client.get("/api/v1/wallet/me")
    assert response.status_code == 401 and response.json()["error_code"] == "NOT_AUTHENTICATED"


# --- transfer -----------------------------------------------------------------------------------


def _transfer(client, recipient, amount, *, pin="1234", key=None, **extra):
    body = {"recipient": recipient, "amount": amount, "narration": "for lunch", **extra}
    if pin is not None:
        body["pin"] = pin
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/wallet/transfer", body, format="json", **headers)


def test_transfer_by_wallet_number_and_by_email_with_idempotent_replay(user, user_client):
    recipient = UserFactory(first_name="Chioma", last_name="Okafor")
    fund_wallet(user, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    first = _transfer(user_client, number, 3000, key="abc-1")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["amount"] == 3000 and body["balance"] == 7000 and body["recipient"] == {"wallet_number": number, "name": "Chioma O."}
    replay = _transfer(user_client, number, 3000, key="abc-1")
    assert replay.status_code == 201 and replay.json() == body and replay["Idempotency-Replayed"] == "true"
    other_body = _transfer(user_client, number, 3001, key="abc-1")
    assert other_body.status_code == 422 and other_body.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED"
    by_email = _transfer(user_client, recipient.email.upper(), 1000, key="abc-2")
    assert by_email.status_code == 201
    assert _wallet(user).balance_kobo == 6000 and _wallet(recipient).balance_kobo == 4000
    assert Journal.objects.filter(kind="transfer").count() == 2
    assert_ledger_invariants()


def test_a_transfer_answer_has_exactly_the_documented_shape(user, user_client):
    """The answer is built without a serializer instance (hot path): it must still be what
    TransferOutput (the OpenAPI schema) says, date-times rendered as everywhere else."""
    from rest_framework import serializers

    from wallets.apis import TransferOutput

    recipient = UserFactory()
    fund_wallet(user, 10_000)
    answer = _transfer(user_client, wallet_get_or_create(user_id=recipient.pk).number, 3000).json()
    journal = Journal.objects.get(reference=answer["reference"])

    assert set(answer) == set(TransferOutput().fields)
    assert answer["created_at"] == serializers.DateTimeField().to_representation(journal.created_at)
    assert TransferOutput(data=answer).is_valid(), TransferOutput(data=answer).errors


def test_transfer_with_a_long_idempotency_key_posts_once_and_replays(user, user_client):
    """Keys up to the header's 255 characters work: one too long for the journal key is
    stored by its SHA-256 (transfer:sha256:<user>:<hex>); two long keys that differ only in
    their last character are two transfers, and each replays its own answer."""
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    long_key, sibling = "k" * 249 + "1", "k" * 249 + "2"
    first = _transfer(user_client, number, 1000, key=long_key)
    assert first.status_code == 201, first.content
    replay = _transfer(user_client, number, 1000, key=long_key)
    assert replay.status_code == 201 and replay.json() == first.json() and replay["Idempotency-Replayed"] == "true"
    assert _transfer(user_client, number, 1000, key=sibling).status_code == 201
    longest = _transfer(user_client, number, 500, key="x" * 255)
    assert longest.status_code == 201, longest.content
    keys = sorted(Journal.objects.filter(kind="transfer").values_list("idempotency_key", flat=True))
    assert len(keys) == 3 and all(key.startswith(f"transfer:sha256:{user.pk}:") and len(key) < 100 for key in keys)
    assert _wallet(user).balance_kobo == 7_500 and _wallet(recipient).balance_kobo == 2_500
    assert_ledger_invariants()


def test_a_long_key_posted_again_without_the_stored_answer_still_moves_money_once(user):
    """The service is idempotent on the hashed key by itself (as after a crash that lost the
    stored API answer)."""
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    key = "z" * 250
    first = wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=700,
                            idempotency_key=key, limits=limits_for_tier(0))
    again = wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=700,
                            idempotency_key=key, limits=limits_for_tier(0))
    assert again.pk == first.pk and _wallet(user).balance_kobo == 9_300
    with pytest.raises(IdempotencyConflict):
        wallet_transfer(sender_user_id=user.pk, recipient_user_id=recipient.pk, amount_kobo=701,
                        idempotency_key=key, limits=limits_for_tier(0))
    assert _wallet(user).balance_kobo == 9_300 and Journal.objects.filter(kind="transfer").count() == 1


@pytest.mark.parametrize(
    ("amount", "code"),
    [(0, "INVALID_AMOUNT"), (-500, "INVALID_AMOUNT"), (10.5, "INVALID_AMOUNT"), ("500", "INVALID_AMOUNT"),
     (True, "INVALID_AMOUNT"), (10**14, "INVALID_AMOUNT"), (None, "INVALID_AMOUNT")],
)
def test_transfer_bad_amounts_move_nothing(user, user_client, amount, code):
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    before = snapshot()
    response = _transfer(user_client, number, amount)
    assert response.status_code == 400 and response.json()["error_code"] == code
    assert snapshot() == before


def test_transfer_rejections_each_answer_their_own_code_and_move_nothing(user, user_client):
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    own = _wallet(user).number
    cases = [
        (dict(recipient=own, amount=100), 400, "SELF_TRANSFER"),
        (dict(recipient=user.email, amount=100), 400, "SELF_TRANSFER"),
        (dict(recipient="0000000000", amount=100), 404, "RECIPIENT_NOT_FOUND"),
        (dict(recipient="nobody@example.com", amount=100), 404, "RECIPIENT_NOT_FOUND"),
        (dict(recipient="hello", amount=100), 404, "RECIPIENT_NOT_FOUND"),
        (dict(recipient=number, amount=10_001), 402, "INSUFFICIENT_FUNDS"),
        (dict(recipient=number, amount=5_000_001), 403, "LIMIT_EXCEEDED"),  # tier 0 single limit
        (dict(recipient=number, amount=100, pin=None), 400, "PIN_REQUIRED"),
        (dict(recipient=number, amount=100, pin="9999"), 403, "PIN_INVALID"),
        (dict(recipient=number, amount=100, pin=1234), 403, "PIN_INVALID"),
    ]
    for kwargs, status, code in cases:
        before = snapshot()
        response = _transfer(user_client, kwargs.pop("recipient"), kwargs.pop("amount"), **kwargs)
        assert (response.status_code, response.json()["error_code"]) == (status, code), kwargs
        assert snapshot() == before, code


def test_transfer_with_a_locked_pin_moves_nothing(user, user_client):
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    for _ in range(5):
        _transfer(user_client, number, 100, pin="0000")
    before = snapshot()
    response = _transfer(user_client, number, 100, pin="1234")
    assert response.status_code == 403 and response.json()["error_code"] == "PIN_LOCKED"
    assert snapshot() == before


def test_transfer_from_suspended_or_frozen_sender_moves_nothing(user, user_client):
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    user.suspended_at = timezone.now()
    user.save(update_fields=["suspended_at"])
    before = snapshot()
    response = _transfer(user_client, number, 100)
    assert response.status_code == 403 and response.json()["error_code"] == "ACCOUNT_SUSPENDED"
    assert snapshot() == before
    user.suspended_at = None
    user.save(update_fields=["suspended_at"])
    from audit.services import Actor

    wallet_freeze(account_id=_wallet(user).pk, reason="review", actor=Actor.system("test"))
    before = snapshot()
    response = _transfer(user_client, number, 100)
    assert response.status_code == 403 and response.json()["error_code"] == "WALLET_FROZEN"
    assert snapshot() == before


def test_transfer_over_the_recipients_max_balance_is_refused(user, user_client, settings):
    settings.KYC_TIER_LIMITS_KOBO = {
        0: {"single": 10**9, "daily": 10**9, "max_balance": 5000},
        1: {"single": 10**9, "daily": 10**9, "max_balance": 10**9},
    }
    user.kyc_tier = 1
    user.save(update_fields=["kyc_tier"])
    recipient = UserFactory()
    fund_wallet(user, 10_000)
    number = wallet_get_or_create(user_id=recipient.pk).number
    assert _transfer(user_client, number, 5000).status_code == 201
    before = snapshot()
    response = _transfer(user_client, number, 1)
    assert response.status_code == 403 and response.json()["errors"]["limit"] == "max_balance"
    assert snapshot() == before


# --- transactions ---------------------------------------------------------------------------------


def test_transactions_list_shows_postings_and_holds_with_filters_and_cursor(user, user_client):
    other = UserFactory()
    fund_wallet(user, 100_000, reference="dep-1")
    wallet = _wallet(user)
    hold_place(account_id=wallet.pk, amount_kobo=1500, reference="PUR-1", memo="MTN 1GB to 08031234567")
    hold_place(account_id=wallet.pk, amount_kobo=700, reference="PUR-2", memo="Airtel 500MB")
    hold_release(reference="PUR-2")
    for index in range(3):
        _transfer(user_client, wallet_get_or_create(user_id=other.pk).number, 100 + index, key=f"t{index}")
    items = user_client.get("/api/v1/transactions/me").json()["results"]
    assert [(i["kind"], i["status"], i["direction"], i["amount"]) for i in items] == [
        ("transfer", "successful", "debit", 102), ("transfer", "successful", "debit", 101),
        ("transfer", "successful", "debit", 100), ("purchase", "failed", "debit", 700),
        ("purchase", "pending", "debit", 1500), ("deposit", "successful", "credit", 100_000),
    ]
    pending = user_client.get("/api/v1/transactions/me?status=pending").json()["results"]
    assert [(i["reference"], i["narration"]) for i in pending] == [("PUR-1", "MTN 1GB to 08031234567")]
    deposits = user_client.get("/api/v1/transactions/me?kind=deposit").json()["results"]
    assert [i["reference"] for i in deposits] == ["dep-1"]
    assert user_client.get("/api/v1/transactions/me?reference=PUR-2").json()["results"][0]["status"] == "failed"
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert user_client.get(f"/api/v1/transactions/me?date_from={tomorrow}").json()["results"] == []
    seen, url = [], "/api/v1/transactions/me?page_size=2"
    while url:
        page = user_client.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert seen == [item["id"] for item in items]
    bad = user_client.get("/api/v1/transactions/me?status=bogus")
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"


def test_transactions_mark_a_reversed_posting(user, user_client):
    from wallets.services import Leg, hold_capture, journal_reverse, system_account

    fund_wallet(user, 5000)
    hold_place(account_id=_wallet(user).pk, amount_kobo=1000, reference="PUR-9")
    hold_capture(reference="PUR-9", key="capture:PUR-9", credit_legs=[Leg(system_account("revenue").pk, 1000)])
    journal_reverse(original_key="capture:PUR-9", key="reversal:PUR-9")
    items = user_client.get("/api/v1/transactions/me?reference=PUR-9").json()["results"]
    assert [(i["kind"], i["status"], i["direction"]) for i in items] == [
        ("reversal", "successful", "credit"), ("purchase", "reversed", "debit"),
    ]


# --- statement ------------------------------------------------------------------------------------


def test_statement_json_and_csv_with_running_balance(user, user_client):
    other = UserFactory()
    fund_wallet(user, 10_000, reference="dep-9")
    _transfer(user_client, wallet_get_or_create(user_id=other.pk).number, 2500, key="s1", narration="=cmd|' /C calc'!A0")
    body = user_client.get("/api/v1/wallet/statement").json()
    assert (body["opening_balance"], body["closing_balance"]) == (0, 7500)
    assert [(line["amount"], line["balance"]) for line in body["results"]] == [(10_000, 10_000), (-2500, 7500)]
    response = user_client.get("/api/v1/wallet/statement?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["date", "reference", "kind", "narration", "amount", "balance"]
    assert [row[4:] for row in rows[1:]] == [["10000", "10000"], ["-2500", "7500"]]
    assert rows[2][3].startswith("'=")  # a formula is neutralised
    accept = user_client.get("/api/v1/wallet/statement", HTTP_ACCEPT="text/csv")
    assert accept["Content-Type"].startswith("text/csv")
    future = (timezone.localdate() + timedelta(days=5)).isoformat()
    later = user_client.get(f"/api/v1/wallet/statement?date_from={future}&date_to={future}").json()
    assert (later["opening_balance"], later["closing_balance"], later["results"]) == (7500, 7500, [])
    bad = user_client.get("/api/v1/wallet/statement?format=csv&date_from=2025-02-01&date_to=2025-01-01")
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"


# --- staff ----------------------------------------------------------------------------------------


def test_admin_fund_small_amount_posts_at_once_and_is_audited(user):
    from audit.models import AuditLog

    staff = _staff()
    number = _wallet(user).number
    body = {"wallet": number, "amount": 20_000, "reason": "Bank transfer", "bank_reference": "GTB-1"}
    response = _adjust(staff, "/api/v1/admin/fund-wallet", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "posted" and response.json()["journal_key"] == "bankfund:GTB1"
    assert _wallet(user).balance_kobo == 20_000
    assert AuditLog.objects.filter(action="adjustment.post", actor_user_id=staff.pk).exists()
    before = snapshot()
    again = _adjust(staff, "/api/v1/admin/fund-wallet", {**body, "reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error_code"] == "BANK_REFERENCE_USED"
    assert snapshot() == before
    assert_ledger_invariants()


def test_admin_fund_above_threshold_waits_for_a_second_staff_member(user, settings):
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = 10_000
    maker, checker = _staff(), _staff()
    number = _wallet(user).number
    response = _adjust(maker, "/api/v1/admin/fund-wallet", {"wallet": user.email, "amount": 10_001, "reason": "goodwill"},
                       format="json")
    assert response.status_code == 202 and response.json()["status"] == "pending_approval"
    adjustment_id = response.json()["id"]
    assert _wallet(user).balance_kobo == 0
    before = snapshot()
    same = _client(maker).post(f"/api/v1/admin/adjustments/{adjustment_id}/approve")
    assert same.status_code == 400 and same.json()["error_code"] == "SECOND_APPROVAL_SAME_USER"
    assert snapshot() == before
    approved = _client(checker).post(f"/api/v1/admin/adjustments/{adjustment_id}/approve")
    assert approved.status_code == 201 and approved.json()["status"] == "posted"
    assert _wallet(user).balance_kobo == 10_001 and approved.json()["wallet_number"] == number
    twice = _client(checker).post(f"/api/v1/admin/adjustments/{adjustment_id}/approve")
    assert twice.status_code == 409 and twice.json()["error_code"] == "INVALID_STATE"
    adjustment = Adjustment.objects.get(pk=adjustment_id)
    assert (adjustment.requested_by_id, adjustment.decided_by_id) == (maker.pk, checker.pk)
    assert_ledger_invariants()


def test_admin_debit_rules_and_reject(user, settings):
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = 10_000
    staff, other_staff = _staff(), _staff()
    fund_wallet(user, 5000)
    number = _wallet(user).number
    cases = [
        ({"wallet": number, "amount": 5001, "reason": "fee"}, 402, "INSUFFICIENT_FUNDS"),
        ({"wallet": number, "amount": 100, "reason": ""}, 400, "REASON_REQUIRED"),
        ({"wallet": number, "amount": 100}, 400, "REASON_REQUIRED"),
        ({"wallet": number, "amount": 0, "reason": "x"}, 400, "INVALID_AMOUNT"),
        ({"wallet": "0000000000", "amount": 100, "reason": "x"}, 404, "RECIPIENT_NOT_FOUND"),
    ]
    for body, status, code in cases:
        before = snapshot()
        response = _adjust(staff, "/api/v1/admin/debit-wallet", body, format="json")
        assert (response.status_code, response.json()["error_code"]) == (status, code), body
        assert snapshot() == before
    ok = _adjust(staff, "/api/v1/admin/debit-wallet", {"wallet": number, "amount": 1000, "reason": "fee"}, format="json")
    assert ok.status_code == 201 and _wallet(user).balance_kobo == 4000
    big = _adjust(staff, "/api/v1/admin/debit-wallet", {"wallet": number, "amount": 20_000, "reason": "x"}, format="json")
    assert big.status_code == 202
    rejected = _client(other_staff).post(f"/api/v1/admin/adjustments/{big.json()['id']}/reject", {"reason": "no"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    frozen = _client(staff).post(f"/api/v1/admin/wallets/{number}/freeze", {"reason": "check"}, format="json")
    assert frozen.json() == {"wallet_number": number, "status": "frozen", "changed": True}
    before = snapshot()
    response = _adjust(staff, "/api/v1/admin/debit-wallet", {"wallet": number, "amount": 100, "reason": "x"}, format="json")
    assert response.status_code == 403 and response.json()["error_code"] == "WALLET_FROZEN"
    assert snapshot() == before
    credit = _adjust(staff, "/api/v1/admin/fund-wallet", {"wallet": number, "amount": 100, "reason": "x"}, format="json")
    assert credit.status_code == 201  # credits still post on a frozen wallet
    assert _client(staff).post(f"/api/v1/admin/wallets/{number}/unfreeze", {"reason": "ok"}, format="json").json()["status"] == "active"
    assert_ledger_invariants()


def test_admin_endpoints_refuse_customers(user, user_client):
    before = snapshot()
    for path in ("/api/v1/admin/fund-wallet", "/api/v1/admin/debit-wallet"):
        response = user_client.post(path, {"wallet": user.email, "amount": 100, "reason": "x"}, format="json")
        assert response.status_code == 403 and response.json()["error_code"] == "STAFF_ONLY"
    assert snapshot() == before
