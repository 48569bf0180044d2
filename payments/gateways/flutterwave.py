"""Flutterwave v3 (reference gateways.md §2).

Sources: developer.flutterwave.com/docs/collecting-payments/standard (POST /v3/payments,
amounts in major units, `data.link`); /docs/transaction-verification and
/v3.0/reference/verify-transaction (GET /v3/transactions/{id}/verify; check status
"successful", tx_ref, currency, amount); /v3.0/reference/verify-transaction-with-tx_ref
(GET /v3/transactions/verify_by_reference?tx_ref=...); /v3.0/docs/webhooks (`verif-hash`
header equal to the dashboard secret hash; payload {event, data}); /docs/virtual-accounts/ngn
(POST /v3/virtual-account-numbers, `is_permanent` with `bvn` for static accounts).

Two webhook schemes: the legacy `verif-hash` is the secret itself, not a signature of the
body, so it proves origin only (anyone who saw one delivery could replay it with another
body). The newer `flutterwave-signature` = base64(HMAC-SHA256(raw body, secret hash)) is
body-bound ([S] — several independent implementations; gateways.md §2). Both are accepted
(a delivery carrying both is accepted on the legacy hash when the new signature does not
match: during a migration Flutterwave may sign with a secret we do not hold yet, and the
legacy hash alone would pass anyway); either way nothing is credited before GET .../verify
agrees, and a transfer into a static account credits only when that answer's `tx_ref` is the
account's (developer.flutterwave.com v3 virtual accounts: `tx_ref` "is returned whenever a
transfer is made into the account").

Refunds: `refund.completed` (data.id = the refund, TransactionId = the payment; the payload
shape is [S], one public implementation), always confirmed with GET /v3/refunds/{id}
(developer.flutterwave.com/docs/payment-operations/refunds: `amount_refunded`, `tx_id`,
`status` "completed") before anything is debited. Chargeback webhooks are not documented for
v3 and are not handled (docs/payments.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

from payments.gateways.base import (
    Gateway,
    GatewayPermanentError,
    GatewayTransientError,
    SignatureCheck,
    constant_time_equal,
    load_json,
)
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
    VirtualAccountInfo,
    VirtualAccountRequest,
    to_major,
    to_minor,
)

_STATUS = {
    "successful": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "cancelled": Status.FAILED,
    "pending": Status.PENDING,
}


class FlutterwaveGateway(Gateway):
    name = "flutterwave"
    capabilities = frozenset({"checkout", "virtual_account", "refund"})

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.get('SECRET_KEY', '')}"}

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        body = self.call(
            "POST", "/payments", operation="initialize",
            json={
                "tx_ref": request.reference,
                "amount": str(to_major(request.amount.minor, request.amount.currency)),
                "currency": request.amount.currency,
                "redirect_url": request.callback_url,
                "customer": {"email": request.email, "name": request.customer_name},
                "meta": request.metadata,
            },
        )
        data = body.get("data") or {}
        if body.get("status") != "success" or not data.get("link"):
            raise GatewayPermanentError(f"flutterwave initialize refused: {body.get('message', '')}", body=body)
        return CheckoutSession(
            gateway=self.name, reference=request.reference, authorization_url=data["link"], raw=body
        )

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        signature = webhook.header("flutterwave-signature").strip()
        legacy = webhook.header("verif-hash").strip()
        if not signature and not legacy:
            return SignatureCheck(False, "missing verif-hash / flutterwave-signature")
        for secret in self.webhook_secrets:
            if signature:
                digest = hmac.new(secret.encode(), webhook.body, hashlib.sha256).digest()
                if constant_time_equal(base64.b64encode(digest).decode(), signature):
                    return SignatureCheck(True)
        for secret in self.webhook_secrets:
            if legacy and constant_time_equal(secret, legacy):
                return SignatureCheck(True, body_bound=False)
        return SignatureCheck(False, "flutterwave signature does not match")

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        payload = load_json(webhook.body)
        event_type = str(payload.get("event") or payload.get("type") or "")
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        if event_type == "refund.completed":
            return self._refund_event(payload, data)
        status = str(data.get("status") or "").lower()
        kind = "other"
        if event_type == "charge.completed":
            kind = "funding" if status == "successful" else "failed"
        currency = str(data.get("currency") or self.currency)
        object_id = str(data.get("id") or "")
        tx_ref = str(data.get("tx_ref") or "")
        return NormalizedEvent(
            gateway=self.name,
            # tx_ref is part of the key: a legacy-signed copy re-pointed at another tx_ref must
            # not take the genuine event's key (and so keep it from being processed).
            dedupe_key=f"{event_type}:{object_id or tx_ref}:{status}:{tx_ref}",
            event_type=event_type, kind=kind, reference=tx_ref, gateway_transaction_id=object_id,
            amount=self._money(data.get("amount"), currency), raw=payload,
        )

    def _refund_event(self, payload: dict, data: dict) -> NormalizedEvent:
        refund_id = str(data.get("id") or "")
        transaction_id = str(data.get("TransactionId") or data.get("tx_id") or "")
        return NormalizedEvent(
            gateway=self.name, dedupe_key=f"refund.completed:{refund_id}", event_type="refund.completed",
            kind="refund", gateway_transaction_id=transaction_id, raw=payload,
            # No amount: the refund is always confirmed with the API (confirm_reversal).
            reversal=Reversal(kind="refund", key=refund_id, amount=None, transaction_id=transaction_id),
        )

    def confirm_reversal(self, event: NormalizedEvent) -> Reversal:
        if event.kind != "refund" or event.reversal is None or not event.reversal.key.isdigit():
            raise GatewayPermanentError(f"flutterwave {event.event_type}: no refund id to confirm")
        body = self.call("GET", f"/refunds/{event.reversal.key}", operation="refund_fetch")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        if str(data.get("status") or "").lower() != "completed":
            raise GatewayTransientError(f"flutterwave refund {event.reversal.key} is {data.get('status')!r}")
        return Reversal(
            kind="refund", key=event.reversal.key, amount=self._money(data.get("amount_refunded"), self.currency),
            transaction_id=str(data.get("tx_id") or ""),
        )

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        if gateway_transaction_id.isdigit():
            path = f"/transactions/{quote(gateway_transaction_id, safe='')}/verify"
            body = self.call("GET", path, operation="verify")
        else:
            body = self.call(
                "GET", "/transactions/verify_by_reference", operation="verify", params={"tx_ref": reference}
            )
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        currency = str(data.get("currency") or "")
        return GatewayTransaction(
            gateway=self.name,
            status=_STATUS.get(str(data.get("status") or "").lower(), Status.UNKNOWN),
            amount=self._money(data.get("amount"), currency) if currency else None,
            reference=str(data.get("tx_ref") or ""),
            gateway_transaction_id=str(data.get("id") or ""),
            # app_fee is Flutterwave's fee; charged_amount includes it when the customer bears it.
            fee=self._money(data.get("app_fee"), currency) if currency else None,
            paid_at=_parse_time(data.get("created_at")),
            message=str(data.get("processor_response") or body.get("message") or ""),
            # A transfer into a static account carries the account's tx_ref.
            account_reference=str(data.get("tx_ref") or ""),
            raw=body,
        )

    def create_virtual_account(self, request: VirtualAccountRequest) -> list[VirtualAccountInfo]:
        if not request.bvn:
            raise GatewayPermanentError("a static Flutterwave account needs the customer's BVN")
        body = self.call(
            "POST", "/virtual-account-numbers", operation="va_create",
            json={
                "email": request.email, "tx_ref": request.account_reference, "phonenumber": request.phone,
                "firstname": request.first_name, "lastname": request.last_name,
                "narration": f"{request.first_name} {request.last_name}".strip(),
                "is_permanent": True, "bvn": request.bvn,
            },
        )
        data = body.get("data") or {}
        if body.get("status") != "success" or not data.get("account_number"):
            raise GatewayPermanentError(f"flutterwave virtual account refused: {body.get('message', '')}")
        return [VirtualAccountInfo(
            gateway=self.name, account_number=str(data["account_number"]),
            bank_name=str(data.get("bank_name") or ""), customer_reference=request.account_reference,
            raw={k: v for k, v in data.items() if k in ("account_number", "bank_name", "flw_ref", "order_ref")},
        )]

    @staticmethod
    def _money(value: Any, currency: str) -> Money | None:
        try:
            return Money(to_minor(value, currency), currency)
        except AmountError:
            return None


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
