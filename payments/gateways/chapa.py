"""Chapa (Ethiopia, ETB) (reference gateways.md §5). Built and tested; off for naira wallets.

Sources: Chapa-Et/chapa-rust ENDPOINTS.md and src/client.rs (POST /transaction/initialize
with `amount` as a string of major units, `tx_ref`, `callback_url`, `return_url` ->
data.checkout_url; GET /transaction/verify/{tx_ref} -> data.status "success", amount,
currency, tx_ref, reference); Chapa-Et/chapa-cli chapa_cli/webhook.py (the official test
sender: `x-chapa-signature` = hex HMAC-SHA256(key=secret, msg=payload), `Chapa-Signature` =
hex HMAC-SHA256(key=secret, msg=secret)); developer.chapa.co/integrations/webhooks (events
charge.success, transfer.*, payout.*).

`Chapa-Signature` is a per-account constant (it signs the secret, not the body): origin
only. The CLI signs Python's str(dict), so which bytes production signs is unproven
(gateways.md §5 [U]); we hash the raw body, and the verify API decides what was paid anyway.

Refunds: `charge.refunded` [U: named in Chapa's event list, payload not documented; we read
`amount` and the refund's `refund_reference`/`reference` like charge events]. Chapa documents
no API to look a refund up, so a refund is posted only from a delivery whose body is signed
(`x-chapa-signature`); one carrying only the origin header `Chapa-Signature` goes to staff.
"""

from __future__ import annotations

import hashlib
import hmac
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

_STATUS = {"success": Status.SUCCEEDED, "failed": Status.FAILED, "pending": Status.PENDING}


class ChapaGateway(Gateway):
    name = "chapa"
    capabilities = frozenset({"checkout", "refund"})

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.get('SECRET_KEY', '')}"}

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        first, _, last = (request.customer_name or "Wallet Customer").partition(" ")
        body = self.call(
            "POST", "/transaction/initialize", operation="initialize",
            json={
                "amount": str(to_major(request.amount.minor, request.amount.currency)),
                "currency": request.amount.currency, "email": request.email,
                "first_name": first, "last_name": last or first, "tx_ref": request.reference,
                "callback_url": request.metadata.get("webhook_url", ""), "return_url": request.callback_url,
            },
        )
        data = body.get("data") or {}
        if body.get("status") != "success" or not data.get("checkout_url"):
            raise GatewayPermanentError(f"chapa initialize refused: {body.get('message', '')}", body=body)
        return CheckoutSession(
            gateway=self.name, reference=request.reference, authorization_url=data["checkout_url"], raw=body
        )

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        body_signature = webhook.header("x-chapa-signature").strip().lower()
        origin_signature = webhook.header("chapa-signature").strip().lower()
        if not body_signature and not origin_signature:
            return SignatureCheck(False, "missing x-chapa-signature / Chapa-Signature")
        for secret in self.webhook_secrets:
            if body_signature:
                expected = hmac.new(secret.encode(), webhook.body, hashlib.sha256).hexdigest()
                if constant_time_equal(expected, body_signature):
                    return SignatureCheck(True)
            else:
                expected = hmac.new(secret.encode(), secret.encode(), hashlib.sha256).hexdigest()
                if constant_time_equal(expected, origin_signature):
                    return SignatureCheck(True, body_bound=False)
        return SignatureCheck(False, "chapa signature does not match")

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        payload = load_json(webhook.body)
        event_type = str(payload.get("event") or "")
        status = str(payload.get("status") or "").lower()
        kind = "other"
        if event_type == "charge.success":
            kind = "funding"
        elif event_type in ("charge.failed", "charge.cancelled") or (event_type.startswith("charge.") and status == "failed"):
            kind = "failed"
        elif event_type == "charge.refunded":
            kind = "refund"
        currency = str(payload.get("currency") or self.currency)
        chapa_reference = str(payload.get("reference") or "")
        amount = self._money(payload.get("amount"), currency)
        reversal = None
        if kind == "refund":
            refund_key = str(payload.get("refund_reference") or f"{chapa_reference}-{payload.get('amount')}")
            reversal = Reversal(kind="refund", key=refund_key, amount=amount)
        return NormalizedEvent(
            gateway=self.name,
            dedupe_key=f"{event_type}:{chapa_reference or payload.get('tx_ref', '')}"
            + (f":{reversal.key}" if reversal else ""),
            event_type=event_type, kind=kind, reference=str(payload.get("tx_ref") or ""),
            gateway_transaction_id=chapa_reference, amount=amount, reversal=reversal,
            livemode=(payload.get("mode") == "live") if payload.get("mode") else None, raw=payload,
        )

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        body = self.call("GET", f"/transaction/verify/{quote(reference, safe='')}", operation="verify")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        currency = str(data.get("currency") or "")
        return GatewayTransaction(
            gateway=self.name, status=_STATUS.get(str(data.get("status") or "").lower(), Status.UNKNOWN),
            amount=self._money(data.get("amount"), currency) if currency else None,
            reference=str(data.get("tx_ref") or ""), gateway_transaction_id=str(data.get("reference") or ""),
            fee=self._money(data.get("charge"), currency) if currency and data.get("charge") is not None else None,
            message=str(body.get("message") or ""), raw=body,
        )

    @staticmethod
    def _money(value: Any, currency: str) -> Money | None:
        try:
            return Money(to_minor(value, currency), currency)
        except AmountError:
            return None
