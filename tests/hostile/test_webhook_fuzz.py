"""Fuzzed webhook bodies and headers for every gateway: zero credits.

For each gateway (the six real ones and the sandbox) Hypothesis posts: random bytes; random
JSON; the gateway's own documented funding payload for a real pending deposit, with no
signature, a random signature, a signature made with the wrong secret, a correctly signed
body mutated after signing, and a correct signature carried in the wrong header; plus
random extra headers and query strings. None may answer 5xx, and afterwards: no fund journal,
no credited deposit, no balance change, no authenticated WebhookEvent, and every delivery is
stored with a rejecting (or ignoring) verdict. Gateway verify APIs are unreachable (the
network is closed to tests), so a fuzz input that slipped past authentication would still
show up as a stored event: the assertion is on the event, not on the credit alone.

Mercado Pago's signature covers the notification's id, request id and time, not the body
(payments.gateways: "origin-only"), so a genuine header set with a fuzzed body is stored as
an event by design: for it the test asserts what matters, zero credits, and that the event
is processed against the gateway's verify API (which here answers nothing), never the body.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from payments.tests.helpers import SECRETS, body_of, funding_event, gateway_settings, sign

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]

ORIGIN_ONLY = ("mercadopago",)  # signatures that do not cover the body
GATEWAYS = ("paystack", "flutterwave", "monnify", "stripe", "chapa", "mercadopago", "sandbox")
EXAMPLES = int(os.environ.get("HOSTILE_WEBHOOK_EXAMPLES", "40"))
SEED = int(os.environ.get("HOSTILE_SEED", "20261123"))
SIGNATURE_HEADERS = ("x-paystack-signature", "flutterwave-signature", "verif-hash", "monnify-signature",
                     "stripe-signature", "x-chapa-signature", "chapa-signature", "x-signature", "x-request-id",
                     "x-sandbox-signature")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)


@pytest.fixture
def dispatched(monkeypatch):
    """Event processing queued by the receive path, recorded instead of run inline (eager
    Celery would run it inside the request; production runs it in a worker)."""
    from payments import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.webhook_event_process, "delay_on_commit", queued.append)
    return queued


@pytest.fixture
def target(settings, user, dispatched):
    """Every gateway configured (foreign-currency ones too), one pending deposit per gateway."""
    from payments.models import Deposit
    from payments.services import new_reference
    from wallets.services import wallet_get_or_create

    settings.PAYMENT_GATEWAYS = gateway_settings(enabled_foreign=True)
    settings.DEBUG = True  # the sandbox's webhook is 404 unless the sandbox is on (DEBUG and enabled)
    settings.OPS_ALERT_EMAILS = []
    wallet = wallet_get_or_create(user_id=user.pk)
    deposits = {
        gateway: Deposit.objects.create(user=user, gateway=gateway, amount_kobo=500_000, currency="NGN",
                                        reference=new_reference())
        for gateway in GATEWAYS
    }
    return wallet, deposits


def _forgeries(gateway: str, reference: str):
    """Strategies of (body, headers, query) that must never authenticate."""
    payload, query = funding_event(gateway, reference)
    genuine = body_of(payload)
    good_headers = sign(gateway, genuine, query=query)
    wrong_secret = sign(gateway, genuine, secret="not-the-" + SECRETS[gateway], query=query)
    other_gateway = "paystack" if gateway != "paystack" else "monnify"
    return st.one_of(
        st.tuples(st.binary(max_size=2000), st.just({}), st.just({})),
        st.tuples(json_values.map(lambda v: json.dumps(v).encode()), st.just({}), st.just(query)),
        st.tuples(st.just(genuine), st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_values, max_size=3),
                  st.just(query)),
        st.tuples(st.just(genuine), st.just(wrong_secret), st.just(query)),
        st.tuples(st.just(genuine), st.just(sign(other_gateway, genuine)), st.just(query)),
        # Signed, then altered (an amount bumped, a byte appended): the signature no longer covers it.
        st.tuples(st.just(genuine.replace(b"5000", b"9000", 1) + b" "), st.just(good_headers), st.just(query)),
        st.tuples(st.just(genuine), st.just({}), st.just(query)),
        st.tuples(st.binary(max_size=300), st.just(good_headers),
                  st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3)),
    )


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_fuzzed_webhooks_never_credit(gateway, target):
    from payments.models import Deposit, WebhookDelivery, WebhookEvent
    from wallets.invariants import assert_ledger_invariants
    from wallets.models import Journal

    wallet, deposits = target
    deposit = deposits[gateway]
    client = APIClient()
    statuses: list[int] = []

    @seed(SEED)
    @given(request=_forgeries(gateway, deposit.reference))
    @hsettings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def post(request) -> None:
        body, headers, query = request
        url = f"/api/v1/payments/webhooks/{gateway}"
        if query:
            url += "?" + urlencode(query)
        response = client.post(url, data=body, content_type="application/json", headers=headers)
        statuses.append(response.status_code)
        assert response.status_code < 500, (response.status_code, response.content[:300])

    post()

    wallet.refresh_from_db()
    assert wallet.balance_kobo == 0
    assert not Journal.objects.filter(kind="deposit").exists()
    assert Deposit.objects.get(pk=deposit.pk).status == "initialized"
    verdicts = set(WebhookDelivery.objects.filter(gateway=gateway).values_list("verdict", flat=True))
    if gateway in ORIGIN_ONLY:
        from payments import webhooks
        from payments.gateways.base import GatewayError

        for event in WebhookEvent.objects.filter(gateway=gateway):  # the verify API is unreachable
            with pytest.raises(GatewayError):
                webhooks.webhook_event_process(event_id=event.pk)
    else:
        assert not WebhookEvent.objects.filter(gateway=gateway).exists(), "a forged delivery was authenticated"
        assert verdicts <= {"rejected_signature", "rejected_malformed", "ignored"}, verdicts
    assert not Journal.objects.filter(kind="deposit").exists()
    assert Deposit.objects.get(pk=deposit.pk).status == "initialized"
    assert len(statuses) == WebhookDelivery.objects.filter(gateway=gateway).count() or 413 in statuses
    assert_ledger_invariants()


def test_the_genuine_delivery_still_authenticates(target, dispatched):
    """The control: the same harness with a correct signature does store the event (so the
    fuzz above fails for the right reason, not because nothing could ever pass)."""
    from payments.models import WebhookEvent

    _wallet, deposits = target
    for gateway in GATEWAYS:
        payload, query = funding_event(gateway, deposits[gateway].reference)
        body = body_of(payload)
        url = f"/api/v1/payments/webhooks/{gateway}" + ("?" + urlencode(query) if query else "")
        response = APIClient().post(url, data=body,
                                    content_type="application/json", headers=sign(gateway, body, query=query))
        assert response.status_code == 200, (gateway, response.content)
        assert WebhookEvent.objects.filter(gateway=gateway).count() == 1, gateway
    assert len(dispatched) == len(GATEWAYS)
