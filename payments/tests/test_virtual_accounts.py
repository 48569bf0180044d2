"""Virtual accounts end to end: requesting one (Paystack, Monnify, Flutterwave), a transfer into
it crediting its owner once, a transfer the gateway does not confirm for that account
crediting nobody, and one gateway transaction never backing two credits."""

from __future__ import annotations

import json

import pytest
import responses
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserFactory
from audit.services import Actor
from config.errors import InvalidState
from config.models import Alert
from payments import services
from payments.models import Deposit, VirtualAccount, VirtualAccountRequest, WebhookEvent
from payments.tests.conftest import post_webhook
from payments.tests.helpers import BASE_URLS, body_of, fixture, funding_event, sign, verify_answer
from wallets.invariants import assert_ledger_invariants
from wallets.models import Journal
from wallets.tests.factories import wallet_for
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
VA_URL = "/api/v1/wallet/virtual-accounts"
BVN = {"id_type": "bvn", "id_number": "22212345678"}


def deliver(client, gateway: str, payload: dict, **sign_kwargs):
    body = body_of(payload)
    response = post_webhook(client, gateway, body, sign(gateway, body, **sign_kwargs))
    assert response.status_code == 200, response.content
    return response


def fund_journals(deposit: Deposit) -> list[Journal]:
    return list(Journal.objects.filter(idempotency_key=f"fund:{deposit.gateway}:{deposit.reference}"))


# --- request an account, then a transfer into it (gap 5) ---------------------------------------------------


def request_account(user_client, client, http, gateway: str, user) -> VirtualAccount:
    """POST /wallet/virtual-accounts the way each gateway answers it (Paystack: assigned by webhook)."""
    if gateway == "paystack":
        http.add(responses.POST, f"{BASE_URLS['paystack']}/dedicated_account/assign",
                 json={"status": True, "message": "Assign dedicated account in progress"})
        assert user_client.post(VA_URL, {"gateway": "paystack"}, format="json").status_code == 202
        assigned = fixture("paystack", "dva_assign_success")
        assigned["data"]["customer"]["email"] = user.email
        deliver(client, "paystack", assigned)
    elif gateway == "monnify":
        call = http.add(responses.POST, f"{BASE_URLS['monnify']}/api/v2/bank-transfer/reserved-accounts",
                        json=fixture("monnify", "reserved_account"))
        assert user_client.post(VA_URL, {"gateway": "monnify", **BVN}, format="json").status_code == 201
        assert json.loads(call.calls[0].request.body)["bvn"] == BVN["id_number"]
    else:
        call = http.add(responses.POST, f"{BASE_URLS['flutterwave']}/virtual-account-numbers",
                        json=fixture("flutterwave", "va_create"))
        response = user_client.post(VA_URL, {"gateway": "flutterwave", **BVN}, format="json")
        assert response.status_code == 201, response.content
        sent = json.loads(call.calls[0].request.body)
        assert (sent["is_permanent"], sent["bvn"]) == (True, BVN["id_number"])
        assert sent["tx_ref"] == VirtualAccountRequest.objects.get(gateway="flutterwave").account_reference
    return VirtualAccount.objects.filter(gateway=gateway, user=user).order_by("pk").last()


def transfer_into(http, gateway: str, account: VirtualAccount) -> tuple[dict, int]:
    """(the gateway's notification of a transfer into `account`, kobo), its verify answered."""
    if gateway == "paystack":
        answer = fixture("paystack", "verify_success", REF="1641389813553e5f7r8yf3t")
        answer["data"].update(id=1504248187, amount=2_000_000, fees=10_000, channel="dedicated_nuban")
        answer["data"]["customer"]["customer_code"] = account.customer_reference
        answer["data"]["authorization"] = {"receiver_bank_account_number": account.account_number}
        http.add(responses.GET, f"{BASE_URLS['paystack']}/transaction/verify/1641389813553e5f7r8yf3t", json=answer)
        return fixture("paystack", "charge_success_dva"), 2_000_000
    if gateway == "monnify":
        reference = "MNFY|04|20261006112842|000170"
        answer = fixture("monnify", "verify_paid", REF=reference)
        answer["responseBody"].update(transactionReference=reference, amountPaid="3000", settlementAmount="2990.00",
                                      product={"type": "RESERVED_ACCOUNT", "reference": account.customer_reference})
        http.add(responses.GET, f"{BASE_URLS['monnify']}/api/v2/transactions/MNFY%7C04%7C20261006112842%7C000170",
                 json=answer)
        payload = fixture("monnify", "reserved_account_transaction", ACCOUNT_REF=account.customer_reference)
        payload["eventData"]["destinationAccountInformation"]["accountNumber"] = account.account_number
        return payload, 300_000
    answer = fixture("flutterwave", "verify_success", REF=account.customer_reference)
    answer["data"].update(id=8321945, amount=3000, app_fee=15, payment_type="bank_transfer")
    http.add(responses.GET, f"{BASE_URLS['flutterwave']}/transactions/8321945/verify", json=answer)
    return fixture("flutterwave", "charge_completed_va", VA_REF=account.customer_reference), 300_000


@pytest.mark.parametrize("gateway", ["paystack", "monnify", "flutterwave"])
def test_a_transfer_into_a_requested_account_credits_its_owner_once(user_client, client, user, http, gateway):
    account = request_account(user_client, client, http, gateway, user)
    listed = user_client.get(VA_URL).json()
    assert account.account_number in [a["account_number"] for a in listed["results"]]
    payload, kobo = transfer_into(http, gateway, account)

    for _ in range(2):
        deliver(client, gateway, payload)

    deposit = Deposit.objects.get(source=Deposit.Source.VIRTUAL_ACCOUNT)
    assert (deposit.user_id, deposit.status, deposit.paid_kobo) == (user.pk, Deposit.Status.SUCCESSFUL, kobo)
    assert deposit.account_link_signed  # each of these notifications is signed over its body
    assert len(fund_journals(deposit)) == 1
    assert wallet_for(user).balance_kobo == kobo  # platform bears the fee in the test settings
    assert_ledger_invariants()


# --- a notification re-pointed at someone else's account (gap 1) ----------------------------------------


@pytest.fixture
def victim_and_other(make_deposit, user, http):
    """A real ₦5,000 card checkout of `user` (Flutterwave transaction 285959875) and another
    customer's static account."""
    deposit = make_deposit(user, "flutterwave")
    method, url, answer = verify_answer("flutterwave", deposit.reference)
    http.add(method, url, json=answer)
    http.add(responses.GET, f"{BASE_URLS['flutterwave']}/transactions/verify_by_reference", json=answer)
    other = UserFactory()
    account = VirtualAccount.objects.create(user=other, gateway="flutterwave", bank_name="WEMA BANK",
                                            account_number="7824822527", customer_reference="VA99-FLU-abcd")
    return deposit, other, account


def forged_copy(account: VirtualAccount) -> dict:
    """The genuine charge.completed of the card payment with tx_ref swapped for the other
    customer's account reference: possible with the legacy verif-hash, which does not cover
    the body."""
    return fixture("flutterwave", "charge_completed", REF=account.customer_reference)


def test_a_tampered_copy_after_the_genuine_credit_credits_nobody_else(client, user, http, victim_and_other):
    deposit, other, account = victim_and_other
    deliver(client, "flutterwave", funding_event("flutterwave", deposit.reference)[0], legacy=True)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    before = snapshot()

    deliver(client, "flutterwave", forged_copy(account), legacy=True)

    assert wallet_for(other).balance_kobo == 0
    assert wallet_for(user).balance_kobo == 500_000
    assert Deposit.objects.count() == 1  # no transfer deposit is opened for a credited transaction
    forged = WebhookEvent.objects.order_by("pk").last()
    assert (forged.outcome, forged.deposit_id, forged.body_signed) == (
        WebhookEvent.Outcome.ALREADY_CREDITED, deposit.pk, False)
    assert snapshot()["journals"] == before["journals"]


def test_a_tampered_copy_before_the_genuine_one_goes_to_review_and_the_genuine_still_credits(
    client, user, http, victim_and_other
):
    deposit, other, account = victim_and_other
    deliver(client, "flutterwave", forged_copy(account), legacy=True)

    transfer = Deposit.objects.get(source=Deposit.Source.VIRTUAL_ACCOUNT)
    assert (transfer.user_id, transfer.status, transfer.account_link_signed) == (
        other.pk, Deposit.Status.NEEDS_REVIEW, False)
    assert "VA99-FLU-abcd" in transfer.status_reason and deposit.reference in transfer.status_reason
    assert Alert.objects.filter(kind="deposit_review").exists()

    # The genuine delivery has its own key (tx_ref is part of it), so it is processed.
    deliver(client, "flutterwave", funding_event("flutterwave", deposit.reference)[0], legacy=True)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL
    assert (wallet_for(user).balance_kobo, wallet_for(other).balance_kobo) == (500_000, 0)

    # Staff cannot credit the re-pointed transfer either.
    staff = Actor.for_user(UserFactory(is_staff=True))
    with pytest.raises(InvalidState):
        services.deposit_resolve(deposit_id=transfer.pk, action="credit", actor=staff, reason="customer insists")
    assert wallet_for(other).balance_kobo == 0
    assert_ledger_invariants()


def test_a_transfer_the_gateway_answer_does_not_name_is_credited_only_from_a_signed_notification(
    client, user, http
):
    """Legacy-signed (origin only) and a verify answer without the account: not credited."""
    account = VirtualAccount.objects.create(user=user, gateway="flutterwave", bank_name="WEMA BANK",
                                            account_number="7824822527", customer_reference="VA1-FLU-0001")
    answer = fixture("flutterwave", "verify_success", REF="")
    answer["data"].update(id=8321945, amount=3000)
    http.add(responses.GET, f"{BASE_URLS['flutterwave']}/transactions/8321945/verify", json=answer)
    deliver(client, "flutterwave", fixture("flutterwave", "charge_completed_va", VA_REF=account.customer_reference),
            legacy=True)
    deposit = Deposit.objects.get()
    assert deposit.status == Deposit.Status.NEEDS_REVIEW
    assert "names the virtual account" in deposit.status_reason
    assert wallet_for(user).balance_kobo == 0


def test_one_gateway_transaction_never_backs_two_credited_deposits(user, make_deposit):
    first = make_deposit(user, "flutterwave", status="successful", credited_kobo=1, paid_kobo=1,
                         gateway_transaction_id="285959875")
    make_deposit(user, "flutterwave", status="needs_review", gateway_transaction_id="285959875")  # an unverified claim
    with pytest.raises(IntegrityError), transaction.atomic():
        make_deposit(user, "flutterwave", status="successful", credited_kobo=1, paid_kobo=1,
                     gateway_transaction_id="285959875")
    make_deposit(user, "paystack", status="successful", credited_kobo=1, paid_kobo=1,
                 gateway_transaction_id="285959875")  # another gateway's namespace
    assert Deposit.objects.filter(gateway_transaction_id=first.gateway_transaction_id).count() == 3


def test_a_second_deposit_verified_as_the_same_transaction_goes_to_review(client, user, make_deposit, http):
    """A checkout whose verify answer is a transaction that already credited another deposit."""
    credited = make_deposit(user, "paystack", status="successful", credited_kobo=500_000, paid_kobo=500_000,
                            gateway_transaction_id="302961")
    deposit = make_deposit(user, "paystack")
    method, url, answer = verify_answer("paystack", deposit.reference)  # data.id 302961
    http.add(method, url, json=answer)
    payload, _ = funding_event("paystack", deposit.reference, txn_id="302962")
    deliver(client, "paystack", payload)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.NEEDS_REVIEW
    assert credited.reference in deposit.status_reason
    assert not fund_journals(deposit)


# --- Paystack assignment that fails (gap 10) -----------------------------------------------------------


def test_a_failed_paystack_assignment_lets_the_customer_ask_again(user_client, client, user, http):
    assign = http.add(responses.POST, f"{BASE_URLS['paystack']}/dedicated_account/assign",
                      json={"status": True, "message": "Assign dedicated account in progress"})
    assert user_client.post(VA_URL, {"gateway": "paystack"}, format="json").json()["status"] == "pending"
    # While it is in progress, asking again does not call Paystack again.
    assert user_client.post(VA_URL, {"gateway": "paystack"}, format="json").json()["status"] == "pending"
    assert assign.call_count == 1

    deliver(client, "paystack", fixture("paystack", "dva_assign_failed", EMAIL=user.email.upper()))

    request = VirtualAccountRequest.objects.get()
    assert (request.status, request.error) == ("failed", "assignment failed: failed")
    assert not VirtualAccount.objects.exists()
    again = user_client.post(VA_URL, {"gateway": "paystack", **BVN}, format="json")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    assert assign.call_count == 2
    assert json.loads(assign.calls[1].request.body)["bvn"] == BVN["id_number"]
