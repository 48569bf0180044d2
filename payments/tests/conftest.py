from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import responses as responses_lib

from payments.gateways.monnify import MonnifyGateway
from payments.models import Deposit
from payments.tests.helpers import MONNIFY_LOGIN_URL, fixture, gateway_settings

# What a checkout stored as the gateway's own id (used by verify for Stripe and Monnify).
GATEWAY_REFERENCE = {"stripe": "cs_test_a1B2c3", "monnify": "MNFY|20|20261006|000123"}


@pytest.fixture(autouse=True)
def gateways(settings):
    settings.PAYMENT_GATEWAYS = gateway_settings()
    settings.WALLET_CURRENCY = "NGN"
    settings.OPS_ALERT_EMAILS = []
    MonnifyGateway._tokens.clear()
    yield settings.PAYMENT_GATEWAYS
    MonnifyGateway._tokens.clear()


@pytest.fixture
def http():
    """Gateway HTTP through `responses`; Monnify's login answered for every test that needs it."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses_lib.POST, MONNIFY_LOGIN_URL, json=fixture("monnify", "login"))
        yield mocked


@pytest.fixture
def make_deposit(db) -> Callable[..., Deposit]:
    def make(user: Any, gateway: str = "paystack", amount_kobo: int = 500_000, **fields: Any) -> Deposit:
        from payments.services import new_reference

        fields.setdefault("reference", new_reference())
        fields.setdefault("gateway_reference", GATEWAY_REFERENCE.get(gateway, ""))
        fields.setdefault("currency", "NGN")
        return Deposit.objects.create(user=user, gateway=gateway, amount_kobo=amount_kobo, **fields)

    return make


def post_webhook(client: Any, gateway: str, body: bytes, headers: dict[str, str], query: dict | None = None,
                 path: str | None = None) -> Any:
    url = path or f"/api/v1/payments/webhooks/{gateway}"
    if query:
        url += "?" + urlencode(query)
    return client.post(url, data=body, content_type="application/json", headers=headers)
