"""Staff actions leave exactly the audit rows they should, and a refused one leaves none
marked as done: user standing and KYC tier, staff wallet adjustments (with the second
approval) and wallet freezes here. The console's other money actions assert their rows where
they are tested: purchase requery / resolve / refund and disputes (test_console_purchases.py,
vtu/tests/test_disputes.py), credits, debits, approvals, rejections and freezes from the
pages (test_console_wallets.py), deposit decisions and event re-processing
(test_console_funding.py), circuit resets, staff roles and exports."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts import services as account_services
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from audit.selectors import actions_for_target
from audit.services import Actor
from backoffice.tests.factories import staff_user
from config.errors import ApiError
from wallets.models import Adjustment, LedgerAccount
from wallets.services import accounts as wallet_accounts
from wallets.services import adjustments

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet() -> LedgerAccount:
    return wallet_accounts.wallet_get_or_create(user_id=UserFactory().pk)


def test_user_standing_changes_are_audited_with_actor_and_reason():
    staff, customer = Actor.for_user(staff_user("support")), UserFactory()
    account_services.user_suspend(staff=staff, user_id=customer.pk, reason="r1")
    account_services.user_activate(staff=staff, user_id=customer.pk, reason="r2")
    account_services.user_kyc_tier_set(staff=staff, user_id=customer.pk, tier=1, reason="r3")
    assert actions_for_target(target=customer) == ["user.suspend", "user.activate", "user.kyc_tier_change"]
    assert set(AuditLog.objects.values_list("actor_kind", flat=True)) == {"staff"}


@override_settings(ADJUSTMENT_APPROVAL_THRESHOLD_KOBO=100_000)
def test_a_small_credit_posts_at_once_and_is_audited(wallet):
    adjustment = adjustments.adjustment_request(
        staff=Actor.for_user(staff_user("finance")), account_id=wallet.pk, direction="credit", amount_kobo=50_000,
        reason="goodwill after outage",
    )
    assert actions_for_target(target=adjustment) == ["adjustment.request", "adjustment.post"]


@override_settings(ADJUSTMENT_APPROVAL_THRESHOLD_KOBO=100_000)
def test_a_large_credit_waits_for_a_second_staff_member_and_each_step_is_audited(wallet):
    maker, checker = Actor.for_user(staff_user("finance")), Actor.for_user(staff_user("finance"))
    adjustment = adjustments.adjustment_request(
        staff=maker, account_id=wallet.pk, direction="credit", amount_kobo=500_000, reason="bank transfer",
        bank_reference="GTB-000123",
    )
    assert actions_for_target(target=adjustment) == ["adjustment.request"]

    with pytest.raises(ApiError) as refused:
        adjustments.adjustment_approve(staff=maker, adjustment_id=adjustment.pk)
    assert refused.value.code == "SECOND_APPROVAL_SAME_USER"
    assert actions_for_target(target=adjustment) == ["adjustment.request"]  # nothing audited as done
    wallet.refresh_from_db()
    assert wallet.balance_kobo == 0

    adjustments.adjustment_approve(staff=checker, adjustment_id=adjustment.pk)
    assert actions_for_target(target=adjustment) == ["adjustment.request", "adjustment.approve", "adjustment.post"]
    wallet.refresh_from_db()
    assert wallet.balance_kobo == 500_000


@override_settings(ADJUSTMENT_APPROVAL_THRESHOLD_KOBO=100_000)
def test_a_rejected_adjustment_is_audited_and_posts_nothing(wallet):
    adjustment = adjustments.adjustment_request(
        staff=Actor.for_user(staff_user("finance")), account_id=wallet.pk, direction="credit", amount_kobo=500_000,
        reason="claimed transfer",
    )
    adjustments.adjustment_reject(staff=Actor.for_user(staff_user("admin")), adjustment_id=adjustment.pk, reason="no such transfer")
    assert actions_for_target(target=adjustment) == ["adjustment.request", "adjustment.reject"]
    assert Adjustment.objects.get(pk=adjustment.pk).journal_id is None


def test_a_wallet_freeze_and_unfreeze_are_audited(wallet):
    staff = Actor.for_user(staff_user("finance"))
    wallet_accounts.wallet_freeze(account_id=wallet.pk, reason="chargeback", actor=staff)
    wallet_accounts.wallet_unfreeze(account_id=wallet.pk, reason="resolved", actor=staff)
    assert actions_for_target(target_type="wallets.ledgeraccount", target_id=wallet.pk) == [
        "wallet.open", "wallet.freeze", "wallet.unfreeze",
    ]
