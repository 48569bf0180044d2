"""The credit / debit page makes one adjustment per intention: its one-time form token makes a
resubmitted form find the first adjustment (and the page says so), the same adjustment again
from a fresh form needs a ticked confirmation, and splitting an amount under the approval
threshold sends the part that crosses it to a second staff member. Every refusal moves
nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditLog
from backoffice.tests.admin_forms import form_data
from backoffice.tests.factories import staff_user
from wallets.admin_forms import FORM_EXPIRED
from wallets.invariants import assert_ledger_invariants
from wallets.models import Adjustment, Journal, LedgerAccount
from wallets.services import wallet_get_or_create
from wallets.tests.factories import fund_wallet
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
THRESHOLD = 100_000  # ₦1,000
TOKEN = re.compile(r'<input type="hidden" name="request_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _threshold(settings):
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = THRESHOLD


@pytest.fixture
def wallet(user) -> LedgerAccount:
    fund_wallet(user, 50_000)
    return wallet_get_or_create(user_id=user.pk)


@pytest.fixture
def finance() -> Client:
    client = Client()
    client.force_login(staff_user("finance"))
    return client


def url(wallet: LedgerAccount) -> str:
    return reverse("admin:wallets_ledgeraccount_adjust", args=[wallet.pk])


def filled_form(client: Client, wallet: LedgerAccount, **changes: str) -> dict[str, str]:
    """What the browser would submit from a freshly opened page."""
    page = client.get(url(wallet))
    assert page.status_code == 200
    return {**form_data(page.content.decode()), "bank_reference": "", **changes}


def balance(wallet: LedgerAccount) -> int:
    return LedgerAccount.objects.get(pk=wallet.pk).balance_kobo


def test_each_opened_form_carries_its_own_token(finance, wallet):
    first, second = (TOKEN.search(finance.get(url(wallet)).content.decode()) for _ in range(2))
    assert first and second and first.group(1) != second.group(1)
    assert len(first.group(1)) == 32


def test_a_form_submitted_twice_posts_once_and_says_so(finance, wallet):
    form = filled_form(finance, wallet, direction="credit", amount="250", reason="goodwill")

    first = finance.post(url(wallet), form)
    after_first = snapshot()
    second = finance.post(url(wallet), form, follow=True)

    assert first.status_code == 302 and second.status_code == 200
    assert snapshot() == after_first
    assert balance(wallet) == 75_000
    adjustment = Adjustment.objects.get()
    assert adjustment.request_key == f"form:{form['request_token']}"
    assert Journal.objects.filter(idempotency_key=f"adjust:{adjustment.pk}").count() == 1
    assert (f"This form was already submitted: Credit of ₦250.00 is adjustment {adjustment.pk} (posted). "
            "Nothing new was done.") in second.content.decode()
    assert_ledger_invariants()


def test_a_pending_adjustment_submitted_twice_stays_one_request(finance, wallet):
    form = filled_form(finance, wallet, direction="credit", amount="5000", reason="bank transfer")

    finance.post(url(wallet), form)
    again = finance.post(url(wallet), form, follow=True)

    assert Adjustment.objects.get().status == "pending_approval"
    assert "is adjustment" in again.content.decode() and "(pending_approval)" in again.content.decode()
    assert AuditLog.objects.filter(action="adjustment.request").count() == 1


def test_a_form_without_its_token_is_refused(finance, wallet):
    form = filled_form(finance, wallet, direction="credit", amount="250", reason="goodwill")
    before = snapshot()

    without = {name: value for name, value in form.items() if name != "request_token"}
    for data in (without, {**form, "request_token": ""}, {**form, "request_token": "short"},
                 {**form, "request_token": "x" * 20 + "<script>"}):
        response = finance.post(url(wallet), data)
        assert response.status_code == 200 and FORM_EXPIRED in response.content.decode()

    assert snapshot() == before and not Adjustment.objects.exists()


def test_a_token_reused_with_other_details_is_refused(finance, wallet):
    form = filled_form(finance, wallet, direction="credit", amount="250", reason="goodwill")
    finance.post(url(wallet), form)
    before = snapshot()

    edited = finance.post(url(wallet), {**form, "amount": "300"})  # the back button, then an edit

    adjustment = Adjustment.objects.get()
    assert edited.status_code == 200
    assert f"This form was already used for adjustment {adjustment.pk}" in edited.content.decode()
    assert snapshot() == before


def test_the_same_adjustment_from_a_fresh_form_needs_a_ticked_confirmation(finance, wallet):
    finance.post(url(wallet), filled_form(finance, wallet, direction="credit", amount="250", reason="refund"))
    first = Adjustment.objects.get()
    before = snapshot()

    refused = finance.post(url(wallet), filled_form(finance, wallet, direction="credit", amount="250", reason="refund"))

    page = refused.content.decode()
    assert refused.status_code == 200
    assert "You asked for the same credit of this wallet at" in page and f"(adjustment {first.pk}, posted)" in page
    assert 'name="confirm_duplicate"' in page
    assert snapshot() == before

    unticked = finance.post(url(wallet), form_data(page))  # submitted again without ticking the box
    assert unticked.status_code == 200 and 'name="confirm_duplicate"' in unticked.content.decode()
    assert snapshot() == before

    confirmed = finance.post(url(wallet), {**form_data(page), "confirm_duplicate": "on"})

    assert confirmed.status_code == 302
    assert balance(wallet) == 50_000 + 2 * 25_000
    second = Adjustment.objects.exclude(pk=first.pk).get()
    request = AuditLog.objects.get(action="adjustment.request", target_id=str(second.pk))
    assert request.changes["confirm_duplicate"] is True
    assert_ledger_invariants()


def test_another_amount_is_not_a_duplicate(finance, wallet):
    for amount in ("250", "251"):
        assert finance.post(url(wallet), filled_form(finance, wallet, direction="credit", amount=amount,
                                                     reason="refund")).status_code == 302
    assert balance(wallet) == 50_000 + 25_000 + 25_100


def test_splitting_under_the_threshold_sends_the_crossing_part_to_approval(finance, wallet):
    finance.post(url(wallet), filled_form(finance, wallet, direction="credit", amount="600", reason="split 1"))

    second = finance.post(url(wallet), filled_form(finance, wallet, direction="credit", amount="500", reason="split 2"),
                          follow=True)

    assert "is waiting for a second staff member&#x27;s approval" in second.content.decode()
    assert sorted(Adjustment.objects.values_list("amount_kobo", "status")) == [
        (50_000, "pending_approval"), (60_000, "posted")]
    assert balance(wallet) == 50_000 + 60_000
    request = AuditLog.objects.filter(action="adjustment.request").order_by("id").last()
    assert request.changes["approval"] == "day_total"


def test_the_approval_page_shows_the_wallets_other_adjustments_of_the_day(finance, wallet):
    finance.post(url(wallet), filled_form(finance, wallet, direction="credit", amount="600", reason="split 1"))
    finance.post(url(wallet), filled_form(finance, wallet, direction="credit", amount="500", reason="split 2"))
    pending = Adjustment.objects.get(status="pending_approval")
    checker = Client()
    checker.force_login(staff_user("admin"))

    page = checker.get(reverse("admin:wallets_adjustment_approve", args=[pending.pk])).content.decode()

    assert "this wallet has 1 adjustment(s) today (Lagos time, not rejected) for ₦600.00" in page
