"""Money actions and staff changes leave exactly the audit rows they should, and a refused one
leaves none marked as done. Here: user standing and KYC tier, staff wallet adjustments (with
the second approval), wallet freezes, a purchase's hold (placed, then captured or released),
a provider reversal, a chargeback, catalogue and provider edits, pricing rule deletion. The
console's other actions assert their rows where they are tested: purchase requery / resolve /
refund and disputes (test_console_purchases.py, vtu/tests/test_disputes.py), credits, debits,
approvals, rejections and freezes from the pages (test_console_wallets.py), deposit decisions
and event re-processing (test_console_funding.py), catalogue forms (test_console_catalogue.py),
two-factor devices (test_console_otp_devices.py), circuit resets, staff roles and exports."""

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
from vtu.models import DataPlan, ProviderPlan, ProviderState, Purchase, Route
from vtu.services import flow
from vtu.services.catalogue_admin import catalogue_row_save
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN
from wallets.models import Adjustment, Hold, Journal, LedgerAccount
from wallets.services import accounts as wallet_accounts
from wallets.services import adjustments, chargeback_post
from wallets.tests.factories import fund_wallet

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


# --- a purchase's money ------------------------------------------------------------------------


def _buy(user) -> Purchase:
    purchase, _ = purchase_create(user=user, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    purchase.refresh_from_db()
    return purchase


def _hold(purchase: Purchase) -> Hold:
    return Hold.objects.get(reference=f"hold:{purchase.reference}")


def test_a_delivered_purchase_places_then_captures_its_hold(buyer, world, vtu_clock):
    purchase = _buy(buyer)
    assert purchase.status == Purchase.Status.SUCCESSFUL
    hold = _hold(purchase)
    assert actions_for_target(target=hold) == ["hold.place", "hold.capture"]
    capture = AuditLog.objects.get(action="hold.capture")
    assert capture.changes == {"captured_kobo": purchase.amount_kobo, "released_kobo": 0, "journal": f"capture:{purchase.reference}"}


def test_a_failed_purchase_places_then_releases_its_hold(buyer, world, vtu_clock):
    world.script("alpha", "failed")
    purchase = _buy(buyer)
    assert purchase.status == Purchase.Status.FAILED
    hold = _hold(purchase)
    assert actions_for_target(target=hold) == ["hold.place", "hold.release"]
    assert AuditLog.objects.get(action="hold.release").changes == {"amount_kobo": purchase.amount_kobo}


def test_a_provider_reversal_audits_the_purchase_and_the_reversal_journal(buyer, world, vtu_clock):
    purchase = _buy(buyer)
    world.truth[purchase.attempts.get().request_id] = "reversed"
    assert flow.purchase_requery(purchase_id=purchase.pk, reason="callback") == "reversed"
    assert flow.purchase_requery(purchase_id=purchase.pk, reason="callback") == "closed"  # once only
    assert actions_for_target(target=purchase).count("purchase.reverse") == 1
    reversal = Journal.objects.get(idempotency_key=f"reversal:{purchase.reference}")
    assert actions_for_target(target=reversal) == ["journal.reverse"]
    assert AuditLog.objects.get(action="journal.reverse").changes == {"original": f"capture:{purchase.reference}"}


def test_a_chargeback_is_audited_and_a_shortfall_freezes_the_wallet(wallet):
    fund_wallet(wallet.user_id, 30_000)
    covered = chargeback_post(gateway="paystack", reference="CB-1", account_id=wallet.pk, amount_kobo=20_000)
    assert actions_for_target(target=covered) == ["chargeback.post"]
    short = chargeback_post(gateway="paystack", reference="CB-2", account_id=wallet.pk, amount_kobo=50_000)
    assert actions_for_target(target=short) == ["chargeback.post"]
    assert AuditLog.objects.get(target_id=str(short.pk), action="chargeback.post").changes == {
        "amount_kobo": 50_000, "debited_kobo": 10_000, "receivable_kobo": 40_000, "revenue_kobo": 0}
    assert actions_for_target(target_type="wallets.ledgeraccount", target_id=wallet.pk)[-1] == "wallet.freeze"
    chargeback_post(gateway="paystack", reference="CB-2", account_id=wallet.pk, amount_kobo=50_000)  # a replay
    assert AuditLog.objects.filter(action="chargeback.post").count() == 2


# --- catalogue, providers and prices by staff -------------------------------------------------


def test_catalogue_and_provider_edits_record_before_and_after(catalogue):
    staff = Actor.for_user(staff_user("admin"))
    plan = DataPlan.objects.get(code=PLAN)
    mapping = ProviderPlan.objects.get(plan=plan, provider="alpha")
    route = Route.objects.filter(product="data", provider="beta").order_by("pk").first()
    state = ProviderState.objects.create(provider="alpha")
    old_cost = mapping.cost_kobo

    plan.active = False
    catalogue_row_save(actor=staff, row=plan, fields=["active"])
    mapping.cost_kobo = old_cost + 1
    catalogue_row_save(actor=staff, row=mapping, fields=["cost_kobo"])
    route.priority = 9
    catalogue_row_save(actor=staff, row=route, fields=["priority"])
    state.enabled = False
    catalogue_row_save(actor=staff, row=state, fields=["enabled"], reason="maintenance")

    got = {row.action: (row.target_id, row.changes) for row in AuditLog.objects.exclude(action__startswith="pricing_rule.")}
    assert got == {
        "plan.update": (str(plan.pk), {"active": [True, False]}),
        "provider_plan.update": (str(mapping.pk), {"cost_kobo": [old_cost, old_cost + 1]}),
        "routing.update": (str(route.pk), {"priority": [2, 9]}),
        "provider.update": (str(state.pk), {"enabled": [True, False]}),
    }
    assert AuditLog.objects.get(action="provider.update").reason == "maintenance"


def test_deleting_a_pricing_rule_is_audited_with_what_it_was(catalogue):
    from pricing.models import PricingRule
    from pricing.services import pricing_rule_delete

    rule = PricingRule.objects.filter(network="MTN", kind="data").first()
    pricing_rule_delete(rule_id=rule.pk, actor=Actor.for_user(staff_user("admin")), reason="replaced")
    row = AuditLog.objects.get(action="pricing_rule.delete")
    assert (row.target_id, row.reason, row.actor_kind) == (str(rule.pk), "replaced", "staff")
    assert row.changes["network"] == "MTN" and row.changes["amount_kobo"] == rule.amount_kobo
    assert not PricingRule.objects.filter(pk=rule.pk).exists()
