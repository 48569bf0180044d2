"""Gateway name -> adapter, built from settings.PAYMENT_GATEWAYS at call time (so a test's
override_settings and a staging base URL both apply)."""

from __future__ import annotations

from django.conf import settings

from payments.gateways.base import Gateway, split_secrets
from payments.gateways.chapa import ChapaGateway
from payments.gateways.flutterwave import FlutterwaveGateway
from payments.gateways.mercadopago import MercadoPagoGateway
from payments.gateways.monnify import MonnifyGateway
from payments.gateways.paystack import PaystackGateway
from payments.gateways.sandbox import SandboxGateway
from payments.gateways.stripe import StripeGateway

ADAPTERS: dict[str, type[Gateway]] = {
    cls.name: cls
    for cls in (
        PaystackGateway, FlutterwaveGateway, MonnifyGateway, StripeGateway, ChapaGateway, MercadoPagoGateway,
        SandboxGateway,
    )
}
GATEWAY_NAMES = tuple(ADAPTERS)


class UnknownGateway(LookupError):
    pass


def gateway_config(name: str) -> dict:
    if name not in ADAPTERS:
        raise UnknownGateway(name)
    return dict(settings.PAYMENT_GATEWAYS.get(name) or {})


def get_gateway(name: str) -> Gateway:
    return ADAPTERS[name](gateway_config(name))


def is_enabled(name: str) -> bool:
    """ENABLED from settings (credentials present, currency == wallet currency); a sandbox
    additionally needs DEBUG, whatever its flag says (startup refuses it otherwise too)."""
    config = gateway_config(name)
    if not config.get("ENABLED"):
        return False
    if config.get("CURRENCY") != settings.WALLET_CURRENCY:
        return False
    return not (config.get("SANDBOX") and not settings.DEBUG)


def receives_webhooks(name: str) -> bool:
    """Whether POST /payments/webhooks/<name> is open. The sandbox only while it is enabled
    (DEBUG on and SANDBOX_GATEWAY_ENABLED): its secret has a public default. A real gateway
    while it is enabled, and also after it was switched off for new checkouts as long as its
    webhook secret is still set: payments made before, transfers into its virtual accounts
    and refunds of its deposits keep arriving, and a 404 would lose them once the gateway
    stops retrying. Clearing <NAME>_WEBHOOK_SECRET closes the endpoint."""
    if name not in ADAPTERS:
        return False
    if is_enabled(name):
        return True
    config = gateway_config(name)
    return not config.get("SANDBOX") and bool(split_secrets(config.get("WEBHOOK_SECRET")))
