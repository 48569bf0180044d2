"""Canonical types every gateway adapter speaks (reference gateways.md §8.1).

Amounts inside the platform are integer minor units (kobo, cents, santim). Gateways that
take major units (Flutterwave, Monnify, Chapa, Mercado Pago) are converted here, with
`Decimal(str(value))` and a refusal of anything that does not land on a whole minor unit:
a float never touches money.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

# ISO-4217 exponents of the currencies the adapters may meet.
CURRENCY_EXPONENT: dict[str, int] = {
    "NGN": 2, "GHS": 2, "KES": 2, "ZAR": 2, "USD": 2, "EUR": 2, "GBP": 2,
    "ETB": 2, "BRL": 2, "ARS": 2, "MXN": 2, "COP": 2, "CLP": 0, "PEN": 2, "UYU": 2, "JPY": 0,
}


class AmountError(ValueError):
    """A gateway amount that cannot be an exact whole number of minor units."""


def to_minor(value: Any, currency: str) -> int:
    """Major units (a JSON number or string) -> integer minor units; exact or refused.

    `4500.50` NGN -> 450050; `"1500"` -> 150000; `"10.005"` NGN -> AmountError.
    """
    if isinstance(value, bool) or value is None:
        raise AmountError(f"not an amount: {value!r}")
    try:
        # str() first: Decimal(0.1) would carry the float's binary noise.
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise AmountError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise AmountError(f"not an amount: {value!r}")
    exponent = CURRENCY_EXPONENT.get(currency.upper())
    if exponent is None:
        raise AmountError(f"unknown currency {currency!r}")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise AmountError(f"{value!r} {currency} is not a whole number of minor units")
    return int(minor)


def to_major(minor: int, currency: str) -> Decimal:
    """Integer minor units -> Decimal major units for gateways that take naira/birr/reais."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise AmountError(f"minor units must be an int, got {minor!r}")
    exponent = CURRENCY_EXPONENT.get(currency.upper())
    if exponent is None:
        raise AmountError(f"unknown currency {currency!r}")
    return Decimal(minor).scaleb(-exponent)


@dataclass(frozen=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise AmountError(f"Money.minor must be an int, got {self.minor!r}")


class Status(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REVERSED = "reversed"
    UNKNOWN = "unknown"


# funding/failed: a payment's outcome (verified before anything moves); refund/chargeback:
# money taken back; lookup: a notification that only names a payment (Mercado Pago), whose
# verify answer decides credit, failure or reversal; dispute_opened: staff must respond,
# nothing moves yet; va_assigned/va_failed: Paystack's asynchronous account assignment.
EventKind = Literal[
    "funding", "failed", "refund", "chargeback", "lookup", "dispute_opened", "va_assigned", "va_failed", "other"
]


@dataclass(frozen=True)
class Reversal:
    """Money a gateway took back from a payment: one refund or one lost dispute.

    `key` identifies it among the payment's reversals (the gateway's refund or dispute id),
    so a redelivery posts nothing twice. `amount` is in the customer's terms (what the
    gateway returns to the payer); None means the message does not say and the gateway's API
    must be asked. `cumulative` marks gateways that report the running total of refunds
    instead of each refund (Stripe's charge.refunded `amount_refunded`, Mercado Pago's
    `transaction_amount_refunded`): only the part above what was already reversed posts.
    """

    kind: Literal["refund", "chargeback"]
    key: str
    amount: Money | None
    cumulative: bool = False
    transaction_id: str = ""  # the gateway's id of the payment it reverses, when it says


@dataclass(frozen=True)
class CheckoutRequest:
    reference: str  # ours; the gateway's merchant reference (tx_ref, paymentReference, ...)
    amount: Money
    email: str
    customer_name: str
    callback_url: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckoutSession:
    gateway: str
    reference: str
    authorization_url: str
    gateway_reference: str = ""  # the gateway's own id for the session (cs_..., MNFY|...)
    access_code: str = ""
    raw: Any = None


@dataclass(frozen=True)
class InboundWebhook:
    gateway: str
    headers: dict[str, str]  # lower-cased names
    body: bytes  # the raw bytes, exactly as received: signatures are over these
    query: dict[str, str] = field(default_factory=dict)
    remote_ip: str | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class NormalizedEvent:
    gateway: str
    dedupe_key: str  # unique per gateway: the same logical event delivered twice has one key
    event_type: str  # the gateway's own name (charge.success, SUCCESSFUL_TRANSACTION, ...)
    kind: EventKind
    reference: str = ""  # our reference, when the event carries it (checkouts)
    gateway_transaction_id: str = ""  # the gateway's id, used to verify
    virtual_account_number: str = ""  # transfers into a dedicated/reserved account
    customer_reference: str = ""  # Paystack customer_code, Monnify accountReference, ...
    amount: Money | None = None  # the event's claim; never credited without a verify
    livemode: bool | None = None
    reversal: Reversal | None = None  # refund/chargeback events
    raw: Any = None


@dataclass(frozen=True)
class GatewayTransaction:
    """A gateway's answer to "what happened to this payment?" (the requery): the truth."""

    gateway: str
    status: Status
    amount: Money | None
    reference: str = ""
    gateway_transaction_id: str = ""
    fee: Money | None = None
    paid_at: datetime | None = None
    message: str = ""
    # Which virtual account received a bank transfer, as the gateway's answer names it
    # (Paystack receiver account / customer code, Monnify destination account / product
    # reference, Flutterwave tx_ref): empty when the answer does not say.
    account_number: str = ""
    account_reference: str = ""
    # Refunds and chargebacks the answer reports (Mercado Pago's payment object).
    reversals: tuple[Reversal, ...] = ()
    raw: Any = None


@dataclass(frozen=True)
class VirtualAccountRequest:
    account_reference: str  # ours, unique per user and gateway
    email: str
    first_name: str
    last_name: str
    phone: str = ""
    bvn: str = ""  # passed through to the gateway, never stored nor logged
    nin: str = ""


@dataclass(frozen=True)
class VirtualAccountInfo:
    gateway: str
    account_number: str
    bank_name: str
    account_name: str = ""
    bank_code: str = ""
    customer_reference: str = ""  # what the gateway's funding webhooks carry to find the owner
    pending: bool = False  # Paystack's one-step assign answers "in progress"
    raw: Any = None
