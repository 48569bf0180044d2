"""Stripe (reference gateways.md §4).

Sources: stripe/stripe-python stripe/_webhook.py (`WebhookSignature.verify_header`:
`Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, expected = hex HMAC-SHA256(endpoint secret,
f"{t}.{payload}"), any v1 may match, `t` older than the tolerance (DEFAULT_TOLERANCE = 300 s)
refused); docs.stripe.com/api/checkout/sessions (mode=payment, line_items price_data in the
smallest currency unit, client_reference_id, `url`, `payment_status`, `amount_total`);
docs.stripe.com/webhooks (event.id dedupe, at-least-once, unordered).

The HMAC is checked by the official library (`stripe.WebhookSignature.verify_header`, a
pinned runtime dependency); the timestamp window is ours, because the library refuses only
old timestamps and reads the wall clock, while we refuse a `t` too far in the future as well
and take the clock from the adapter (tests inject it). Stripe answers currencies in lower case.

Money taken back: `charge.refunded` carries the charge with `amount_refunded`, the running
total of its refunds (docs.stripe.com/api/charges/object), so each event posts only what
exceeds the earlier ones (a cumulative reversal; events may arrive out of order);
`charge.dispute.closed` with status "lost" (docs.stripe.com/api/disputes/object: id dp_...,
amount, payment_intent, status) posts the dispute's amount. `charge.dispute.created` only
alerts staff: the funds withdrawn then come back if the dispute is won.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import stripe

from payments.gateways.base import Gateway, GatewayPermanentError, SignatureCheck, load_json
from payments.gateways.types import (
    CheckoutRequest,
    CheckoutSession,
    GatewayTransaction,
    InboundWebhook,
    Money,
    NormalizedEvent,
    Reversal,
    Status,
)

DEFAULT_TOLERANCE_SECONDS = 300

_FUNDING = {"checkout.session.completed", "checkout.session.async_payment_succeeded", "payment_intent.succeeded"}
_FAILED = {"checkout.session.async_payment_failed", "checkout.session.expired", "payment_intent.payment_failed"}


class StripeGateway(Gateway):
    name = "stripe"
    capabilities = frozenset({"checkout", "refund"})
    clock: Callable[[], float] = staticmethod(time.time)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.get('SECRET_KEY', '')}"}

    @property
    def tolerance(self) -> int:
        return int(self.config.get("TOLERANCE_SECONDS") or DEFAULT_TOLERANCE_SECONDS)

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        form = {
            "mode": "payment",
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": request.amount.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(request.amount.minor),
            "line_items[0][price_data][product_data][name]": "Wallet funding",
            "success_url": request.callback_url,
            "cancel_url": request.callback_url,
            "client_reference_id": request.reference,
            "customer_email": request.email,
            "metadata[reference]": request.reference,
            # So payment_intent.* events carry our reference too.
            "payment_intent_data[metadata][reference]": request.reference,
        }
        # Stripe keeps the first answer for an Idempotency-Key: a retried initialize after a
        # timeout returns the same session instead of opening a second one (§7.2).
        body = self.call(
            "POST", "/checkout/sessions", operation="initialize", data=form,
            headers={"Idempotency-Key": f"checkout:{request.reference}"},
        )
        if not body.get("id") or not body.get("url"):
            raise GatewayPermanentError("stripe checkout session without id/url", body=body)
        return CheckoutSession(
            gateway=self.name, reference=request.reference, authorization_url=body["url"],
            gateway_reference=str(body["id"]), raw=body,
        )

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        header = webhook.header("stripe-signature")
        if not header:
            return SignatureCheck(False, "missing Stripe-Signature")
        timestamps = [item.strip()[2:] for item in header.split(",") if item.strip().startswith("t=")]
        if len(timestamps) != 1 or not timestamps[0].isdigit() or "v1=" not in header:
            return SignatureCheck(False, "Stripe-Signature has no t or no v1")
        if abs(self.clock() - int(timestamps[0])) > self.tolerance:
            # Replay protection: a captured delivery cannot be re-sent later.
            return SignatureCheck(False, "Stripe-Signature timestamp outside the tolerance")
        for secret in self.webhook_secrets:
            try:
                stripe.WebhookSignature.verify_header(webhook.body, header, secret, tolerance=None)
            except (stripe.SignatureVerificationError, UnicodeDecodeError):
                continue
            return SignatureCheck(True)
        return SignatureCheck(False, "no v1 signature matches")

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        payload = load_json(webhook.body)
        event_type = str(payload.get("type") or "")
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        obj = data.get("object") if isinstance(data.get("object"), dict) else {}
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        currency = str(obj.get("currency") or "").upper()
        kind, reversal = _classify(event_type, obj, currency)
        amount_value = obj.get("amount_total", obj.get("amount_received", obj.get("amount")))
        return NormalizedEvent(
            gateway=self.name, dedupe_key=str(payload.get("id") or ""), event_type=event_type, kind=kind,
            reference=str(obj.get("client_reference_id") or metadata.get("reference") or ""),
            # Refunds and disputes are about a charge; the deposit knows its payment intent.
            gateway_transaction_id=str(
                (obj.get("payment_intent") if event_type.startswith("charge.") else obj.get("id")) or ""
            ),
            amount=_money(amount_value, currency), reversal=reversal,
            livemode=payload.get("livemode") if isinstance(payload.get("livemode"), bool) else None,
            raw=payload,
        )

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        if checkout_id.startswith("cs_") or not gateway_transaction_id.startswith("pi_"):
            session_id = checkout_id or gateway_transaction_id
            body = self.call("GET", f"/checkout/sessions/{quote(session_id, safe='')}", operation="verify")
            status = {"paid": Status.SUCCEEDED, "no_payment_required": Status.FAILED}.get(
                str(body.get("payment_status")), Status.PENDING
            )
            if body.get("status") == "expired" and status != Status.SUCCEEDED:
                status = Status.FAILED
            amount_value, found_reference = body.get("amount_total"), body.get("client_reference_id")
            transaction_id = body.get("payment_intent") or body.get("id")
        else:
            body = self.call(
                "GET", f"/payment_intents/{quote(gateway_transaction_id, safe='')}", operation="verify"
            )
            status = {"succeeded": Status.SUCCEEDED, "canceled": Status.FAILED}.get(
                str(body.get("status")), Status.PENDING
            )
            amount_value = body.get("amount_received")
            found_reference = (body.get("metadata") or {}).get("reference")
            transaction_id = body.get("id")
        currency = str(body.get("currency") or "").upper()
        created = body.get("created")
        return GatewayTransaction(
            gateway=self.name, status=status,
            amount=_money(amount_value, currency),
            reference=str(found_reference or ""), gateway_transaction_id=str(transaction_id or ""),
            paid_at=datetime.fromtimestamp(created, tz=UTC) if isinstance(created, int) else None,
            message=str(body.get("status") or ""), raw=body,
        )


def _money(value: Any, currency: str) -> Money | None:
    return Money(value, currency) if isinstance(value, int) and not isinstance(value, bool) and currency else None


def _classify(event_type: str, obj: dict, currency: str) -> tuple[str, Reversal | None]:
    if event_type in _FUNDING:
        # A completed session paid by a delayed method is "unpaid" until async_payment_succeeded.
        unpaid = event_type == "checkout.session.completed" and obj.get("payment_status") not in ("paid",)
        return ("other" if unpaid else "funding"), None
    if event_type in _FAILED:
        return "failed", None
    if event_type == "charge.refunded":
        total = obj.get("amount_refunded")
        return "refund", Reversal(kind="refund", key=f"total-{total}", amount=_money(total, currency), cumulative=True,
                                  transaction_id=str(obj.get("payment_intent") or ""))
    if event_type == "charge.dispute.created":
        return "dispute_opened", None
    if event_type == "charge.dispute.closed" and obj.get("status") == "lost":
        return "chargeback", Reversal(kind="chargeback", key=str(obj.get("id") or ""),
                                      amount=_money(obj.get("amount"), currency),
                                      transaction_id=str(obj.get("payment_intent") or ""))
    return "other", None
