"""Recovery (cases 30, 32, 37, crash between store and process), a refund before its funding,
fee legs, and the staff re-process service. Refunds and chargebacks: test_reversals.py."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import requests
from django.utils import timezone

from audit.models import AuditLog
from audit.services import Actor
from payments import recovery, webhooks
from payments.models import Deposit, WebhookEvent
from payments.tests.conftest import post_webhook
from payments.tests.helpers import body_of, fixture, funding_event, sign, verify_answer
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for

pytestmark = pytest.mark.django_db


def fund_journals(reference: str) -> list[Journal]:
    return list(Journal.objects.filter(idempotency_key__endswith=f":{reference}", kind="deposit"))


def paystack_delivery(client, deposit, payload=None):
    payload = payload or funding_event("paystack", deposit.reference, amount_kobo=deposit.amount_kobo)[0]
    body = body_of(payload)
    return post_webhook(client, "paystack", body, sign("paystack", body))


def later(minutes: float) -> timezone.datetime:
    return timezone.now() + timedelta(minutes=minutes)


# --- crash between storing and processing ------------------------------------------------------------


def test_an_event_stored_but_never_processed_is_recovered_by_the_sweep(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)
    http.add(method, url, json=answer)
    # The process dies after the event row is committed, before the task is queued.
    with mock.patch("payments.tasks.webhook_event_process.delay_on_commit") as lost:
        assert paystack_delivery(client, deposit).status_code == 200
    assert lost.called
    event = WebhookEvent.objects.get()
    assert event.processed_at is None
    assert not fund_journals(deposit.reference)

    assert recovery.deposits_sweep(now=timezone.now())["events"] == 0  # not stale yet
    counts = recovery.deposits_sweep(now=later(3))

    assert counts["events"] == 1
    event.refresh_from_db()
    assert event.outcome == WebhookEvent.Outcome.CREDITED
    assert len(fund_journals(deposit.reference)) == 1
    assert recovery.deposits_sweep(now=later(10))["events"] == 0  # processed: not taken again
    assert len(fund_journals(deposit.reference)) == 1
    assert_ledger_invariants()


def test_a_redelivery_of_a_stale_unprocessed_event_dispatches_it_again(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    http.add(*verify_answer("paystack", deposit.reference)[:2], json=verify_answer("paystack", deposit.reference)[2])
    with mock.patch("payments.tasks.webhook_event_process.delay_on_commit"):
        paystack_delivery(client, deposit)
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    paystack_delivery(client, deposit)  # the gateway retries: same event
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.CREDITED
    assert len(fund_journals(deposit.reference)) == 1


# --- the gateway times out during the verify (case 32) -------------------------------------------------


def test_a_verify_timeout_answers_200_and_the_sweep_credits_once_later(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)
    http.add(method, url, body=requests.ReadTimeout())

    assert paystack_delivery(client, deposit).status_code == 200

    event = WebhookEvent.objects.get()
    assert (event.outcome, event.processed_at) == (WebhookEvent.Outcome.ERROR, None)
    assert "verify" in event.error
    assert not fund_journals(deposit.reference)
    http.replace(method, url, json=answer)
    recovery.deposits_sweep(now=later(3))
    recovery.deposits_sweep(now=later(30))
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    assert len(fund_journals(deposit.reference)) == 1


# --- the reconciler (case 37) ---------------------------------------------------------------------------


def test_the_sweep_verifies_a_deposit_whose_webhook_never_came(user, make_deposit, http):
    deposit = make_deposit(user, "paystack", next_check_at=timezone.now() + timedelta(minutes=3))
    method, url, answer = verify_answer("paystack", deposit.reference)
    verify = http.add(method, url, json=answer)

    assert recovery.deposits_sweep(now=timezone.now())["verified"] == 0  # not due yet
    assert recovery.deposits_sweep(now=later(4))["credited"] == 1
    assert recovery.deposits_sweep(now=later(60))["verified"] == 0  # no longer initialized

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    assert verify.call_count == 1
    assert len(fund_journals(deposit.reference)) == 1


def test_the_sweep_backs_off_then_abandons_and_a_late_payment_still_credits(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack", next_check_at=timezone.now())
    method, url, _ = verify_answer("paystack", deposit.reference)
    http.add(method, url, json=verify_answer("paystack", deposit.reference, status="abandoned")[2])

    recovery.deposits_sweep(now=later(1))
    deposit.refresh_from_db()
    assert deposit.check_attempts == 1
    assert deposit.next_check_at > later(5)  # backoff: not asked again at the next beat
    assert recovery.deposits_sweep(now=later(2))["verified"] == 0

    Deposit.objects.filter(pk=deposit.pk).update(created_at=timezone.now() - timedelta(hours=25),
                                                 next_check_at=timezone.now())
    assert recovery.deposits_sweep(now=later(1))["abandoned"] == 1
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.ABANDONED

    http.replace(method, url, json=verify_answer("paystack", deposit.reference)[2])
    paystack_delivery(client, deposit)  # paid after all
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    assert len(fund_journals(deposit.reference)) == 1


# --- refunds and chargebacks (case 30) -------------------------------------------------------------------


def credited_deposit(client, user, make_deposit, http, gateway="paystack"):
    deposit = make_deposit(user, gateway)
    method, url, answer = verify_answer(gateway, deposit.reference)
    http.add(method, url, json=answer)
    paystack_delivery(client, deposit)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    return deposit


def refund_event(deposit):
    return fixture("paystack", "refund_processed", REF=deposit.reference)


def test_a_refund_before_the_funding_is_credited_waits_and_never_goes_negative(client, user, make_deposit, http):
    deposit = make_deposit(user, "paystack")
    paystack_delivery(client, deposit, refund_event(deposit))
    refund = WebhookEvent.objects.get(event_type="refund.processed")
    assert (refund.outcome, refund.processed_at) == (WebhookEvent.Outcome.ERROR, None)
    assert not Journal.objects.exists()

    method, url, answer = verify_answer("paystack", deposit.reference)
    http.add(method, url, json=answer)
    paystack_delivery(client, deposit)  # the funding arrives
    recovery.deposits_sweep(now=later(5))  # the refund is taken again
    refund.refresh_from_db()
    assert refund.outcome == WebhookEvent.Outcome.REVERSED
    assert Journal.objects.filter(kind="chargeback").count() == 1
    assert wallet_for(user).balance_kobo == 0
    assert_ledger_invariants()


# --- fees (ADR 0003) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bearer", "credited", "revenue"), [("platform", 500_000, 0), ("customer", 491_500, 8_500)])
def test_fee_legs_follow_the_fee_bearer(client, user, make_deposit, http, settings, bearer, credited, revenue):
    settings.PAYMENT_GATEWAYS["paystack"]["FEE_BEARER"] = bearer
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)  # fees: 8500 kobo
    http.add(method, url, json=answer)
    paystack_delivery(client, deposit)

    journal = Journal.objects.get(idempotency_key=f"fund:paystack:{deposit.reference}")
    legs = {entry.account.code if entry.account.kind == "system" else "wallet": entry.amount_kobo
            for entry in journal.entries.select_related("account")}
    expected = {"clearing:paystack": -(500_000 - 8_500), "fees": -8_500, "wallet": credited}
    if revenue:
        expected["revenue"] = revenue
    assert legs == expected
    assert sum(legs.values()) == 0
    deposit.refresh_from_db()
    assert (deposit.paid_kobo, deposit.fee_kobo, deposit.credited_kobo) == (500_000, 8_500, credited)
    assert wallet_for(user).balance_kobo == credited


def test_the_credit_emits_a_callback_a_receipt_and_an_audit_record(client, user, make_deposit, http, mailoutbox):
    with mock.patch("payments.services.callback_emit") as emit:
        deposit = credited_deposit(client, user, make_deposit, http)
    emit.assert_called_once()
    assert emit.call_args.kwargs["event_type"] == "deposit.successful"
    assert emit.call_args.kwargs["event_id"] == f"deposit.successful:{deposit.reference}"
    assert [m.to for m in mailoutbox] == [[user.email]]
    assert "5,000.00" in mailoutbox[0].subject
    assert AuditLog.objects.filter(action="deposit.credit", target_id=str(deposit.pk)).count() == 1


# --- staff re-process ------------------------------------------------------------------------------------


def test_staff_reprocess_is_idempotent_and_audited(client, user, make_deposit, http):
    from accounts.tests.factories import UserFactory

    staff_user = UserFactory(is_staff=True)
    deposit = credited_deposit(client, user, make_deposit, http)
    event = WebhookEvent.objects.get()
    for _ in range(2):
        outcome = webhooks.webhook_event_reprocess(event_id=event.pk, actor=Actor.for_user(staff_user),
                                                   reason="customer asked")
        assert outcome == WebhookEvent.Outcome.ALREADY_CREDITED
    assert len(fund_journals(deposit.reference)) == 1
    assert AuditLog.objects.filter(action="webhook_event.reprocess").count() == 2
    assert wallet_for(user).balance_kobo == 500_000


# --- a transfer before its dedicated account is known (case 31) -----------------------------------------


def test_a_transfer_before_the_account_assignment_credits_once_after_it(client, user, http):
    import responses

    from payments.models import VirtualAccountRequest
    from payments.tests.helpers import BASE_URLS

    VirtualAccountRequest.objects.create(user=user, gateway="paystack", account_reference="VA-x")
    funding = fixture("paystack", "charge_success_dva")
    answer = fixture("paystack", "verify_success", REF="1641389813553e5f7r8yf3t")
    answer["data"].update(id=1504248187, amount=2_000_000, fees=10_000)
    answer["data"]["customer"]["customer_code"] = "CUS_dk7bs9mj8ygrtid"
    http.add(responses.GET, f"{BASE_URLS['paystack']}/transaction/verify/1641389813553e5f7r8yf3t", json=answer)
    body = body_of(funding)
    post_webhook(client, "paystack", body, sign("paystack", body))
    orphan = WebhookEvent.objects.get()
    assert (orphan.outcome, orphan.processed_at) == (WebhookEvent.Outcome.ORPHAN, None)
    assert not Deposit.objects.exists()

    assigned = fixture("paystack", "dva_assign_success")
    assigned["data"]["customer"]["email"] = user.email
    body = body_of(assigned)
    post_webhook(client, "paystack", body, sign("paystack", body))
    recovery.deposits_sweep(now=later(3))
    recovery.deposits_sweep(now=later(10))

    orphan.refresh_from_db()
    assert orphan.outcome == WebhookEvent.Outcome.CREDITED
    deposit = Deposit.objects.get()
    assert (deposit.user_id, deposit.status, deposit.amount_kobo) == (user.pk, "successful", 2_000_000)
    assert len(fund_journals(deposit.reference)) == 1
    assert wallet_for(user).balance_kobo == 2_000_000
    assert_ledger_invariants()


def test_an_orphan_is_looked_at_a_bounded_number_of_times(client, http):
    payload, _ = funding_event("paystack", "DEP-NOSUCHREFERENCE")
    body = body_of(payload)
    post_webhook(client, "paystack", body, sign("paystack", body))
    for minute in range(3, 3 + 3 * (recovery.MAX_EVENT_ATTEMPTS + 5), 3):
        recovery.deposits_sweep(now=later(minute))
    event = WebhookEvent.objects.get()
    assert event.attempts == recovery.MAX_EVENT_ATTEMPTS
    assert event.outcome == WebhookEvent.Outcome.ORPHAN
    assert len(http.calls) == 0  # an unknown reference never costs a gateway call
