"""Staff adjustments under real concurrent connections (threads behind a barrier, PostgreSQL):
identical requests at once post once, one request key at once is one adjustment, and parts
requested at once cannot together slip under the day total. A canary shows the harness
catches a duplicate check made without the wallet row lock.

Heavy (threads): run under `flock /tmp/pg-heavy.lock`.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from accounts.tests.factories import UserFactory
from audit.services import Actor
from wallets.errors import DuplicateAdjustment
from wallets.invariants import assert_ledger_invariants
from wallets.models import Adjustment, Journal, LedgerAccount
from wallets.services import adjustment_request, wallet_get_or_create
from wallets.services import adjustments as adjustments_module
from wallets.tests.helpers import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10
THRESHOLD = 100_000
AMOUNT = 5_000


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = THRESHOLD
    settings.ADJUSTMENT_DUPLICATE_WINDOW_SECONDS = 600


def _staff() -> Actor:
    return Actor.for_user(UserFactory(is_staff=True, pin=""))


def _wallet() -> LedgerAccount:
    return wallet_get_or_create(user_id=UserFactory().pk)


def _outcome(result: Any) -> str:
    if isinstance(result, Adjustment):
        return result.status
    if isinstance(result, DuplicateAdjustment):
        return "DUPLICATE_ADJUSTMENT"
    raise AssertionError(f"unexpected: {result!r}")


def identical_credits_at_once(wallet: LedgerAccount, staff: Actor) -> Counter:
    results = run_concurrently(THREADS, lambda i: adjustment_request(
        staff=staff, account_id=wallet.pk, direction="credit", amount_kobo=AMOUNT, reason=f"double click {i}",
    ))
    return Counter(_outcome(result) for result in results)


def assert_posted_once(wallet: LedgerAccount, outcomes: Counter) -> None:
    posted = Adjustment.objects.filter(account_id=wallet.pk, status="posted").count()
    assert outcomes == {"posted": 1, "DUPLICATE_ADJUSTMENT": THREADS - 1} and posted == 1, (
        f"{posted} identical adjustments posted at once: {dict(outcomes)}")


def test_identical_requests_at_once_post_once():
    wallet, staff = _wallet(), _staff()

    outcomes = identical_credits_at_once(wallet, staff)

    assert_posted_once(wallet, outcomes)
    assert LedgerAccount.objects.get(pk=wallet.pk).balance_kobo == AMOUNT
    assert_ledger_invariants()


def test_one_request_key_at_once_is_one_adjustment():
    wallet, staff = _wallet(), _staff()

    results = run_concurrently(THREADS, lambda i: adjustment_request(
        staff=staff, account_id=wallet.pk, direction="credit", amount_kobo=AMOUNT, reason="retry storm",
        request_key="api:storm-1",
    ))

    assert all(isinstance(result, Adjustment) for result in results), results
    assert {result.pk for result in results} == {Adjustment.objects.get().pk}
    assert sum(not result.replayed for result in results) == 1
    assert Journal.objects.filter(kind="adjustment").count() == 1
    assert LedgerAccount.objects.get(pk=wallet.pk).balance_kobo == AMOUNT
    assert_ledger_invariants()


def test_parts_requested_at_once_cannot_slip_under_the_day_total():
    """Ten staff members each credit 30% of the threshold to one wallet at the same moment:
    three post (90%), the other seven wait for approval."""
    wallet = _wallet()
    staff = [_staff() for _ in range(THREADS)]
    part = THRESHOLD * 3 // 10

    results = run_concurrently(THREADS, lambda i: adjustment_request(
        staff=staff[i], account_id=wallet.pk, direction="credit", amount_kobo=part, reason=f"part {i}",
    ))

    assert Counter(_outcome(result) for result in results) == {"posted": 3, "pending_approval": THREADS - 3}
    assert LedgerAccount.objects.get(pk=wallet.pk).balance_kobo == 3 * part
    assert_ledger_invariants()


def test_canary_the_harness_catches_a_duplicate_check_without_the_wallet_lock(monkeypatch):
    """The guard as a naive version would run it: no row lock, so every request checks before
    any has inserted (the barrier makes that certain rather than likely)."""
    checked = threading.Barrier(THREADS)
    real_check = adjustments_module._refuse_duplicate

    def unlocked(account_id: int) -> None:
        if not LedgerAccount.objects.filter(pk=account_id).exists():
            raise AssertionError("no such wallet")

    def check_then_wait(staff_id: int, wanted: Any) -> None:
        real_check(staff_id, wanted)
        checked.wait(timeout=30)

    monkeypatch.setattr(adjustments_module, "_lock_wallet", unlocked)
    monkeypatch.setattr(adjustments_module, "_refuse_duplicate", check_then_wait)
    wallet, staff = _wallet(), _staff()

    outcomes = identical_credits_at_once(wallet, staff)

    with pytest.raises(AssertionError, match=rf"^{THREADS} identical adjustments posted at once"):
        assert_posted_once(wallet, outcomes)
