"""Gateway webhook chaos: genuine Paystack deliveries duplicated, reordered and delayed (some
arrive only after the poller has already verified and credited their deposit), forged ones
interleaved, and deposits that were never paid. Verify API through `responses` (Paystack's
wire format): it is the gateway's truth. After everything: every genuine payment credited
exactly once, nothing else credited, invariants hold. Seeded; the seed is printed.
"""

from __future__ import annotations

import random
import re

import pytest
import responses
from django.utils import timezone
from rest_framework.test import APIClient

from chaos.scenarios import LONG, chaos_seed
from payments.tests.helpers import BASE_URLS, body_of, fixture, funding_event, gateway_settings, sign

pytestmark = [pytest.mark.django_db, pytest.mark.chaos]
DEPOSITS = 60 if LONG else 12
AMOUNT = 500_000


def _paystack_id(reference: str) -> int:
    """Each payment has its own Paystack transaction id, in the delivery and in the verify
    answer alike (one gateway transaction never credits two deposits)."""
    return int(__import__("hashlib").sha256(reference.encode()).hexdigest()[:12], 16)


def _verify(paid: set[str]):
    def answer(request):
        reference = request.url.rsplit("/", 1)[-1]
        body = fixture("paystack", "verify_success", REF=reference)
        body["data"].update(amount=AMOUNT, currency="NGN", status="success" if reference in paid else "abandoned",
                            id=_paystack_id(reference))
        return 200, {}, __import__("json").dumps(body)
    return answer


def test_duplicated_reordered_delayed_and_forged_webhooks_credit_each_payment_once(settings, user):
    from payments import recovery
    from payments.models import Deposit
    from payments.services import new_reference
    from wallets.invariants import assert_ledger_invariants
    from wallets.models import Journal
    from wallets.tests.factories import wallet_for

    seed = chaos_seed()
    rng = random.Random(seed)
    settings.PAYMENT_GATEWAYS = gateway_settings()
    settings.OPS_ALERT_EMAILS = []
    deposits = [Deposit.objects.create(user=user, gateway="paystack", amount_kobo=AMOUNT, currency="NGN",
                                       reference=new_reference(), next_check_at=timezone.now())
                for _ in range(DEPOSITS)]
    paid = {d.reference for d in deposits if rng.random() < 0.75}
    deliveries = []
    for deposit in deposits:
        if deposit.reference not in paid:
            continue
        payload, _ = funding_event("paystack", deposit.reference, amount_kobo=AMOUNT,
                                   txn_id=str(_paystack_id(deposit.reference)))
        body = body_of(payload)
        genuine = (body, sign("paystack", body), "genuine")
        deliveries += [genuine] * rng.randint(1, 4)  # gateways retry: duplicates
        forged = body_of({**payload, "data": {**payload["data"], "amount": AMOUNT * 10}})
        deliveries.append((forged, sign("paystack", forged, secret="attacker-guess"), "forged"))
    rng.shuffle(deliveries)  # out of order
    delayed_cut = len(deliveries) // 3  # the last third arrives after the poller ran

    client = APIClient()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.GET, re.compile(re.escape(BASE_URLS["paystack"]) + r"/transaction/verify/.+"),
                          callback=_verify(paid))
        for body, headers, kind in deliveries[: len(deliveries) - delayed_cut]:
            response = client.post("/api/v1/payments/webhooks/paystack", data=body, content_type="application/json",
                                   headers=headers)
            assert response.status_code == (200 if kind == "genuine" else 401), (kind, response.content)
        swept = recovery.deposits_sweep(now=timezone.now())  # the poller: webhooks that never came
        for body, headers, kind in deliveries[len(deliveries) - delayed_cut:]:
            response = client.post("/api/v1/payments/webhooks/paystack", data=body, content_type="application/json",
                                   headers=headers)
            assert response.status_code == (200 if kind == "genuine" else 401), (kind, response.content)
        recovery.deposits_sweep(now=timezone.now())

    where = f"(CHAOS_SEED={seed})"
    for deposit in deposits:
        deposit.refresh_from_db()
        journals = Journal.objects.filter(idempotency_key=f"fund:paystack:{deposit.reference}").count()
        if deposit.reference in paid:
            assert (deposit.status, journals) == ("successful", 1), f"{deposit.reference} {where}"
        else:
            assert journals == 0 and deposit.status != "successful", f"{deposit.reference} {where}"
    assert wallet_for(user).balance_kobo == AMOUNT * len(paid), where
    assert_ledger_invariants()
    print(f"webhook chaos {where}: {len(paid)}/{DEPOSITS} paid, {len(deliveries)} deliveries, sweep {swept}")
