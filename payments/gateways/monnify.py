"""Monnify (Moniepoint) (reference gateways.md §3).

Sources: Monnify/monnify-python (official SDK): monnify/base/__init__.py (POST
/api/v1/auth/login with Basic base64(apiKey:secret) -> responseBody.accessToken/expiresIn;
`compare_hash` = hex HMAC-SHA512(raw body, client secret) with hmac.compare_digest),
monnify/collection/transaction.py (init-transaction; GET /api/v2/transactions/{ref}),
monnify/collection/reserved_account.py and validators (reserved accounts need bvn or nin);
developers.monnify.com/docs/webhooks/event-types (SUCCESSFUL_TRANSACTION sample: eventData
with product{reference,type}, transactionReference, paymentReference, amountPaid,
totalPayable, settlementAmount, paymentStatus, currency).

Amounts are naira decimals both ways. Monnify's own references contain '|': always
URL-encoded. The bearer token is cached until shortly before it expires.

Refunds: `SUCCESSFUL_REFUND` (developers.monnify.com webhook event types, "Successful Refund:
sent when an initiated refund has been processed successfully"). Its eventData names the
refund (`refundReference`, merchant-generated, unique), the payment it reverses
(`transactionReference`) and the amount refunded (`refundAmount`, naira) — field names as in
Monnify's refund resource (Monnify/monnify-python TransactionRefund: transactionReference,
refundReference, amount) [S; the event sample itself was not found: docs/payments.md]. The
signature covers the body; a refund whose amount is missing is never guessed (staff decide).
Never `amountPaid`: that is the whole payment, and a partial refund would reverse all of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar
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

# paymentStatus (developers.monnify.com .../verify-transactions). PARTIALLY_PAID and OVERPAID
# are real money of the wrong size: SUCCEEDED here, the amount check sends them to review.
_STATUS = {
    "PAID": Status.SUCCEEDED,
    "OVERPAID": Status.SUCCEEDED,
    "PARTIALLY_PAID": Status.SUCCEEDED,
    "PENDING": Status.PENDING,
    "FAILED": Status.FAILED,
    "EXPIRED": Status.FAILED,
    "CANCELLED": Status.FAILED,
    "REVERSED": Status.REVERSED,
}
TOKEN_REFRESH_MARGIN_SECONDS = 300


class MonnifyGateway(Gateway):
    name = "monnify"
    capabilities = frozenset({"checkout", "virtual_account", "refund"})
    SIGNATURE_HEADER = "monnify-signature"
    # support.monnify.com "Monnify webhooks: events, security, timeout and idempotency" [P].
    source_ips = frozenset({"35.242.133.146"})

    # (base_url, api_key) -> (token, monotonic expiry); one per process, shared by threads.
    _tokens: ClassVar[dict[tuple[str, str], tuple[str, float]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def access_token(self) -> str:
        key = (self.base_url, str(self.config.get("API_KEY", "")))
        now = self.clock()
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] > now:
                return cached[0]
        basic = base64.b64encode(f"{self.config.get('API_KEY', '')}:{self.config.get('SECRET_KEY', '')}".encode())
        body = self.call(
            "POST", "/api/v1/auth/login", operation="login",
            headers={"Authorization": f"Basic {basic.decode()}"}, authenticated=False,
        )
        response = body.get("responseBody") or {}
        token = response.get("accessToken")
        if not token:
            raise GatewayTransientError("monnify login answered without a token")
        expires_in = float(response.get("expiresIn") or 0)
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, expires_in / 2)
        with self._lock:
            self._tokens[key] = (token, now + expires_in - margin)
        return token

    def call(self, method: str, path: str, *, operation: str, authenticated: bool = True, **kwargs: Any) -> Any:
        if authenticated:
            kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {self.access_token()}"
        return super().call(method, path, operation=operation, **kwargs)

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        body = self.call(
            "POST", "/api/v1/merchant/transactions/init-transaction", operation="initialize",
            json={
                "amount": str(to_major(request.amount.minor, request.amount.currency)),
                "customerName": request.customer_name or request.email,
                "customerEmail": request.email,
                "paymentReference": request.reference,
                "paymentDescription": "Wallet funding",
                "currencyCode": request.amount.currency,
                "contractCode": self.config.get("CONTRACT_CODE", ""),
                "redirectUrl": request.callback_url,
                "metaData": request.metadata,
            },
        )
        data = body.get("responseBody") or {}
        if not body.get("requestSuccessful") or not data.get("checkoutUrl"):
            raise GatewayPermanentError(f"monnify init refused: {body.get('responseMessage', '')}", body=body)
        return CheckoutSession(
            gateway=self.name, reference=request.reference, authorization_url=data["checkoutUrl"],
            gateway_reference=str(data.get("transactionReference") or ""), raw=body,
        )

    def verify_signature(self, webhook: InboundWebhook) -> SignatureCheck:
        received = webhook.header(self.SIGNATURE_HEADER).strip().lower()
        if not received:
            return SignatureCheck(False, "missing monnify-signature")
        for secret in self.webhook_secrets:
            expected = hmac.new(secret.encode(), webhook.body, hashlib.sha512).hexdigest()
            if constant_time_equal(expected, received):
                return SignatureCheck(True)
        return SignatureCheck(False, "monnify-signature does not match")

    def parse_event(self, webhook: InboundWebhook) -> NormalizedEvent:
        payload = load_json(webhook.body)
        event_type = str(payload.get("eventType") or "")
        data = _dict(payload.get("eventData"))
        currency = str(data.get("currency") or data.get("currencyCode") or self.currency)
        if event_type == "SUCCESSFUL_REFUND":
            return self._refund_event(payload, data, currency)
        product = _dict(data.get("product"))
        transaction_reference = str(data.get("transactionReference") or "")
        kind, reference, customer_reference, account_number = "other", str(data.get("paymentReference") or ""), "", ""
        if event_type == "SUCCESSFUL_TRANSACTION":
            kind = "funding"
            if product.get("type") == "RESERVED_ACCOUNT":
                # product.reference is the accountReference we chose when reserving the account;
                # the destination names which of its banks' NUBANs was paid.
                customer_reference, reference = str(product.get("reference") or ""), ""
                account_number = str(_dict(data.get("destinationAccountInformation")).get("accountNumber") or "")
        return NormalizedEvent(
            gateway=self.name,
            dedupe_key=f"{event_type}:{transaction_reference or reference}",
            event_type=event_type, kind=kind, reference=reference, gateway_transaction_id=transaction_reference,
            customer_reference=customer_reference, virtual_account_number=account_number,
            amount=self._money(data.get("amountPaid"), currency), raw=payload,
        )

    def _refund_event(self, payload: dict, data: dict, currency: str) -> NormalizedEvent:
        refund_reference = str(data.get("refundReference") or "")
        transaction_reference = str(data.get("transactionReference") or "")
        amount = self._money(data.get("refundAmount"), currency)
        return NormalizedEvent(
            gateway=self.name, dedupe_key=f"SUCCESSFUL_REFUND:{refund_reference or transaction_reference}",
            event_type="SUCCESSFUL_REFUND", kind="refund", reference=str(data.get("paymentReference") or ""),
            gateway_transaction_id=transaction_reference, amount=amount, raw=payload,
            reversal=Reversal(kind="refund", key=refund_reference or f"{transaction_reference}-amount",
                              amount=amount, transaction_id=transaction_reference),
        )

    def fetch_transaction(
        self, *, reference: str = "", gateway_transaction_id: str = "", checkout_id: str = ""
    ) -> GatewayTransaction:
        monnify_reference = gateway_transaction_id or checkout_id
        if monnify_reference:
            body = self.call(
                "GET", f"/api/v2/transactions/{quote(monnify_reference, safe='')}", operation="verify"
            )
        else:
            body = self.call(
                "GET", "/api/v2/merchant/transactions/query", operation="verify",
                params={"paymentReference": reference},
            )
        data = body.get("responseBody") if isinstance(body.get("responseBody"), dict) else {}
        currency = str(data.get("currencyCode") or data.get("currency") or "")
        amount = self._money(data.get("amountPaid"), currency) if currency else None
        settled = self._money(data.get("settlementAmount"), currency) if currency else None
        fee = Money(amount.minor - settled.minor, currency) if amount and settled else None
        return GatewayTransaction(
            gateway=self.name,
            status=_STATUS.get(str(data.get("paymentStatus") or "").upper(), Status.UNKNOWN),
            amount=amount, reference=str(data.get("paymentReference") or ""),
            gateway_transaction_id=str(data.get("transactionReference") or ""), fee=fee,
            paid_at=_parse_time(data.get("paidOn")),
            message=str(data.get("paymentStatus") or body.get("responseMessage") or ""),
            # Transfers into a reserved account (when the answer carries them).
            account_number=str(_dict(data.get("destinationAccountInformation")).get("accountNumber") or ""),
            account_reference=str(_dict(data.get("product")).get("reference") or ""), raw=body,
        )

    def create_virtual_account(self, request: VirtualAccountRequest) -> list[VirtualAccountInfo]:
        if not (request.bvn or request.nin):
            raise GatewayPermanentError("a Monnify reserved account needs the customer's BVN or NIN")
        payload: dict[str, Any] = {
            "accountReference": request.account_reference,
            "accountName": f"{request.first_name} {request.last_name}".strip() or request.email,
            "customerName": f"{request.first_name} {request.last_name}".strip() or request.email,
            "customerEmail": request.email, "currencyCode": self.currency,
            "contractCode": self.config.get("CONTRACT_CODE", ""), "getAllAvailableBanks": True,
        }
        payload["bvn" if request.bvn else "nin"] = request.bvn or request.nin
        body = self.call("POST", "/api/v2/bank-transfer/reserved-accounts", operation="reserve", json=payload)
        data = body.get("responseBody") or {}
        accounts = data.get("accounts") or []
        if not body.get("requestSuccessful") or not accounts:
            raise GatewayPermanentError(f"monnify reserve refused: {body.get('responseMessage', '')}")
        return [
            VirtualAccountInfo(
                gateway=self.name, account_number=str(account.get("accountNumber") or ""),
                bank_name=str(account.get("bankName") or ""), bank_code=str(account.get("bankCode") or ""),
                account_name=str(account.get("accountName") or ""), customer_reference=request.account_reference,
            )
            for account in accounts
            if account.get("accountNumber")
        ]

    @staticmethod
    def _money(value: Any, currency: str) -> Money | None:
        try:
            return Money(to_minor(value, currency), currency)
        except AmountError:
            return None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
