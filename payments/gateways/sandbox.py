"""The sandbox gateway: a fake payment gateway served by the platform itself (make run).

Its checkout page (payments/web_urls.py, templates/payments/sandbox_checkout.html) has
"Pay" and "Fail" buttons. Pressing one records the outcome in `SandboxCharge` (the
gateway's own state) and sends the platform a webhook signed with
SANDBOX_GATEWAY_WEBHOOK_SECRET through the same receive/authenticate/process code as every
real gateway; `fetch_transaction` answers from the same table, like a real verify API.

Wire format (ours, modelled on Paystack's): header `x-sandbox-signature` = hex
HMAC-SHA256(raw body, secret); body {"id": "evt_...", "event": "charge.success" |
"charge.failed", "data": {"reference", "amount" (minor units), "currency", "id"}}.
Refused with DEBUG off (config/startup.py), and its page answers 404 then.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from django.conf import settings

from payments.gateways.base import Gateway, GatewayPermanentError, SignatureCheck, constant_time_equal, load_json
from payments.gateways.types import (
    CheckoutRequest,
    CheckoutSession,
    GatewayTransaction,
    InboundWebhook,
    Money,
    NormalizedEvent,
    Status,
)

SIGNATURE_HEADER = "x-sandbox-signature"


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxGateway(Gateway):
    name = "sandbox"
    capabilities = frozenset({"checkout"})

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        from payments.models import SandboxCharge

        charge, _ = SandboxCharge.objects.get_or_create(
            reference=request.reference,
            defaults={"amount_kobo": request.amount.minor, "currency": request.amount.currency,
                      "return_url": request.callback_url},
        )
        return CheckoutSession(
            gateway=self.name, reference=request.reference,
            authorization_url=f"{settings.SITE_URL}/sandbox/checkout/{request.reference}",
            gateway_reference=f"sbx_{charge.pk}",
        )

    def event_body(self, *, reference: str, succeeded: bool) -> bytes:
        """What the sandbox's servers would POST for this charge (used by the checkout page)."""
        from payments.models import SandboxCharge

        charge = SandboxCharge.objects.get(reference=reference)
        return json.dumps({
            "id": f"evt_{secrets.token_hex(8)}",
            "event": "charge.success" if succeeded else "charge.failed",
            "data": {"id": f"sbx_{charge.pk}", "reference": charge.reference, "amount": charge.amount_kobo,
                     "currency": charge.currency, "status": charge.status},
        }, separators=(",", ":")).encode()

    def signed_headers(self, body: bytes) -> dict[str, str]:
        secret = (self.webhook_secrets or [""])[0]
        return {SIGNATURE_HEADER: sign(body, secret), "content-type": "application/json"}

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        received = webhook.header(SIGNATURE_HEADER).strip().lower()
        if not received:
            return SignatureCheck(False, f"missing {SIGNATURE_HEADER}")
        for secret in self.webhook_secrets:
            if constant_time_equal(sign(webhook.body, secret), received):
                return SignatureCheck(True)
        return SignatureCheck(False, f"{SIGNATURE_HEADER} does not match")

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        payload = load_json(webhook.body)
        event_type = str(payload.get("event") or "")
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        kind = {"charge.success": "funding", "charge.failed": "failed"}.get(event_type, "other")
        amount = data.get("amount")
        return NormalizedEvent(
            gateway=self.name, dedupe_key=f"{event_type}:{data.get('reference', '')}", event_type=event_type,
            kind=kind, reference=str(data.get("reference") or ""), gateway_transaction_id=str(data.get("id") or ""),
            amount=Money(amount, str(data.get("currency") or "NGN")) if isinstance(amount, int) else None,
            livemode=False, raw=payload,
        )

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        from payments.models import SandboxCharge

        charge = SandboxCharge.objects.filter(reference=reference).first()
        if charge is None:
            raise GatewayPermanentError(f"sandbox: no charge {reference!r}", status_code=404)
        status = {"success": Status.SUCCEEDED, "failed": Status.FAILED}.get(charge.status, Status.PENDING)
        return GatewayTransaction(
            gateway=self.name, status=status, amount=Money(charge.amount_kobo, charge.currency),
            reference=charge.reference, gateway_transaction_id=f"sbx_{charge.pk}", fee=Money(0, charge.currency),
            paid_at=charge.paid_at, message=charge.status,
        )
