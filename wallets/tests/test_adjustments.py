"""Staff adjustments and bank references: one bank transfer is credited once, however its
reference is typed, and a rejected request does not burn the reference."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from audit.services import Actor
from config.errors import ApiError
from conftest import authenticate
from wallets.errors import BankReferenceUsed
from wallets.invariants import assert_ledger_invariants
from wallets.models import Adjustment, Journal, LedgerAccount
from wallets.services import (
    adjustment_reject,
    adjustment_request,
    bank_reference_normalise,
    wallet_get_or_create,
)
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db


def _staff() -> Actor:
    return Actor.for_user(UserFactory(is_staff=True, pin=""))


def _wallet(user) -> LedgerAccount:
    return LedgerAccount.objects.get(pk=wallet_get_or_create(user_id=user.pk).pk)


def _credit(wallet: LedgerAccount, reference: str, *, staff: Actor | None = None, amount: int = 5_000) -> Adjustment:
    return adjustment_request(
        staff=staff or _staff(), account_id=wallet.pk, direction="credit", amount_kobo=amount,
        reason="bank transfer", bank_reference=reference,
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("GTB-1", "GTB1"), ("gtb 1", "GTB1"), (" Gtb_1 ", "GTB1"), ("gtb/1.", "GTB1"), ("\uff27\uff34\uff22\uff11", "GTB1"),
     ("000123456789", "000123456789"), ("", None), ("   ", None), (None, None)],
)
def test_a_bank_reference_has_one_spelling(typed, stored):
    assert bank_reference_normalise(typed) == stored


@pytest.mark.parametrize(
    "typed", ["GTB#1", "=HYPERLINK(x)", "GT\u0412" + "1", "GTB\u20131", "-- / .x!"]  # Cyrillic Ve, an en dash
)
def test_a_bank_reference_with_other_characters_is_refused(typed):
    with pytest.raises(ApiError) as refused:
        bank_reference_normalise(typed)
    assert refused.value.code == "VALIDATION_ERROR" and "bank_reference" in refused.value.errors


def test_the_same_bank_transfer_typed_differently_is_credited_once(user):
    wallet = _wallet(user)
    first = _credit(wallet, "GTB-1")
    assert first.bank_reference == "GTB1" and first.journal.idempotency_key == "bankfund:GTB1"
    before = snapshot()
    for variant in ("gtb-1", "GTB 1", "gtb1", " G T B - 1 "):
        with pytest.raises(BankReferenceUsed):
            _credit(wallet, variant)
    assert snapshot() == before
    assert _wallet(user).balance_kobo == 5_000
    assert_ledger_invariants()


def test_a_rejected_request_frees_its_reference_and_the_corrected_one_posts_once(user, settings):
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = 1_000
    wallet = _wallet(user)
    maker = _staff()
    wrong = _credit(wallet, "ZEN-77", staff=maker, amount=50_000)  # typed the wrong amount: waits for approval
    assert wrong.status == "pending_approval"
    with pytest.raises(BankReferenceUsed):  # while it is pending, the reference is taken
        _credit(wallet, "zen77", amount=5_000)
    adjustment_reject(staff=maker, adjustment_id=wrong.pk, reason="wrong amount")
    corrected = _credit(wallet, "zen 77", amount=500)
    assert (corrected.status, corrected.journal.idempotency_key) == ("posted", "bankfund:ZEN77")
    with pytest.raises(BankReferenceUsed):
        _credit(wallet, "ZEN-77", amount=500)
    assert _wallet(user).balance_kobo == 500
    assert Journal.objects.filter(idempotency_key="bankfund:ZEN77").count() == 1
    assert_ledger_invariants()


def _insert_adjustment(account_id: int, staff_id: int, reference: str, status: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallets_adjustment (account_id, direction, amount_kobo, reason, status, bank_reference,"
            " requested_by_id, decision_reason, created_at) VALUES (%s, 'credit', 5, 'x', %s, %s, %s, '', now())",
            [account_id, status, reference, staff_id],
        )


def test_the_database_keeps_a_reference_unique_among_adjustments_not_rejected(user):
    wallet = _wallet(user)
    staff = UserFactory(is_staff=True)
    _insert_adjustment(wallet.pk, staff.pk, "UBA9", "rejected")
    _insert_adjustment(wallet.pk, staff.pk, "UBA9", "rejected")
    _insert_adjustment(wallet.pk, staff.pk, "UBA9", "pending_approval")
    with pytest.raises(IntegrityError, match="adjustment_bank_reference_unique_unless_rejected"), transaction.atomic():
        _insert_adjustment(wallet.pk, staff.pk, "UBA9", "pending_approval")
    assert Adjustment.objects.filter(bank_reference="UBA9").count() == 3


def test_the_api_stores_the_normalised_reference_and_refuses_a_bad_one(user):
    staff = UserFactory(is_staff=True, pin="")
    staff.groups.add(Group.objects.get(name="finance"))
    client = authenticate(APIClient(), staff)
    number = _wallet(user).number
    body = {"wallet": number, "amount": 2_000, "reason": "Bank transfer"}
    ok = client.post("/api/v1/admin/fund-wallet", {**body, "bank_reference": "fbn 00-42"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k1")
    assert ok.status_code == 201 and ok.json()["bank_reference"] == "FBN0042"
    before = snapshot()
    again = client.post("/api/v1/admin/fund-wallet", {**body, "bank_reference": "FBN-0042"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k2")
    assert again.status_code == 409 and again.json()["error_code"] == "BANK_REFERENCE_USED"
    bad = client.post("/api/v1/admin/fund-wallet", {**body, "bank_reference": "FBN#0042"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="k3")
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"
    assert "bank_reference" in bad.json()["errors"]
    assert snapshot() == before
    assert _wallet(user).balance_kobo == 2_000
