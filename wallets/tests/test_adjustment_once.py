"""One intended staff adjustment posts once, and splitting cannot dodge the second approval.

- the request key (console form token, API Idempotency-Key): the same request again returns
  the first adjustment; another request under the key is refused;
- the duplicate guard: the same staff member's same direction and amount on a wallet within
  ADJUSTMENT_DUPLICATE_WINDOW_SECONDS is refused unless confirmed;
- the day total: a request that takes the wallet's adjustments of the Lagos day (any staff
  member, not rejected) above the threshold waits for approval.
Every refusal leaves balances, journals, adjustments and audit rows as they were."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from audit.services import Actor
from config.models import IdempotencyRecord
from conftest import authenticate
from wallets import clock
from wallets.errors import BankReferenceUsed, DuplicateAdjustment, IdempotencyConflict
from wallets.invariants import assert_ledger_invariants
from wallets.models import Adjustment, Journal, LedgerAccount
from wallets.services import (
    adjustment_approve,
    adjustment_reject,
    adjustment_request,
    adjustment_request_key,
    wallet_get_or_create,
)
from wallets.tests.factories import fund_wallet
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
THRESHOLD = 100_000
SIXTY_PERCENT = 60_000


@pytest.fixture(autouse=True)
def _threshold(settings):
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = THRESHOLD
    settings.ADJUSTMENT_DUPLICATE_WINDOW_SECONDS = 600


@pytest.fixture
def wallet(user) -> LedgerAccount:
    fund_wallet(user, 500_000)
    return wallet_get_or_create(user_id=user.pk)


@pytest.fixture
def at(monkeypatch):
    """Move the ledger's clock: `at(datetime)` from then on."""

    def move(moment: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return move


def _staff() -> Actor:
    return Actor.for_user(UserFactory(is_staff=True, pin=""))


def _request(staff: Actor, wallet: LedgerAccount, amount: int = 1_000, direction: str = "credit", **extra) -> Adjustment:
    return adjustment_request(staff=staff, account_id=wallet.pk, direction=direction, amount_kobo=amount,
                              reason=extra.pop("reason", "goodwill"), **extra)


def _balance(wallet: LedgerAccount) -> int:
    return LedgerAccount.objects.get(pk=wallet.pk).balance_kobo


# --- the request key ------------------------------------------------------------------------


def test_the_same_request_key_returns_the_first_adjustment(wallet):
    staff = _staff()
    first = _request(staff, wallet, request_key="form:abc")
    after_first = snapshot()

    again = _request(staff, wallet, request_key="form:abc")

    assert (again.pk, again.replayed, first.replayed) == (first.pk, True, False)
    assert snapshot() == after_first  # no journal, no adjustment, no audit row
    assert _balance(wallet) == 501_000
    assert Journal.objects.filter(idempotency_key=f"adjust:{first.pk}").count() == 1


def test_a_request_key_used_for_another_adjustment_is_refused(wallet):
    staff = _staff()
    first = _request(staff, wallet, request_key="api:k1")
    before = snapshot()

    for change in ({"amount": 2_000}, {"direction": "debit"}, {"reason": "another reason"}):
        with pytest.raises(IdempotencyConflict) as refused:
            _request(staff, wallet, request_key="api:k1", **change)
        assert refused.value.errors == {"adjustment_id": first.pk}

    assert snapshot() == before


def test_a_request_key_is_per_staff_member(wallet):
    one, other = _staff(), _staff()
    first = _request(one, wallet, request_key="api:same")
    second = _request(other, wallet, request_key="api:same")
    assert first.pk != second.pk and not second.replayed
    assert _balance(wallet) == 502_000


def test_a_rejected_request_still_answers_for_its_key(wallet):
    staff = _staff()
    pending = _request(staff, wallet, amount=THRESHOLD + 1, request_key="form:t1")
    adjustment_reject(staff=staff, adjustment_id=pending.pk, reason="typo")
    before = snapshot()

    again = _request(staff, wallet, amount=THRESHOLD + 1, request_key="form:t1")

    assert (again.pk, again.status, again.replayed) == (pending.pk, "rejected", True)
    assert snapshot() == before


def test_a_long_key_is_stored_by_its_hash():
    assert adjustment_request_key(source="api", key="k-1") == "api:k-1"
    long_key = "x" * 255
    stored = adjustment_request_key(source="api", key=long_key)
    assert stored.startswith("api-sha256:") and len(stored) == len("api-sha256:") + 64
    assert stored == adjustment_request_key(source="api", key=long_key)
    assert stored != adjustment_request_key(source="form", key=long_key)


# --- the duplicate guard --------------------------------------------------------------------


def test_the_same_adjustment_again_is_refused_unless_confirmed(wallet):
    staff = _staff()
    first = _request(staff, wallet, amount=5_000)
    before = snapshot()

    with pytest.raises(DuplicateAdjustment) as refused:
        _request(staff, wallet, amount=5_000, reason="typed again")

    assert refused.value.errors == {"duplicate_of": first.pk, "status": "posted"}
    assert refused.value.status_code == 409
    assert snapshot() == before

    second = _request(staff, wallet, amount=5_000, confirm_duplicate=True)

    assert second.status == "posted" and _balance(wallet) == 510_000
    audit = AuditLog.objects.get(action="adjustment.request", target_id=str(second.pk))
    assert audit.changes["confirm_duplicate"] is True
    assert_ledger_invariants()


def test_a_pending_twin_counts_and_a_rejected_one_does_not(wallet):
    staff = _staff()
    pending = _request(staff, wallet, amount=THRESHOLD + 5)
    with pytest.raises(DuplicateAdjustment):
        _request(staff, wallet, amount=THRESHOLD + 5)
    adjustment_reject(staff=staff, adjustment_id=pending.pk, reason="withdrawn")

    again = _request(staff, wallet, amount=THRESHOLD + 5)

    assert again.status == "pending_approval"


@pytest.mark.parametrize("other", ["amount", "direction", "staff", "wallet"])
def test_a_different_adjustment_is_not_a_duplicate(wallet, other):
    staff = _staff()
    _request(staff, wallet, amount=5_000)
    if other == "wallet":
        wallet = wallet_get_or_create(user_id=UserFactory().pk)
    adjustment = _request(
        _staff() if other == "staff" else staff, wallet, amount=5_001 if other == "amount" else 5_000,
        direction="debit" if other == "direction" else "credit",
    )
    assert adjustment.status == "posted"


def test_the_duplicate_window_ends(wallet, at, settings):
    staff = _staff()
    start = clock.now()
    at(start)
    _request(staff, wallet, amount=5_000)
    at(start + timedelta(seconds=settings.ADJUSTMENT_DUPLICATE_WINDOW_SECONDS - 1))
    with pytest.raises(DuplicateAdjustment):
        _request(staff, wallet, amount=5_000)
    at(start + timedelta(seconds=settings.ADJUSTMENT_DUPLICATE_WINDOW_SECONDS + 1))
    assert _request(staff, wallet, amount=5_000).status == "posted"


def test_a_zero_window_switches_the_guard_off(wallet, settings):
    settings.ADJUSTMENT_DUPLICATE_WINDOW_SECONDS = 0
    staff = _staff()
    _request(staff, wallet, amount=5_000)
    assert _request(staff, wallet, amount=5_000).status == "posted"


def test_a_used_bank_reference_is_named_before_the_duplicate(wallet):
    staff = _staff()
    _request(staff, wallet, amount=5_000, bank_reference="GTB-9")
    with pytest.raises(BankReferenceUsed):
        _request(staff, wallet, amount=5_000, bank_reference="gtb 9")


# --- the day total ----------------------------------------------------------------------------


def test_splitting_by_one_staff_member_sends_the_second_part_to_approval(wallet):
    maker, checker = _staff(), _staff()
    first = _request(maker, wallet, amount=SIXTY_PERCENT)

    second = _request(maker, wallet, amount=SIXTY_PERCENT, confirm_duplicate=True)

    assert (first.status, second.status) == ("posted", "pending_approval")
    assert _balance(wallet) == 500_000 + SIXTY_PERCENT
    request = AuditLog.objects.get(action="adjustment.request", target_id=str(second.pk))
    assert request.changes["approval"] == "day_total"
    adjustment_approve(staff=checker, adjustment_id=second.pk)
    assert _balance(wallet) == 500_000 + 2 * SIXTY_PERCENT
    assert_ledger_invariants()


def test_the_day_total_is_per_wallet_whoever_asks(wallet):
    """Chosen rule: keyed on the wallet, so two staff members' parts add up too (see
    docs/ledger.md "Staff adjustments"); the first requester may approve the second's."""
    first_staff, second_staff = _staff(), _staff()
    first = _request(first_staff, wallet, amount=SIXTY_PERCENT)

    second = _request(second_staff, wallet, amount=SIXTY_PERCENT)

    assert (first.status, second.status) == ("posted", "pending_approval")
    adjustment_approve(staff=first_staff, adjustment_id=second.pk)
    assert _balance(wallet) == 500_000 + 2 * SIXTY_PERCENT


def test_up_to_the_threshold_in_a_day_posts(wallet):
    staff = _staff()
    for amount in (40_000, 35_000, 25_000):  # exactly THRESHOLD in all
        assert _request(staff, wallet, amount=amount).status == "posted"
    assert _request(staff, wallet, amount=1).status == "pending_approval"


def test_debits_count_with_credits(wallet):
    staff = _staff()
    assert _request(staff, wallet, amount=SIXTY_PERCENT, direction="debit").status == "posted"
    assert _request(staff, wallet, amount=SIXTY_PERCENT).status == "pending_approval"


def test_rejected_ones_do_not_count_and_pending_ones_do(wallet):
    staff, checker = _staff(), _staff()
    big = _request(staff, wallet, amount=THRESHOLD + 1)
    assert _request(staff, wallet, amount=1_000).status == "pending_approval"  # the big pending one counts
    adjustment_reject(staff=checker, adjustment_id=big.pk, reason="no")
    assert _request(staff, wallet, amount=2_000).status == "posted"  # 1,000 pending + 2,000: under
    # Without the pending 1,000 this would be 99,001: it is 100,001.
    assert _request(staff, wallet, amount=97_001).status == "pending_approval"


def test_the_day_total_restarts_at_lagos_midnight(wallet, at):
    staff = _staff()
    evening = datetime(2026, 3, 10, 22, 30, tzinfo=clock.LAGOS)
    at(evening)
    assert _request(staff, wallet, amount=SIXTY_PERCENT).status == "posted"
    at(evening + timedelta(minutes=20))  # 22:50 in Lagos, 21:50 UTC: the same Lagos day
    assert _request(staff, wallet, amount=50_000).status == "pending_approval"
    at(datetime(2026, 3, 11, 0, 5, tzinfo=clock.LAGOS))  # 23:05 UTC the day before, a new Lagos day
    assert _request(staff, wallet, amount=SIXTY_PERCENT, confirm_duplicate=True).status == "posted"


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def finance_client() -> APIClient:
    staff = UserFactory(is_staff=True, pin="")
    staff.groups.add(Group.objects.get(name="finance"))
    return authenticate(APIClient(), staff)


def _post(client: APIClient, body: dict, *, key: str | None = None, path: str = "/api/v1/admin/fund-wallet"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, body, format="json", **headers)


@pytest.mark.parametrize("path", ["/api/v1/admin/fund-wallet", "/api/v1/admin/debit-wallet"])
def test_the_api_requires_an_idempotency_key(finance_client, wallet, path):
    before = snapshot()
    response = _post(finance_client, {"wallet": wallet.number, "amount": 1_000, "reason": "x"}, path=path)
    assert response.status_code == 400 and response.json()["error_code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert snapshot() == before


def test_a_retried_call_posts_once_even_when_its_stored_answer_is_lost(finance_client, wallet):
    body = {"wallet": wallet.number, "amount": 1_000, "reason": "goodwill"}
    first = _post(finance_client, body, key="retry-1")
    replay = _post(finance_client, body, key="retry-1")
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotency-Replayed"] == "true" and replay.json() == first.json()
    IdempotencyRecord.objects.all().delete()  # the process died before the answer was stored
    after_first = snapshot()

    again = _post(finance_client, body, key="retry-1")

    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again["Idempotency-Replayed"] == "true"
    assert snapshot() == after_first and _balance(wallet) == 501_000
    assert Adjustment.objects.get().request_key == "api:retry-1"


def test_the_api_refuses_a_duplicate_under_a_new_key_unless_confirmed(finance_client, wallet):
    body = {"wallet": wallet.number, "amount": 1_000, "reason": "goodwill"}
    first = _post(finance_client, body, key=uuid.uuid4().hex)
    before = snapshot()

    refused = _post(finance_client, body, key=uuid.uuid4().hex)

    assert refused.status_code == 409 and refused.json()["error_code"] == "DUPLICATE_ADJUSTMENT"
    assert refused.json()["errors"] == {"duplicate_of": first.json()["id"], "status": "posted"}
    assert snapshot() == before
    bad = _post(finance_client, {**body, "confirm_duplicate": "yes"}, key=uuid.uuid4().hex)
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"
    assert snapshot() == before

    confirmed = _post(finance_client, {**body, "confirm_duplicate": True}, key=uuid.uuid4().hex)

    assert confirmed.status_code == 201 and _balance(wallet) == 502_000


def test_the_api_sends_a_split_to_approval(finance_client, wallet):
    first = _post(finance_client, {"wallet": wallet.number, "amount": SIXTY_PERCENT, "reason": "a"}, key="s1")
    second = _post(finance_client, {"wallet": wallet.number, "amount": 50_000, "reason": "b"}, key="s2")
    assert (first.status_code, second.status_code) == (201, 202)
    assert second.json()["status"] == "pending_approval" and _balance(wallet) == 500_000 + SIXTY_PERCENT
