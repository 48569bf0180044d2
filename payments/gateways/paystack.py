"""Paystack (reference gateways.md §1).

Sources: PaystackOSS/doc-code-snippets (src/api/transactions/{initialize,verify}/*,
src/api/dedicated-virtual-account/{create,assign}/*, src/doc/payments/webhooks/*,
src/doc/payments/dedicated-virtual-account/event-snippet/index.json); juspay/hyperswitch
crates/hyperswitch_connectors/src/connectors/paystack.rs (HMAC-SHA512 over the raw body,
hex header). Amounts are kobo both ways. References may only hold [A-Za-z0-9-.=].

Webhook: `x-paystack-signature` = hex HMAC-SHA512(raw body, secret key). No timestamp, so
no replay window: replays are stopped by the event's dedupe key and the journal key. A newer
`t=,v1=kid:hex` scheme appears in one newer doc snippet only (gateways.md §1 [U]); it is not
accepted until confirmed.

Money taken back (PaystackOSS/doc-code-snippets doc/payments/webhooks/events.js and
doc/payments/refunds/events.js): `refund.processed` (data.amount in kobo, a string;
data.refund_reference; no refund id) and `charge.dispute.resolve` with a resolution other
than "declined" ("merchant-accepted", "auto-accepted": data.refund_amount is refunded to the
cardholder; data.id is the dispute, data.transaction the payment). `charge.dispute.create`
and `.remind` only alert staff (16 hours to answer). The body is signed, so its amounts are
used as they stand.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from payments.gateways.base import Gateway, GatewayPermanentError, SignatureCheck, constant_time_equal, load_json
from payments.gateways.types import (
    CheckoutRequest,
    CheckoutSession,
    GatewayTransaction,
    InboundWebhook,
    Money,
    NormalizedEvent,
    Reversal,
    Status,
    VirtualAccountInfo,
    VirtualAccountRequest,
)

REFERENCE_RE = re.compile(r"^[A-Za-z0-9\-.=]+$")

# data.status of GET /transaction/verify: only "success" is money. "abandoned" means the
# checkout page was opened and left; the customer may still pay later on the same reference.
_STATUS = {
    "success": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "reversed": Status.REVERSED,
    "abandoned": Status.PENDING,
    "ongoing": Status.PENDING,
    "pending": Status.PENDING,
    "processing": Status.PENDING,
    "queued": Status.PENDING,
}


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _livemode(data: dict) -> bool | None:
    return (data.get("domain") == "live") if data.get("domain") else None


class PaystackGateway(Gateway):
    name = "paystack"
    capabilities = frozenset({"checkout", "virtual_account", "refund"})
    SIGNATURE_HEADER = "x-paystack-signature"
    # paystack.com/docs/payments/webhooks, quoted by several public integrations [S].
    source_ips = frozenset({"52.31.139.75", "52.49.173.169", "52.214.14.220"})

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.get('SECRET_KEY', '')}"}

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        if not REFERENCE_RE.match(request.reference):
            raise GatewayPermanentError("Paystack references allow only letters, digits, '-', '.', '='")
        body = self.call(
            "POST", "/transaction/initialize", operation="initialize",
            json={
                "email": request.email,
                "amount": request.amount.minor,  # kobo
                "currency": request.amount.currency,
                "reference": request.reference,
                "callback_url": request.callback_url,
                "metadata": request.metadata,
            },
        )
        data = body.get("data") or {}
        if not body.get("status") or not data.get("authorization_url"):
            raise GatewayPermanentError(f"paystack initialize refused: {body.get('message', '')}", body=body)
        return CheckoutSession(
            gateway=self.name, reference=request.reference, authorization_url=data["authorization_url"],
            gateway_reference=str(data.get("reference") or request.reference),
            access_code=str(data.get("access_code") or ""), raw=body,
        )

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        received = webhook.header(self.SIGNATURE_HEADER).strip().lower()
        if not received:
            return SignatureCheck(False, "missing x-paystack-signature")
        for secret in self.webhook_secrets:
            expected = hmac.new(secret.encode(), webhook.body, hashlib.sha512).hexdigest()
            if constant_time_equal(expected, received):
                return SignatureCheck(True)
        return SignatureCheck(False, "x-paystack-signature does not match")

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        payload = load_json(webhook.body)
        event_type = str(payload.get("event") or "")
        data = _dict(payload.get("data"))
        if event_type == "refund.processed":
            return self._refund_event(payload, data)
        if event_type.startswith("charge.dispute."):
            return self._dispute_event(payload, data)
        authorization, customer = _dict(data.get("authorization")), _dict(data.get("customer"))
        kind, reference, object_id = "other", str(data.get("reference") or ""), str(data.get("id") or "")
        account_number = ""
        if event_type == "charge.success":
            kind = "funding"
            if "dedicated_nuban" in (data.get("channel"), authorization.get("channel")):
                # A transfer into a dedicated account: Paystack made the reference; the owner is
                # found by the receiving account number (or the customer code).
                account_number = str(authorization.get("receiver_bank_account_number") or "")
        elif event_type in ("dedicatedaccount.assign.success", "dedicatedaccount.assign.failed"):
            kind = "va_assigned" if event_type.endswith("success") else "va_failed"
            account_number = str(_dict(data.get("dedicated_account")).get("account_number") or "")
            object_id = object_id or str(customer.get("customer_code") or "")
        return NormalizedEvent(
            gateway=self.name, dedupe_key=f"{event_type}:{object_id or reference}", event_type=event_type, kind=kind,
            reference=reference, gateway_transaction_id=object_id, virtual_account_number=account_number,
            customer_reference=str(customer.get("customer_code") or ""),
            amount=self._money(data.get("amount"), str(data.get("currency") or self.currency)),
            livemode=_livemode(data), raw=payload,
        )

    def _refund_event(self, payload: dict, data: dict) -> NormalizedEvent:
        """One refund of a payment. Paystack sends no refund id: refund_reference names it
        (null while pending, set once processed); failing that, the amount does."""
        reference = str(data.get("transaction_reference") or "")
        amount = self._money(data.get("amount"), str(data.get("currency") or self.currency))
        refund_key = str(data.get("refund_reference") or f"amount-{amount.minor if amount else 'unknown'}")
        return NormalizedEvent(
            gateway=self.name, dedupe_key=f"refund.processed:{reference}:{refund_key}", event_type="refund.processed",
            kind="refund", reference=reference, amount=amount, livemode=_livemode(data), raw=payload,
            reversal=Reversal(kind="refund", key=refund_key, amount=amount),
        )

    def _dispute_event(self, payload: dict, data: dict) -> NormalizedEvent:
        event_type = str(payload.get("event") or "")
        transaction = _dict(data.get("transaction"))
        resolution = str(data.get("resolution") or "")
        kind, reversal = "dispute_opened", None
        if event_type == "charge.dispute.resolve":
            kind = "other" if resolution == "declined" else "chargeback"  # declined: the merchant won
            amount = self._money(data.get("refund_amount"), str(data.get("currency") or self.currency))
            # An unknown resolution posts nothing by itself: with no amount, staff decide.
            known = resolution in ("merchant-accepted", "auto-accepted")
            reversal = Reversal(kind="chargeback", key=f"dispute-{data.get('id')}", amount=amount if known else None,
                                transaction_id=str(transaction.get("id") or ""))
        return NormalizedEvent(
            gateway=self.name, dedupe_key=f"{event_type}:{data.get('id') or transaction.get('reference', '')}",
            event_type=event_type, kind=kind,
            reference=str(transaction.get("reference") or data.get("transaction_reference") or ""),
            gateway_transaction_id=str(transaction.get("id") or ""), livemode=_livemode(data), raw=payload,
            reversal=reversal if kind == "chargeback" else None,
        )

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        body = self.call("GET", f"/transaction/verify/{quote(reference, safe='')}", operation="verify")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        # Top-level status true only means "the lookup worked" (PS1 verify/response.json).
        currency = str(data.get("currency") or "")
        return GatewayTransaction(
            gateway=self.name,
            status=_STATUS.get(str(data.get("status") or "").lower(), Status.UNKNOWN),
            amount=self._money(data.get("amount"), currency) if currency else None,
            reference=str(data.get("reference") or ""),
            gateway_transaction_id=str(data.get("id") or ""),
            fee=self._money(data.get("fees"), currency) if currency else None,
            paid_at=_parse_time(data.get("paid_at")),
            message=str(data.get("gateway_response") or body.get("message") or ""),
            # Transfers into a dedicated account: which account, and whose (the owner's code).
            account_number=str(_dict(data.get("authorization")).get("receiver_bank_account_number") or ""),
            account_reference=str(_dict(data.get("customer")).get("customer_code") or ""),
            raw=body,
        )

    def create_virtual_account(self, request: VirtualAccountRequest) -> list[VirtualAccountInfo]:
        """One-step assign (POST /dedicated_account/assign): Paystack creates the customer,
        validates identity and answers "in progress"; the account number arrives in the
        `dedicatedaccount.assign.success` webhook."""
        payload: dict[str, Any] = {
            "email": request.email, "first_name": request.first_name, "last_name": request.last_name,
            "phone": request.phone, "preferred_bank": self.config.get("PREFERRED_BANK") or (
                "wema-bank" if self.live else "test-bank"
            ),
            "country": "NG",
        }
        if request.bvn:
            payload["bvn"] = request.bvn
        body = self.call("POST", "/dedicated_account/assign", operation="dva_assign", json=payload)
        if not body.get("status"):
            raise GatewayPermanentError(f"paystack assign refused: {body.get('message', '')}", body=body)
        return [VirtualAccountInfo(
            gateway=self.name, account_number="", bank_name="", customer_reference=request.email,
            pending=True, raw={"status": body.get("status"), "message": body.get("message")},
        )]

    @staticmethod
    def _money(value: Any, currency: str) -> Money | None:
        if isinstance(value, bool) or value is None or value == "":
            return None
        try:
            minor = int(str(value))
        except ValueError:
            return None
        return Money(minor, currency)
