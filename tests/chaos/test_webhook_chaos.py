"""Gateway webhook chaos: genuine deliveries duplicated, reordered and delayed (some arrive
only after the poller has already verified and credited their deposit), forged ones
interleaved, and deposits that were never paid. For Paystack (HMAC-SHA512 hex of the body
with the secret key, verify by reference) and Flutterwave (HMAC-SHA256 base64 with the
webhook secret hash, verify by transaction id or by tx_ref). The verify API answers through
`responses` in the gateway's wire format: it is the gateway's truth. After everything: every
genuine payment credited exactly once, nothing else credited, invariants hold. Seeded; the
seed is printed, and the figures go into the run's summary (chaos.report).
"""

from __future__ import annotations

import hashlib
import json
import random
import re

import pytest
import responses
from django.utils import timezone
from rest_framework.test import APIClient

from chaos.scenarios import LONG, chaos_seed
from payments.tests.helpers import BASE_URLS, body_of, funding_event, gateway_settings, sign, verify_answer

pytestmark = [pytest.mark.django_db, pytest.mark.chaos]
DEPOSITS = 60 if LONG else 12
AMOUNT = 500_000
GATEWAYS = ["paystack", "flutterwave"]
# Where each gateway's verify API lives, and how a request names the transaction.
VERIFY_URLS = {
    "paystack": re.compile(re.escape(BASE_URLS["paystack"]) + r"/transaction/verify/.+"),
    "flutterwave": re.compile(re.escape(BASE_URLS["flutterwave"]) + r"/transactions/.+"),
}


def _paystack_id(reference: str) -> int:
    """Each payment has its own Paystack transaction id, in the delivery and in the verify
    answer alike (one gateway transaction never credits two deposits)."""
    return int(hashlib.sha256(reference.encode()).hexdigest()[:12], 16)


class Gateway:
    """The gateway's side: which deposits were paid, under which transaction ids."""

    def __init__(self, name: str, paid: set[str]) -> None:
        self.name, self.paid = name, paid
        self.references: dict[str, str] = {}  # gateway transaction id -> our reference

    def delivery(self, reference: str, *, amount_kobo: int = AMOUNT, secret: str | None = None) -> tuple[bytes, dict]:
        txn_id = str(_paystack_id(reference)) if self.name == "paystack" else ""
        payload, _ = funding_event(self.name, reference, amount_kobo=amount_kobo, txn_id=txn_id)
        if self.name == "flutterwave":
            transaction_id = 300_000_000 + len(self.references)
            payload["data"]["id"] = transaction_id
            self.references[str(transaction_id)] = reference
        body = body_of(payload)
        return body, sign(self.name, body, secret=secret)

    def verify(self, request) -> tuple[int, dict, str]:
        url = request.url
        if self.name == "paystack":
            reference = url.rsplit("/", 1)[-1]
        elif "verify_by_reference" in url:
            reference = re.search(r"tx_ref=([^&]+)", url).group(1)
        else:
            reference = self.references.get(url.rstrip("/").split("/")[-2], "")
        status = "success" if reference in self.paid else "failed"
        _, _, body = verify_answer(self.name, reference, amount_kobo=AMOUNT, status=status)
        if self.name == "paystack":
            body["data"]["id"] = _paystack_id(reference)
        if self.name == "flutterwave":
            ids = [tid for tid, ref in self.references.items() if ref == reference]
            body["data"]["id"] = int(ids[0]) if ids else 0
        return 200, {}, json.dumps(body)


def _deliveries(gateway: Gateway, deposits, rng) -> list[tuple[bytes, dict, str]]:
    deliveries = []
    for deposit in deposits:
        if deposit.reference not in gateway.paid:
            continue
        body, headers = gateway.delivery(deposit.reference)
        deliveries += [(body, headers, "genuine")] * rng.randint(1, 4)  # gateways retry: duplicates
        forged = gateway.delivery(deposit.reference, amount_kobo=AMOUNT * 10, secret="attacker-guess")
        deliveries.append((*forged, "forged"))
    rng.shuffle(deliveries)  # out of order
    return deliveries


def _post(client: APIClient, gateway: str, deliveries) -> int:
    forged_refused = 0
    for body, headers, kind in deliveries:
        response = client.post(f"/api/v1/payments/webhooks/{gateway}", data=body, content_type="application/json",
                               headers=headers)
        assert response.status_code == (200 if kind == "genuine" else 401), (kind, response.content)
        forged_refused += kind == "forged"
    return forged_refused


@pytest.mark.parametrize("gateway_name", GATEWAYS)
def test_duplicated_reordered_delayed_and_forged_webhooks_credit_each_payment_once(gateway_name, settings, user):
    from chaos import report
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
    deposits = [Deposit.objects.create(user=user, gateway=gateway_name, amount_kobo=AMOUNT, currency="NGN",
                                       reference=new_reference(), next_check_at=timezone.now())
                for _ in range(DEPOSITS)]
    gateway = Gateway(gateway_name, {d.reference for d in deposits if rng.random() < 0.75})
    deliveries = _deliveries(gateway, deposits, rng)
    delayed_cut = len(deliveries) // 3  # the last third arrives after the poller ran

    client = APIClient()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.GET, VERIFY_URLS[gateway_name], callback=gateway.verify)
        refused = _post(client, gateway_name, deliveries[: len(deliveries) - delayed_cut])
        swept = recovery.deposits_sweep(now=timezone.now())  # the poller: webhooks that never came
        refused += _post(client, gateway_name, deliveries[len(deliveries) - delayed_cut:])
        recovery.deposits_sweep(now=timezone.now())

    where = f"({gateway_name}, CHAOS_SEED={seed})"
    credited_once = credited_unpaid = 0
    for deposit in deposits:
        deposit.refresh_from_db()
        journals = Journal.objects.filter(idempotency_key=f"fund:{gateway_name}:{deposit.reference}").count()
        if deposit.reference in gateway.paid:
            assert (deposit.status, journals) == ("successful", 1), f"{deposit.reference} {where}"
            credited_once += 1
        else:
            assert journals == 0 and deposit.status != "successful", f"{deposit.reference} {where}"
        credited_unpaid += journals > 0 and deposit.reference not in gateway.paid
    assert wallet_for(user).balance_kobo == AMOUNT * len(gateway.paid), where
    assert_ledger_invariants()
    print(f"webhook chaos {where}: {len(gateway.paid)}/{DEPOSITS} paid, {len(deliveries)} deliveries, sweep {swept}")
    report.record(gateway=gateway_name, seed=seed, deposits=DEPOSITS, paid=len(gateway.paid),
                  credited_once=credited_once, credited_unpaid=credited_unpaid, deliveries=len(deliveries),
                  forged_refused=refused, invariants="hold")
