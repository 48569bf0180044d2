"""Refunds and chargebacks, end to end per gateway (reference §9 case 30; ADR 0005): one
journal per refund or lost dispute, partial ones add up, never more than was paid, the
wallet never debited more than it was credited, a shortfall books a receivable, freezes the
wallet and raises the chargeback_shortfall alert.

Chapa (ETB) and Mercado Pago (BRL) run here with their currency set to naira: the ledger has
no FX, and the flow under test does not depend on the currency.
"""

from __future__ import annotations

import pytest
import responses

from config.models import Alert
from payments.models import Deposit, DepositReversal, WebhookEvent
from payments.tests.conftest import post_webhook
from payments.tests.helpers import BASE_URLS, body_of, fixture, funding_event, sign, verify_answer
from wallets.invariants import assert_ledger_invariants
from wallets.models import Entry, Journal, LedgerAccount
from wallets.services import Leg, journal_post, system_account
from wallets.tests.factories import wallet_for
from wallets.tests.helpers import snapshot

pytestmark = pytest.mark.django_db
REFUNDING = ("paystack", "flutterwave", "monnify", "stripe", "mercadopago", "chapa")
CHARGING_BACK = ("paystack", "stripe", "mercadopago")


@pytest.fixture(autouse=True)
def naira_everywhere(settings):
    for name in ("chapa", "mercadopago"):
        settings.PAYMENT_GATEWAYS[name].update(CURRENCY="NGN", ENABLED=True)


def deliver(client, gateway: str, payload: dict, query: dict | None = None, **sign_kwargs):
    body = body_of(payload)
    response = post_webhook(client, gateway, body, sign(gateway, body, query=query, **sign_kwargs), query)
    assert response.status_code == 200, response.content
    return response


def credited(client, http, make_deposit, user, gateway: str, amount_kobo: int = 500_000) -> Deposit:
    deposit = make_deposit(user, gateway, amount_kobo=amount_kobo)
    method, url, answer = verify_answer(gateway, deposit.reference, amount_kobo=amount_kobo, currency="NGN")
    http.add(method, url, json=answer)
    payload, query = funding_event(gateway, deposit.reference, amount_kobo=amount_kobo)
    if gateway == "chapa":
        payload["currency"] = "NGN"
    deliver(client, gateway, payload, query)
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.SUCCESSFUL, deposit.status_reason
    return deposit


def refund(client, http, gateway: str, deposit: Deposit, *, amount_kobo: int, number: int = 1,
           total_kobo: int | None = None) -> None:
    """The gateway's refund notification for one refund of `amount_kobo` (`total_kobo`: the
    running total where the gateway reports one)."""
    total = total_kobo if total_kobo is not None else amount_kobo
    naira = amount_kobo / 100
    if gateway == "paystack":
        payload = fixture("paystack", "refund_processed", REF=deposit.reference)
        payload["data"].update(amount=str(amount_kobo), refund_reference=f"RF{number}")
        return deliver(client, gateway, payload)
    if gateway == "flutterwave":
        payload = fixture("flutterwave", "refund_completed")
        payload["data"]["id"] = 75900 + number
        answer = fixture("flutterwave", "refund_fetch")
        answer["data"].update(id=75900 + number, amount_refunded=naira)
        http.add(responses.GET, f"{BASE_URLS['flutterwave']}/refunds/{75900 + number}", json=answer)
        return deliver(client, gateway, payload)
    if gateway == "monnify":
        payload = fixture("monnify", "successful_refund", REF=deposit.reference)
        payload["eventData"].update(refundAmount=naira, refundReference=f"RF-{number}")
        return deliver(client, gateway, payload)
    if gateway == "stripe":
        payload = fixture("stripe", "charge_refunded")
        payload["id"] = f"evt_refund_{number}"
        payload["data"]["object"].update(amount_refunded=total, refunded=total == deposit.paid_kobo)
        return deliver(client, gateway, payload)
    if gateway == "mercadopago":
        answer = fixture("mercadopago", "payment_partially_refunded", REF=deposit.reference)
        answer.update(currency_id="NGN", transaction_amount=deposit.paid_kobo / 100,
                      transaction_amount_refunded=total / 100)
        http.replace(responses.GET, f"{BASE_URLS['mercadopago']}/v1/payments/999999999", json=answer)
        payload, query = funding_event("mercadopago", deposit.reference)
        payload["id"] = 20000 + number
        return deliver(client, gateway, payload, query)
    payload = fixture("chapa", "charge_refunded", REF=deposit.reference)
    payload.update(currency="NGN", amount=f"{naira:.2f}", refund_reference=f"RF-{number}")
    return deliver(client, gateway, payload)


def chargebacks(deposit: Deposit) -> list[Journal]:
    return list(Journal.objects.filter(kind="chargeback", reference=deposit.reference).order_by("id"))


def taken_from_wallet(deposit: Deposit) -> int:
    return sum(-e.amount_kobo for e in Entry.objects.filter(journal__in=chargebacks(deposit))
               if e.account.kind == "customer") + receivable(deposit)


def receivable(deposit: Deposit) -> int:
    return -sum(e.amount_kobo for e in Entry.objects.filter(
        journal__in=chargebacks(deposit), account=system_account("receivables")))


# --- partial refunds add up, once each (gap 2) ---------------------------------------------------


@pytest.mark.parametrize("gateway", REFUNDING)
def test_two_partial_refunds_each_post_their_own_journal(client, user, make_deposit, http, gateway):
    deposit = credited(client, http, make_deposit, user, gateway)

    refund(client, http, gateway, deposit, amount_kobo=100_000, number=1, total_kobo=100_000)
    refund(client, http, gateway, deposit, amount_kobo=200_000, number=2, total_kobo=300_000)
    refund(client, http, gateway, deposit, amount_kobo=200_000, number=2, total_kobo=300_000)  # redelivered

    deposit.refresh_from_db()
    assert (deposit.status, deposit.reversed_kobo) == (Deposit.Status.SUCCESSFUL, 300_000)
    assert len(chargebacks(deposit)) == 2
    assert DepositReversal.objects.filter(deposit=deposit).count() == 2
    assert wallet_for(user).balance_kobo == 200_000
    assert all(j.idempotency_key.startswith(f"chargeback:{gateway}:{deposit.reference}:refund:")
               for j in chargebacks(deposit))
    assert_ledger_invariants()


@pytest.mark.parametrize("gateway", REFUNDING)
def test_refunds_stop_at_what_was_paid_and_the_last_one_reverses_the_deposit(client, user, make_deposit, http,
                                                                               gateway):
    deposit = credited(client, http, make_deposit, user, gateway)
    refund(client, http, gateway, deposit, amount_kobo=300_000, number=1, total_kobo=300_000)
    refund(client, http, gateway, deposit, amount_kobo=400_000, number=2, total_kobo=500_000)  # only 200k left
    refund(client, http, gateway, deposit, amount_kobo=100_000, number=3, total_kobo=500_000)  # nothing left

    deposit.refresh_from_db()
    assert (deposit.status, deposit.reversed_kobo) == (Deposit.Status.REVERSED, 500_000)
    assert taken_from_wallet(deposit) == 500_000
    assert wallet_for(user).balance_kobo == 0
    assert_ledger_invariants()


def test_stripe_running_totals_out_of_order_post_the_highest_once(client, user, make_deposit, http):
    deposit = credited(client, http, make_deposit, user, "stripe")
    refund(client, http, "stripe", deposit, amount_kobo=200_000, number=2, total_kobo=300_000)
    refund(client, http, "stripe", deposit, amount_kobo=100_000, number=1, total_kobo=100_000)  # older, late
    deposit.refresh_from_db()
    assert deposit.reversed_kobo == 300_000
    assert [j.metadata["amount_kobo"] for j in chargebacks(deposit)] == [300_000]


# --- chargebacks and the shortfall path (gaps 2, 3, 4, 7) -----------------------------------------


def chargeback(client, http, gateway: str, deposit: Deposit) -> None:
    if gateway == "paystack":
        return deliver(client, gateway, fixture("paystack", "dispute_resolve", REF=deposit.reference))
    if gateway == "stripe":
        return deliver(client, gateway, fixture("stripe", "dispute_closed_lost"))
    answer = fixture("mercadopago", "payment_charged_back", REF=deposit.reference)
    answer.update(currency_id="NGN", transaction_amount=deposit.paid_kobo / 100)
    http.replace(responses.GET, f"{BASE_URLS['mercadopago']}/v1/payments/999999999", json=answer)
    payload, query = funding_event("mercadopago", deposit.reference)
    payload["id"] = 30001
    return deliver(client, gateway, payload, query)


@pytest.mark.parametrize("gateway", CHARGING_BACK)
def test_a_lost_dispute_after_the_money_was_spent_books_a_receivable_freezes_and_alerts(
    client, user, make_deposit, http, gateway
):
    deposit = credited(client, http, make_deposit, user, gateway)
    wallet = wallet_for(user)
    journal_post(key=f"transfer:test:{gateway}", kind="transfer",
                 legs=[Leg(wallet.pk, -400_000), Leg(system_account("revenue").pk, 400_000)])

    chargeback(client, http, gateway, deposit)
    chargeback(client, http, gateway, deposit)  # redelivered

    deposit.refresh_from_db()
    assert (deposit.status, deposit.reversed_kobo) == (Deposit.Status.REVERSED, 500_000)
    [journal] = chargebacks(deposit)
    wallet = wallet_for(user)
    assert (wallet.balance_kobo, wallet.status) == (0, LedgerAccount.Status.FROZEN)
    assert receivable(deposit) == 400_000
    alert = Alert.objects.get(kind="chargeback_shortfall")
    assert alert.dedupe_key == journal.idempotency_key
    assert alert.details["receivable_kobo"] == 400_000
    assert_ledger_invariants()


def test_a_paystack_dispute_alerts_staff_when_opened_and_only_a_lost_one_moves_money(client, user, make_deposit,
                                                                                      http):
    deposit = credited(client, http, make_deposit, user, "paystack")
    before = snapshot()
    deliver(client, "paystack", fixture("paystack", "dispute_create", REF=deposit.reference))
    declined = fixture("paystack", "dispute_resolve", REF=deposit.reference)
    declined["data"].update(id=358001, resolution="declined")
    deliver(client, "paystack", declined)

    assert Alert.objects.filter(kind="deposit_dispute").count() == 1
    assert snapshot()["journals"] == before["journals"]
    assert wallet_for(user).balance_kobo == 500_000

    accepted = fixture("paystack", "dispute_resolve", REF=deposit.reference)
    accepted["data"].update(id=358002, resolution="merchant-accepted", refund_amount=200_000)
    deliver(client, "paystack", accepted)
    deposit.refresh_from_db()
    assert (deposit.status, deposit.reversed_kobo) == (Deposit.Status.SUCCESSFUL, 200_000)
    assert [j.idempotency_key for j in chargebacks(deposit)] == [
        f"chargeback:paystack:{deposit.reference}:chargeback:dispute-358002"]
    assert wallet_for(user).balance_kobo == 300_000


# --- refunds whose body is not signed are confirmed with the gateway (gap 4) ---------------------------


def test_a_legacy_signed_flutterwave_refund_posts_what_the_refund_api_says(client, user, make_deposit, http):
    deposit = credited(client, http, make_deposit, user, "flutterwave")
    payload = fixture("flutterwave", "refund_completed")
    payload["data"]["AmountRefunded"] = 5000  # the body claims the whole payment
    answer = fixture("flutterwave", "refund_fetch")  # the API: ₦1,000
    lookup = http.add(responses.GET, f"{BASE_URLS['flutterwave']}/refunds/75923", json=answer)

    deliver(client, "flutterwave", payload, legacy=True)

    assert lookup.call_count == 1
    deposit.refresh_from_db()
    assert deposit.reversed_kobo == 100_000
    assert wallet_for(user).balance_kobo == 400_000


def test_a_refund_of_another_transaction_goes_to_staff(client, user, make_deposit, http):
    deposit = credited(client, http, make_deposit, user, "flutterwave")
    answer = fixture("flutterwave", "refund_fetch")
    answer["data"]["tx_id"] = 111
    http.add(responses.GET, f"{BASE_URLS['flutterwave']}/refunds/75923", json=answer)
    before = snapshot()
    deliver(client, "flutterwave", fixture("flutterwave", "refund_completed"))
    assert WebhookEvent.objects.get(kind="refund").outcome == WebhookEvent.Outcome.NEEDS_REVIEW
    assert Alert.objects.filter(kind="deposit_reversal_review").exists()
    assert snapshot()["journals"] == before["journals"]
    deposit.refresh_from_db()
    assert deposit.reversed_kobo == 0


def test_a_chapa_refund_with_only_the_origin_signature_moves_nothing_and_goes_to_staff(client, user, make_deposit,
                                                                                        http):
    deposit = credited(client, http, make_deposit, user, "chapa")
    payload = fixture("chapa", "charge_refunded", REF=deposit.reference)
    payload.update(currency="NGN", amount="5000.00")
    before = snapshot()

    deliver(client, "chapa", payload, legacy=True)

    event = WebhookEvent.objects.get(kind="refund")
    assert (event.body_signed, event.outcome) == (False, WebhookEvent.Outcome.NEEDS_REVIEW)
    assert Alert.objects.filter(kind="deposit_reversal_review").exists()
    assert snapshot()["journals"] == before["journals"]
    assert wallet_for(user).balance_kobo == 500_000


def test_a_refund_in_another_currency_moves_nothing(client, user, make_deposit, http):
    deposit = credited(client, http, make_deposit, user, "paystack")
    payload = fixture("paystack", "refund_processed", REF=deposit.reference)
    payload["data"]["currency"] = "USD"
    deliver(client, "paystack", payload)
    assert WebhookEvent.objects.get(kind="refund").outcome == WebhookEvent.Outcome.NEEDS_REVIEW
    assert not chargebacks(deposit)


# --- the clearing account after a full reversal, both fee modes (gap 12) --------------------------------


def legs(journal: Journal) -> dict[str, int]:
    return {e.account.code if e.account.kind == "system" else "wallet": e.amount_kobo
            for e in journal.entries.select_related("account")}


@pytest.mark.parametrize(("bearer", "funding", "reversal"), [
    ("platform",
     {"clearing:paystack": -491_500, "fees": -8_500, "wallet": 500_000},
     {"clearing:paystack": 500_000, "wallet": -500_000}),
    ("customer",
     {"clearing:paystack": -491_500, "fees": -8_500, "wallet": 491_500, "revenue": 8_500},
     {"clearing:paystack": 500_000, "wallet": -491_500, "revenue": -8_500}),
])
def test_a_full_refund_leaves_clearing_at_the_fee_the_gateway_keeps(client, user, make_deposit, http, settings,
                                                                     bearer, funding, reversal):
    """Paystack settles paid - fee and takes back the whole refund; its fee is not returned
    (support.paystack.com/en/articles/2127106). So clearing ends at +fee in both modes, the
    wallet and revenue at 0, and the fee stays an expense: ADR 0005."""
    settings.PAYMENT_GATEWAYS["paystack"]["FEE_BEARER"] = bearer
    deposit = credited(client, http, make_deposit, user, "paystack")  # verify: paid 500,000, fees 8,500
    refund(client, http, "paystack", deposit, amount_kobo=500_000)

    [fund] = Journal.objects.filter(idempotency_key=f"fund:paystack:{deposit.reference}")
    [back] = chargebacks(deposit)
    assert legs(fund) == funding
    assert legs(back) == reversal
    net = {code: funding.get(code, 0) + reversal.get(code, 0) for code in {*funding, *reversal}}
    assert net == {"clearing:paystack": 8_500, "fees": -8_500, "wallet": 0, **({"revenue": 0} if bearer == "customer"
                                                                                else {})}
    assert wallet_for(user).balance_kobo == 0
    assert_ledger_invariants()


def test_customer_bears_fee_partial_refunds_take_the_wallet_first_then_the_recovered_fee(client, user,
                                                                                           make_deposit, http,
                                                                                           settings):
    settings.PAYMENT_GATEWAYS["paystack"]["FEE_BEARER"] = "customer"
    deposit = credited(client, http, make_deposit, user, "paystack")  # credited 491,500
    refund(client, http, "paystack", deposit, amount_kobo=491_000, number=1)
    refund(client, http, "paystack", deposit, amount_kobo=9_000, number=2)
    first, second = chargebacks(deposit)
    assert legs(first) == {"clearing:paystack": 491_000, "wallet": -491_000}
    assert legs(second) == {"clearing:paystack": 9_000, "wallet": -500, "revenue": -8_500}
    assert [(r.wallet_kobo, r.revenue_kobo) for r in DepositReversal.objects.order_by("id")] == [
        (491_000, 0), (500, 8_500)]
    assert wallet_for(user).balance_kobo == 0


def test_staff_see_each_reversal_on_the_deposit_page(client, user, make_deposit, http):
    from django.test import Client
    from django.urls import reverse

    from backoffice.tests.factories import staff_user

    deposit = credited(client, http, make_deposit, user, "paystack")
    refund(client, http, "paystack", deposit, amount_kobo=100_000, number=7)
    staff = Client()
    staff.force_login(staff_user("support"))
    html = staff.get(reverse("admin:payments_deposit_change", args=[deposit.pk])).content.decode()
    assert f"chargeback:paystack:{deposit.reference}:refund:RF7" in html
    listing = staff.get(reverse("admin:payments_deposit_changelist")).content.decode()
    assert "₦1,000.00" in listing  # taken back
