"""The wallet pages: credit or debit with a reason (a second, different staff member approves
above the threshold; a bank-transfer credit carries its unique reference), freeze and
unfreeze, the statement, approving and rejecting adjustments. Every refusal moves nothing and
audits nothing as done."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditLog
from audit.selectors import actions_for_target
from backoffice.tests.admin_forms import post_form
from backoffice.tests.factories import staff_user
from wallets.admin_forms import naira_to_kobo
from wallets.invariants import assert_ledger_invariants
from wallets.models import Adjustment, Journal, LedgerAccount
from wallets.services import wallet_get_or_create
from wallets.tests.factories import fund_wallet
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
THRESHOLD = 100_000  # ₦1,000


@pytest.fixture(autouse=True)
def _threshold(settings):
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = THRESHOLD


@pytest.fixture
def wallet(user) -> LedgerAccount:
    fund_wallet(user, 50_000)
    return wallet_get_or_create(user_id=user.pk)


def browser(group: str) -> tuple[Client, object]:
    member = staff_user(group)
    client = Client()
    client.force_login(member)
    return client, member


def fresh(wallet: LedgerAccount) -> LedgerAccount:
    return LedgerAccount.objects.get(pk=wallet.pk)


def adjust_url(wallet: LedgerAccount) -> str:
    return reverse("admin:wallets_ledgeraccount_adjust", args=[wallet.pk])


def adjust(client: Client, wallet: LedgerAccount, **form: str):
    """Open the credit / debit page (a new one-time token), fill it in, submit it."""
    return post_form(client, adjust_url(wallet), form)


@pytest.mark.parametrize(("text", "kobo"), [("1500", 150_000), ("1,500.50", 150_050), ("₦ 2.5", 250), ("0.07", 7)])
def test_naira_amounts_become_integer_kobo(text, kobo):
    assert naira_to_kobo(text) == kobo


@pytest.mark.parametrize("text", ["1.234", "-5", "abc", "1e3", "", "1.2.3"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(ValueError):
        naira_to_kobo(text)


def test_a_small_credit_posts_at_once_with_its_reason(wallet):
    client, member = browser("finance")

    response = adjust(client, wallet, direction="credit", amount="250.00", reason="goodwill: failed refund", bank_reference="")

    assert response.status_code == 302 and response["Location"] == reverse("admin:wallets_ledgeraccount_change", args=[wallet.pk])
    assert fresh(wallet).balance_kobo == 75_000
    adjustment = Adjustment.objects.get()
    assert (adjustment.status, adjustment.requested_by_id, adjustment.reason) == ("posted", member.pk, "goodwill: failed refund")
    assert adjustment.journal.idempotency_key == f"adjust:{adjustment.pk}"
    assert actions_for_target(target=adjustment) == ["adjustment.request", "adjustment.post"]
    assert_ledger_invariants()


def test_a_large_credit_waits_for_a_different_staff_member(wallet):
    maker_client, maker = browser("finance")
    assert maker.has_perm("backoffice.adjustment_request")
    adjust(maker_client, wallet, direction="credit", amount="5,000", reason="bank transfer seen on statement",
           bank_reference="GTB-778899")
    adjustment = Adjustment.objects.get()
    assert adjustment.status == "pending_approval" and fresh(wallet).balance_kobo == 50_000
    approve_url = reverse("admin:wallets_adjustment_approve", args=[adjustment.pk])
    before = snapshot()

    own = maker_client.post(approve_url, {})

    assert own.status_code == 200 and "A different staff member must approve." in own.content.decode()
    assert snapshot() == before and "adjustment.approve" not in actions_for_target(target=adjustment)

    checker_client, checker = browser("admin")
    done = checker_client.post(approve_url, {})

    assert done.status_code == 302
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by_id) == ("posted", checker.pk)
    assert adjustment.journal.idempotency_key == "bankfund:GTB778899"  # normalised
    assert fresh(wallet).balance_kobo == 550_000
    assert actions_for_target(target=adjustment) == ["adjustment.request", "adjustment.approve", "adjustment.post"]
    assert AuditLog.objects.get(action="adjustment.approve").actor_user_id == checker.pk
    assert_ledger_invariants()


def test_a_bank_reference_is_credited_once(wallet):
    client, _ = browser("finance")
    adjust(client, wallet, direction="credit", amount="100", reason="transfer", bank_reference="ZEN-1")
    before = snapshot()

    again = adjust(client, wallet, direction="credit", amount="100", reason="transfer again", bank_reference="ZEN-1")

    assert again.status_code == 200 and "already been credited" in again.content.decode()
    assert snapshot() == before
    assert Journal.objects.filter(idempotency_key="bankfund:ZEN1").count() == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"direction": "credit", "amount": "100", "reason": " "}, "This field is required"),
        ({"direction": "credit", "amount": "0", "reason": "x"}, "more than zero"),
        ({"direction": "credit", "amount": "1.234", "reason": "x"}, "Enter an amount in naira"),
        ({"direction": "sideways", "amount": "1", "reason": "x"}, "Select a valid choice"),
        ({"direction": "debit", "amount": "600", "reason": "chargeback"}, "available balance is too low"),
        ({"direction": "debit", "amount": "1", "reason": "x", "bank_reference": "B-1"}, "A bank reference goes with a credit only."),
    ],
)
def test_bad_adjustments_are_refused_and_move_nothing(wallet, form, message):
    client, _ = browser("finance")
    before = snapshot()

    response = adjust(client, wallet, **{"bank_reference": "", **form})

    assert response.status_code == 200 and message in response.content.decode()
    assert snapshot() == before and not Adjustment.objects.exists()


def test_support_cannot_move_money(wallet):
    client, _ = browser("support")
    before = snapshot()

    assert client.get(adjust_url(wallet)).status_code == 403
    form = {"direction": "credit", "amount": "1", "reason": "x", "bank_reference": "", "request_token": "t" * 32}
    assert client.post(adjust_url(wallet), form).status_code == 403
    assert client.post(reverse("admin:wallets_ledgeraccount_freeze", args=[wallet.pk]), {"reason": "x"}).status_code == 403
    assert snapshot() == before


def test_reject_needs_a_reason_and_posts_nothing(wallet):
    maker_client, _ = browser("finance")
    adjust(maker_client, wallet, direction="debit", amount="2000", reason="reverse a bad credit", bank_reference="")
    adjustment = Adjustment.objects.get(status="pending_approval")
    url = reverse("admin:wallets_adjustment_reject", args=[adjustment.pk])
    before = snapshot()

    blank = maker_client.post(url, {"reason": ""})
    assert blank.status_code == 200 and snapshot() == before

    done = maker_client.post(url, {"reason": "asked by mistake"})  # the requester may withdraw it
    assert done.status_code == 302
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decision_reason) == ("rejected", "asked by mistake")
    assert adjustment.decided_by_id is None  # a withdrawal: the maker is never recorded as the checker
    assert AuditLog.objects.get(action="adjustment.reject").actor_user_id == adjustment.requested_by_id
    assert fresh(wallet).balance_kobo == 50_000 and adjustment.journal is None
    assert actions_for_target(target=adjustment) == ["adjustment.request", "adjustment.reject"]


def test_bulk_approve_from_the_list_skips_the_requesters_own(wallet):
    maker_client, _ = browser("finance")
    for amount in ("1500", "2500"):
        adjust(maker_client, wallet, direction="credit", amount=amount, reason="bank credit", bank_reference="")
    ids = list(Adjustment.objects.order_by("pk").values_list("pk", flat=True))
    changelist = reverse("admin:wallets_adjustment_changelist")
    form = {"action": "approve_adjustments", "_selected_action": ids, "apply": "1"}

    maker_client.post(changelist, form)
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"pending_approval"}

    checker_client, _ = browser("finance")
    checker_client.post(changelist, form)
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"posted"}
    assert fresh(wallet).balance_kobo == 50_000 + 150_000 + 250_000
    assert_ledger_invariants()


def test_freeze_and_unfreeze_with_a_reason(wallet):
    client, _ = browser("finance")
    freeze = reverse("admin:wallets_ledgeraccount_freeze", args=[wallet.pk])

    assert client.post(freeze, {"reason": ""}).status_code == 200
    assert fresh(wallet).status == "active" and not AuditLog.objects.filter(action="wallet.freeze").exists()

    assert client.post(freeze, {"reason": "chargeback investigation"}).status_code == 302
    assert (fresh(wallet).status, fresh(wallet).frozen_reason) == ("frozen", "chargeback investigation")
    page = client.get(reverse("admin:wallets_ledgeraccount_change", args=[wallet.pk])).content.decode()
    assert "FROZEN" in page and "Unfreeze" in page

    before = snapshot()
    refused = adjust(client, wallet, direction="debit", amount="1", reason="fee", bank_reference="")
    assert "frozen" in refused.content.decode() and snapshot() == before

    assert client.post(reverse("admin:wallets_ledgeraccount_unfreeze", args=[wallet.pk]), {"reason": "cleared"}).status_code == 302
    assert fresh(wallet).status == "active"
    rows = AuditLog.objects.filter(target_type="wallets.ledgeraccount", target_id=str(wallet.pk)).order_by("id")
    assert [(row.action, row.reason) for row in rows if row.action != "wallet.open"] == [
        ("wallet.freeze", "chargeback investigation"), ("wallet.unfreeze", "cleared")]


def test_the_statement_shows_opening_closing_and_lines(wallet, user):
    client, _ = browser("support")
    fund_wallet(user, 25_000)

    page = client.get(reverse("admin:wallets_ledgeraccount_statement", args=[wallet.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "opening balance <strong>₦0.00</strong>, closing balance <strong>₦750.00</strong>" in html
    assert html.count("<td>deposit</td>") == 2
    bad = client.get(reverse("admin:wallets_ledgeraccount_statement", args=[wallet.pk]),
                     {"date_from": "2026-02-02", "date_to": "2026-01-01"})
    assert bad.status_code == 200 and "The start is after the end." in bad.content.decode()


def test_nobody_edits_a_balance_entry_or_journal(wallet):
    client, _ = browser("admin")
    page = client.get(reverse("admin:wallets_ledgeraccount_change", args=[wallet.pk])).content.decode()
    assert 'name="_save"' not in page and "balance <b>₦500.00</b>" in page and "available <b>₦500.00</b>" in page
    journal = Journal.objects.first()
    assert client.post(reverse("admin:wallets_journal_change", args=[journal.pk]), {"memo": "edited"}).status_code == 403
    assert client.post(reverse("admin:wallets_journal_delete", args=[journal.pk]), {"post": "yes"}).status_code == 403
