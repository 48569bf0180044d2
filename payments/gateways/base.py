"""The one interface every payment gateway adapter implements (reference gateways.md §8.2).

Adapters are thin: they turn our canonical request into the gateway's wire format, send it
through `config.http.outbound_request` (explicit timeouts, refused inside a transaction,
logged with secrets masked) and map the answer back. `verify_signature` and `parse_event`
are pure (no I/O) and work on the raw body bytes, because every gateway signs the bytes it
sent, not a re-serialisation of them. Only the sandbox adapter reads the database (its
"gateway side" is a table of ours).

Errors: `GatewayTransientError` (timeout, connection error, 5xx, unparseable answer — try
again later, the payment may well exist) and `GatewayPermanentError` (a 4xx: the request
itself is wrong). Neither ever means "the customer did not pay".
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import requests

from config.http import outbound_request
from payments.gateways.types import (
    CheckoutRequest,
    CheckoutSession,
    GatewayTransaction,
    InboundWebhook,
    NormalizedEvent,
    Reversal,
    VirtualAccountInfo,
    VirtualAccountRequest,
)


class GatewayError(Exception):
    transient: bool = True

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class GatewayTransientError(GatewayError):
    transient = True


class GatewayPermanentError(GatewayError):
    transient = False


class NotSupported(GatewayPermanentError):
    """The gateway does not offer this operation (e.g. virtual accounts on Stripe)."""


class MalformedEvent(ValueError):
    """The body is not JSON, or not the shape the gateway documents."""


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    reason: str = ""
    # False where the header does not cover the body (Flutterwave's verif-hash, Chapa's
    # Chapa-Signature, Mercado Pago's manifest): the origin is proven, the content is not,
    # so the verify API alone decides what was paid. We verify every event anyway.
    body_bound: bool = True


def constant_time_equal(expected: str, received: str) -> bool:
    """hmac.compare_digest on encoded strings (called through the module so a test can spy)."""
    return hmac.compare_digest(expected.encode(), received.encode())


def split_secrets(value: str | list[str] | None) -> list[str]:
    """WEBHOOK_SECRET may hold several comma-separated secrets while one is being rotated."""
    if not value:
        return []
    items = value if isinstance(value, list) else value.split(",")
    return [item.strip() for item in items if item and item.strip()]


def load_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedEvent("body is not a JSON object")
    return payload


class Gateway:
    """Subclass per gateway in payments/gateways/<name>.py and register it in registry.py."""

    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset({"checkout"})
    # Published webhook source addresses, where the gateway publishes them. Checked in soft
    # mode only (a warning on the delivery): behind a proxy the client IP may not be trusted,
    # and the signature is the real gate.
    source_ips: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    # --- configuration -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return str(self.config.get("BASE_URL", "")).rstrip("/")

    @property
    def currency(self) -> str:
        return str(self.config.get("CURRENCY", "NGN"))

    @property
    def live(self) -> bool:
        return self.config.get("MODE") == "live"

    @property
    def webhook_secrets(self) -> list[str]:
        return split_secrets(self.config.get("WEBHOOK_SECRET"))

    def timeout(self) -> tuple[float, float]:
        read = float(self.config.get("TIMEOUT_SECONDS") or 15.0)
        return (min(5.0, read), read)

    # --- the interface ------------------------------------------------------------------------
    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise NotImplementedError

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        raise NotImplementedError

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        raise NotImplementedError

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        raise NotImplementedError

    def create_virtual_account(self, request: VirtualAccountRequest) -> list[VirtualAccountInfo]:
        raise NotSupported(f"{self.name} offers no virtual accounts")

    def confirm_reversal(self, event: NormalizedEvent) -> Reversal:
        """Ask the gateway's API what a refund/chargeback event claims, for events whose body
        the signature does not cover or that carry no amount. Raises NotSupported where the
        gateway documents no such lookup (staff then decide), GatewayError otherwise."""
        raise NotSupported(f"{self.name} offers no refund lookup")

    # --- HTTP ---------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def call(self, method: str, path: str, *, operation: str, **kwargs: Any) -> Any:
        """One request to the gateway; the parsed JSON answer, or a Gateway*Error."""
        headers = {"Accept": "application/json", **self.auth_headers(), **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        try:
            response = outbound_request(
                method, url, service=f"gateway:{self.name}:{operation}", timeout=self.timeout(),
                headers=headers, **kwargs,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise GatewayTransientError(f"{self.name} {operation}: {type(exc).__name__}") from exc
        return self.parse_response(response, operation)

    def parse_response(self, response: requests.Response, operation: str) -> Any:
        try:
            # Decimal, not float: major-unit amounts are converted to minor units exactly.
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            body = None
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayTransientError(
                f"{self.name} {operation}: HTTP {response.status_code}", status_code=response.status_code, body=body
            )
        if response.status_code >= 400:
            raise GatewayPermanentError(
                f"{self.name} {operation}: HTTP {response.status_code}", status_code=response.status_code, body=body
            )
        if body is None:
            raise GatewayTransientError(f"{self.name} {operation}: unparseable answer", status_code=response.status_code)
        return body
