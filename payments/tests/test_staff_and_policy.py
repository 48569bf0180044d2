"""Staff resolution of deposits in review, and the soft source-IP check (case 36)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from audit.services import Actor
from config.errors import ApiError
from payments.models import Deposit, WebhookDelivery
from payments.services import deposit_resolve
from payments.tests.conftest import post_webhook
from payments.tests.helpers import body_of, funding_event, sign, verify_answer
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return Actor.for_user(UserFactory(is_staff=True))


def underpaid(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference, amount_kobo=300_000)
    http.add(method, url, json=answer)
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    post_webhook(client, "paystack", body, sign("paystack", body))
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.NEEDS_REVIEW
    return deposit


def test_staff_credit_what_the_gateway_says_was_paid(client, user, make_deposit, http, staff):
    deposit = underpaid(client, user, make_deposit, http)
    deposit = deposit_resolve(deposit_id=deposit.pk, action="credit", actor=staff, reason="customer paid less")
    assert (deposit.status, deposit.credited_kobo) == ("successful", 300_000)
    assert wallet_for(user).balance_kobo == 300_000
    assert AuditLog.objects.filter(action="deposit.resolve", reason="customer paid less").count() == 1
    with pytest.raises(ApiError) as again:
        deposit_resolve(deposit_id=deposit.pk, action="credit", actor=staff, reason="twice")
    assert again.value.code == "INVALID_STATE"
    assert Journal.objects.filter(kind="deposit").count() == 1
    assert_ledger_invariants()


def test_staff_fail_and_refusals_move_nothing(client, user, make_deposit, http, staff):
    deposit = underpaid(client, user, make_deposit, http)
    before = snapshot()
    with pytest.raises(ApiError) as no_reason:
        deposit_resolve(deposit_id=deposit.pk, action="credit", actor=staff, reason=" ")
    assert no_reason.value.code == "REASON_REQUIRED"
    assert snapshot() == before
    deposit = deposit_resolve(deposit_id=deposit.pk, action="fail", actor=staff, reason="fraud suspected")
    assert deposit.status == Deposit.Status.FAILED
    assert wallet_for(user).balance_kobo == 0
    assert not Journal.objects.filter(kind="deposit").exists()


def test_a_valid_delivery_from_an_unlisted_ip_is_processed_with_a_warning(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)
    http.add(method, url, json=answer)
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    post_webhook(client, "paystack", body, sign("paystack", body))
    delivery = WebhookDelivery.objects.get()
    assert delivery.verdict == WebhookDelivery.Verdict.ACCEPTED
    assert "not in paystack's published list" in delivery.reason
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL


def test_a_listed_ip_leaves_no_warning_and_a_garbage_forwarded_for_is_stored_as_null(client, user, make_deposit,
                                                                                   http, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)
    http.add(method, url, json=answer)
    payload, _ = funding_event("paystack", deposit.reference)
    body = body_of(payload)
    headers = sign("paystack", body)
    post_webhook(client, "paystack", body, {**headers, "X-Forwarded-For": "52.31.139.75"})
    post_webhook(client, "paystack", body, {**headers, "X-Forwarded-For": "not-an-ip"})
    first, second = WebhookDelivery.objects.order_by("pk")
    assert (first.remote_ip, first.reason) == ("52.31.139.75", "")
    assert second.remote_ip is None
