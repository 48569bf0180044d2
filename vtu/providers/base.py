"""The one interface every VTU provider adapter implements (DESIGN §3).

Adapters are thin and pure: they turn our normalised order into the vendor's wire format,
send it through `config.http.outbound_request` (timeouts, no open transaction), and map the
vendor's answer to one `ProviderResult`. They never touch the database; each HTTP exchange
is reported to the caller through `on_call` (a `CallLog`), which the purchase service stores.

The rule that protects the money lives in the mapping: only an answer the vendor documents
as a definitive failure becomes FAILED. A timeout, connection error after the request may
have left, 5xx, unparseable body or unmapped code is UNKNOWN; a documented in-progress
state is PENDING. Both keep the purchase `processing` until a requery settles it.
"""

from __future__ import annotations

import enum
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from config.errors import ApiError

# Our network codes; each adapter maps them to the vendor's own ids.
NETWORKS = ("MTN", "AIRTEL", "GLO", "9MOBILE")
KIND_DATA = "data"
KIND_AIRTIME = "airtime"


# What a request to the vendor was for. The same refusal means different things: refusing a
# first send (bad credentials, IP not whitelisted, rate limited, connection refused) proves
# nothing was bought; refusing a query or a resend of an order sent earlier says nothing about
# that order, which may well have been delivered. See `refusal()`.
SEND = "send"  # the first send of an order (buy_data / buy_airtime)
QUERY = "query"  # the vendor's status endpoint, about an order sent earlier
RESEND = "resend"  # the same order again under the same request id (Amigo's Idempotency-Key)


class Outcome(enum.StrEnum):
    SUCCESS = "success"  # delivered
    FAILED = "failed"  # definitively not delivered (and not charged)
    PENDING = "pending"  # accepted, not final yet: requery
    UNKNOWN = "unknown"  # no definitive answer: requery, never refund


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    provider_reference: str = ""
    message: str = ""
    # A definitive failure *before acceptance* (provider down, out of float, plan not
    # available there, auth/IP problem): the order may fail over to the next provider.
    # Never set for UNKNOWN or PENDING, nor for failures about the customer's input.
    failover_allowed: bool = False
    cost_kobo: int | None = None  # what the provider says it charged, when it says
    token: str = ""  # PIN or token for products that return one (electricity, exam PINs)
    # The vendor says it gave the money back (VTpass `reversed` / 040, ClubKonnect
    # ORDER_CANCELLED after acceptance). Always with outcome FAILED; on a purchase already
    # `successful` it means "post the reversal", never a second refund.
    reversed: bool = False
    raw: Any = None  # the vendor's answer, secrets redacted


def refusal(*, operation: str, message: str, reference: str = "", raw: Any = None) -> ProviderResult:
    """The vendor refused *this request* without a word about any order: auth, IP whitelist,
    rate limit, account locked, connection refused before sending.

    On a SEND nothing was bought: a definitive failure before acceptance, failover allowed.
    On a QUERY or RESEND the order sent earlier may have been delivered: UNKNOWN (the purchase
    stays processing, its hold intact, and is checked again later or settled by staff)."""
    if operation == SEND:
        return ProviderResult(Outcome.FAILED, reference, message, failover_allowed=True, raw=raw)
    return ProviderResult(Outcome.UNKNOWN, reference, f"{message}; {operation} refused, order state unknown"[:500], raw=raw)


@dataclass(frozen=True)
class CallLog:
    """One HTTP exchange with a provider, secrets already redacted."""

    provider: str
    operation: str  # buy_data | buy_airtime | resend | query | list_plans | balance
    method: str
    url: str
    request_body: Any
    status_code: int | None
    response_body: Any  # parsed JSON when possible, else text truncated to 4 kB
    latency_ms: float
    error: str = ""  # timeout | connection_error | invalid_json | ...
    request_id: str = ""


@dataclass(frozen=True)
class DataOrder:
    request_id: str  # our unique provider request id for this attempt (ProviderAttempt)
    network: str  # our network code: MTN | AIRTEL | GLO | 9MOBILE
    phone_e164: str  # +234...
    provider_plan_id: str  # the provider's own plan id for our plan
    ported: bool = False


@dataclass(frozen=True)
class AirtimeOrder:
    request_id: str
    network: str
    phone_e164: str
    amount_kobo: int  # face value; whole naira (multiple of 100)
    ported: bool = False


@dataclass(frozen=True)
class ProviderPlan:
    provider_plan_id: str
    network: str
    name: str
    size_mb: int  # 1 GB = 1024 MB, as in our catalogue; 0 when the vendor does not say
    validity_days: int  # 0 when the vendor does not say
    plan_type: str  # sme | gifting | corporate
    cost_kobo: int
    extra: dict = field(default_factory=dict)


CallSink = Callable[[CallLog], None]
Clock = Callable[[], float]  # seconds since the epoch, like time.time


class ProviderError(Exception):
    """An adapter could not do what was asked (balance unreadable, plan list malformed).
    Never raised for a purchase outcome: buy_*/query always answer a ProviderResult."""


class ProductNotSupported(ApiError):
    """This provider does not sell this product (e.g. Amigo airtime). Raised before any HTTP,
    so nothing was sent: routing skips the provider (check `supports()` first)."""

    code = "UNSUPPORTED_PRODUCT"


class QueryNotSupported(ProviderError):
    """The vendor has no status endpoint (Amigo). Settle with `recheck(order)`, which resends
    the same request id where that is documented as safe, or leave it to staff."""


class ProviderNotConfigured(ProviderError):
    """No adapter of that name, or it may not run here (a sandbox outside DEBUG/tests)."""


class Provider(ABC):
    """Subclass per vendor in vtu/providers/<vendor>.py and register it in registry.py."""

    name: str = ""
    # True only where the vendor documents that resending the same request id is safe
    # (Amigo's Idempotency-Key). Otherwise an UNKNOWN attempt is settled by requery or staff.
    resend_same_request_id_is_safe: bool = False
    # True where `query` can settle an attempt (VTpass /requery, ClubKonnect APIQueryV1).
    supports_query: bool = True
    # Products sold, as (kind, network); `supports()` reads it. Empty means everything.
    products: frozenset[tuple[str, str]] = frozenset()

    def __init__(self, config: dict[str, Any], *, on_call: CallSink | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.on_call = on_call if on_call is not None else (lambda _log: None)
        self.clock = clock or time.time

    def supports(self, *, kind: str, network: str) -> bool:
        """Whether this provider sells `kind` ("data" | "airtime") on `network`; routing asks
        before sending, so an unsupported product never costs an attempt."""
        return not self.products or (kind, network) in self.products

    def new_request_id(self, *, now: datetime | None = None) -> str:
        """A fresh provider request id for a new attempt (store it on the ProviderAttempt
        before sending; never regenerate it for the same attempt). Vendors with a format
        (VTpass: Lagos date-time first) override this."""
        return secrets.token_hex(16)

    def recheck(self, order: DataOrder | AirtimeOrder, *, provider_reference: str = "") -> ProviderResult:
        """Settle an attempt whose outcome is PENDING or UNKNOWN, the one way this vendor
        allows: its status endpoint where it has one, else resending the *same* request id
        where the vendor documents that as safe (Amigo's Idempotency-Key returns the stored
        outcome instead of buying again). Raises QueryNotSupported when neither is possible:
        then only staff can settle it."""
        if self.supports_query:
            return self.query(request_id=order.request_id, provider_reference=provider_reference)
        if self.resend_same_request_id_is_safe:
            return self.resend(order)
        raise QueryNotSupported(f"{self.name} can neither be queried nor safely resent")

    def resend(self, order: DataOrder | AirtimeOrder) -> ProviderResult:
        """The same order again under the same request id, its answer mapped as a RESEND (a
        refusal is UNKNOWN, see `refusal`). Only adapters that set
        `resend_same_request_id_is_safe` implement it; a buy_* call would map a refusal of
        the resend as a refusal of a first send and fail a possibly delivered order."""
        raise QueryNotSupported(f"{self.name} does not implement a safe resend")

    @abstractmethod
    def list_plans(self) -> list[ProviderPlan]: ...

    @abstractmethod
    def buy_data(self, order: DataOrder) -> ProviderResult: ...

    @abstractmethod
    def buy_airtime(self, order: AirtimeOrder) -> ProviderResult: ...

    @abstractmethod
    def query(self, *, request_id: str, provider_reference: str = "") -> ProviderResult: ...

    @abstractmethod
    def balance_kobo(self) -> int: ...

    def callback_request_id(self, payload: dict[str, Any]) -> str | None:
        """Our request id named in an (unsigned) provider callback, if any. A callback only
        ever triggers a requery; it never settles money by itself."""
        return None
