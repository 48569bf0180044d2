"""Mercado Pago (BRL/ARS/MXN...) (reference gateways.md §6). Built and tested; off for naira wallets.

Sources: mercadopago.com.br/developers/en/docs/checkout-pro/checkout-customization/preferences
(POST /checkout/preferences: items[{title, quantity, unit_price (major units), currency_id}],
external_reference, notification_url, back_urls -> id, init_point, sandbox_init_point);
mercadopago.com.br/developers/en/docs/order/online-payments/notifications (the secret
signature; `x-signature: ts=...,v1=...` and `x-request-id`); the manifest
`id:{data.id};request-id:{x-request-id};ts:{ts};` with `data.id` taken from the query string,
lower-cased when alphanumeric, absent parts omitted, trailing semicolon kept [S: several
independent implementations, gateways.md §6 MP5; dev.to "three things that break every
Mercado Pago Pix webhook signature"]; /developers/en/news/2023/01/04/Idempotency-key-usage-
will-be-mandatory (X-Idempotency-Key on creates).

The signature covers only the resource id, never the amount or status: every notification is
a hint to GET /v1/payments/{id}, which alone decides — credit, failure, or money taken back:
`transaction_amount_refunded` (the running total of refunds; a partially refunded payment
stays "approved" with status_detail "partially_refunded") and status "charged_back" with
status_detail "settled" (the chargeback went against the seller; "reimbursed" means Mercado
Pago covered it, "in_process" is undecided) — mercadopago.com.br/developers/en/docs/
checkout-api/response-handling/query-results and .../split-payments-1-n/payments-management/
chargebacks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

from payments.gateways.base import Gateway, GatewayPermanentError, SignatureCheck, constant_time_equal, load_json
from payments.gateways.types import (
    AmountError,
    CheckoutRequest,
    CheckoutSession,
    GatewayTransaction,
    InboundWebhook,
    Money,
    NormalizedEvent,
    Reversal,
    Status,
    to_major,
    to_minor,
)

_STATUS = {
    "approved": Status.SUCCEEDED,
    "pending": Status.PENDING, "in_process": Status.PENDING, "authorized": Status.PENDING,
    "in_mediation": Status.PENDING,
    "rejected": Status.FAILED, "cancelled": Status.FAILED,
    "refunded": Status.REVERSED, "charged_back": Status.REVERSED,
}


def _json_with_decimal(payload: dict[str, Any], price: str) -> str:
    """unit_price is a JSON number; write the Decimal's digits verbatim (never via float)."""
    return json.dumps(payload).replace('"__UNIT_PRICE__"', price)


class MercadoPagoGateway(Gateway):
    name = "mercadopago"
    capabilities = frozenset({"checkout", "refund"})

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.get('ACCESS_TOKEN', '')}"}

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        price = str(to_major(request.amount.minor, request.amount.currency))
        payload = {
            "items": [{"title": "Wallet funding", "quantity": 1, "unit_price": "__UNIT_PRICE__",
                       "currency_id": request.amount.currency}],
            "payer": {"email": request.email},
            "external_reference": request.reference,
            "back_urls": {"success": request.callback_url, "pending": request.callback_url,
                          "failure": request.callback_url},
            "notification_url": request.metadata.get("webhook_url", ""),
        }
        body = self.call(
            "POST", "/checkout/preferences", operation="initialize", data=_json_with_decimal(payload, price),
            headers={"Content-Type": "application/json", "X-Idempotency-Key": f"checkout:{request.reference}"},
        )
        url = body.get("init_point") if self.live else (body.get("sandbox_init_point") or body.get("init_point"))
        if not body.get("id") or not url:
            raise GatewayPermanentError("mercadopago preference without id/init_point", body=body)
        return CheckoutSession(
            gateway=self.name, reference=request.reference, authorization_url=url,
            gateway_reference=str(body["id"]), raw=body,
        )

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        header = webhook.header("x-signature")
        if not header:
            return SignatureCheck(False, "missing x-signature")
        parts = dict(item.strip().partition("=")[::2] for item in header.split(",") if "=" in item)
        ts, received = parts.get("ts", ""), parts.get("v1", "").lower()
        if not ts or not received:
            return SignatureCheck(False, "x-signature has no ts or no v1")
        data_id = webhook.query.get("data.id", "")
        if data_id.isalnum():
            data_id = data_id.lower()
        request_id = webhook.header("x-request-id")
        manifest = ""
        if data_id:
            manifest += f"id:{data_id};"
        if request_id:
            manifest += f"request-id:{request_id};"
        manifest += f"ts:{ts};"
        for secret in self.webhook_secrets:
            expected = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
            if constant_time_equal(expected, received):
                return SignatureCheck(True, body_bound=False)
        return SignatureCheck(False, "x-signature does not match")

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        payload = load_json(webhook.body)
        topic = str(payload.get("type") or payload.get("topic") or "")
        action = str(payload.get("action") or "")
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        # The signed id is the query's data.id; a body claiming another id is not trusted.
        resource_id = webhook.query.get("data.id") or str(data.get("id") or "")
        return NormalizedEvent(
            # The notification's own id is part of the key: a payment sends "payment.updated"
            # again for each change (approved, then refunded, then charged back), and each must
            # be looked at. Not covered by the signature; a forged id only costs a verify.
            gateway=self.name, dedupe_key=f"{topic}:{resource_id}:{action}:{payload.get('id') or ''}",
            event_type=action or topic,
            # Every payment notification means "look it up": the verify decides credit, failure
            # or reversal.
            kind="lookup" if topic == "payment" else "other",
            gateway_transaction_id=resource_id,
            livemode=payload.get("live_mode") if isinstance(payload.get("live_mode"), bool) else None,
            raw=payload,
        )

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        if gateway_transaction_id:
            body = self.call("GET", f"/v1/payments/{quote(gateway_transaction_id, safe='')}", operation="verify")
        else:
            found = self.call(
                "GET", "/v1/payments/search", operation="search",
                params={"external_reference": reference, "sort": "date_created", "criteria": "desc"},
            )
            results = [r for r in found.get("results") or [] if isinstance(r, dict)]
            approved = [r for r in results if r.get("status") == "approved"]
            body = (approved or results or [{}])[0]
        currency = str(body.get("currency_id") or "")
        return GatewayTransaction(
            gateway=self.name, status=_STATUS.get(str(body.get("status") or ""), Status.UNKNOWN),
            amount=self._money(body.get("transaction_amount"), currency) if currency else None,
            reference=str(body.get("external_reference") or ""), gateway_transaction_id=str(body.get("id") or ""),
            message=str(body.get("status_detail") or ""), reversals=self._reversals(body, currency), raw=body,
        )

    def _reversals(self, body: dict[str, Any], currency: str) -> tuple[Reversal, ...]:
        payment_id = str(body.get("id") or "")
        found = []
        refunded = self._money(body.get("transaction_amount_refunded") or 0, currency) if currency else None
        if refunded is not None and refunded.minor > 0:
            found.append(Reversal(kind="refund", key=f"total-{refunded.minor}", amount=refunded, cumulative=True,
                                  transaction_id=payment_id))
        if body.get("status") == "charged_back" and body.get("status_detail") == "settled":
            paid = self._money(body.get("transaction_amount"), currency) if currency else None
            lost = Money(paid.minor - (refunded.minor if refunded else 0), currency) if paid else None
            found.append(Reversal(kind="chargeback", key=f"payment-{payment_id}", amount=lost, transaction_id=payment_id))
        return tuple(found)

    @staticmethod
    def _money(value: Any, currency: str) -> Money | None:
        try:
            return Money(to_minor(value, currency), currency)
        except AmountError:
            return None
