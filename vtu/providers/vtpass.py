"""VTpass. docs/providers.md#vtpass has the sources; the codes below are VTpass's own table
(vtpass.com/documentation/response-codes/) [V].

Wire format: POST with headers `api-key` + `secret-key`, GET with `api-key` + `public-key`;
`POST /pay` `{request_id, serviceID, billersCode, variation_code, phone}` (data) or
`{request_id, serviceID, amount, phone}` (airtime); `POST /requery {request_id}`;
`GET /service-variations?serviceID=` (the list key is `variations`, misspelt `varations` in
some versions); `GET /balance` -> `{"code": 1, "contents": {"balance": ...}}` [R].

request_id: at least 12 characters, the first 12 the Africa/Lagos date-time YYYYMMDDHHII.
Reusing one answers 014. VTpass's own rule is that anything outside its table, a timeout or
no answer is *pending* (requery); we call that UNKNOWN, which is settled the same way.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from accounts.phones import national
from vtu.providers.base import (
    KIND_AIRTIME,
    KIND_DATA,
    QUERY,
    SEND,
    AirtimeOrder,
    DataOrder,
    Outcome,
    ProductNotSupported,
    Provider,
    ProviderError,
    ProviderPlan,
    ProviderResult,
    refusal,
)
from vtu.providers.parsing import naira_to_kobo, size_mb_from_name, validity_days_from_name
from vtu.providers.transport import Exchange, send

LAGOS = ZoneInfo("Africa/Lagos")
REQUEST_ID = re.compile(r"^\d{12}[A-Za-z0-9]*$")
DATA_SERVICE_IDS = {"MTN": "mtn-data", "AIRTEL": "airtel-data", "GLO": "glo-data", "9MOBILE": "etisalat-data"}
AIRTIME_SERVICE_IDS = {"MTN": "mtn", "AIRTEL": "airtel", "GLO": "glo", "9MOBILE": "etisalat"}
DEFAULT_NOT_FOUND_GRACE_SECONDS = 900

INSPECT = "inspect"  # look at content.transactions.status
NOT_FOUND = "not_found"  # 015: never arrived, but only trusted after a grace period
F, P, U, S = Outcome.FAILED, Outcome.PENDING, Outcome.UNKNOWN, Outcome.SUCCESS

# Every documented code -> (outcome, failover allowed, meaning). failover only for refusals
# before acceptance that another provider would not share (VTpass down for us, out of float,
# product not sold/whitelisted, account or IP problem, request-id date rejected).
CODES: dict[str, tuple[Any, bool, str]] = {
    "000": (INSPECT, False, "TRANSACTION PROCESSED: see content.transactions.status"),
    "001": (INSPECT, False, "TRANSACTION QUERY: see content.transactions.status"),
    "099": (P, False, "TRANSACTION IS PROCESSING: requery"),
    "016": (F, False, "TRANSACTION FAILED"),
    "010": (F, True, "VARIATION CODE DOES NOT EXIST"),
    "011": (F, False, "INVALID ARGUMENTS"),  # our request is wrong: staff must look, not another provider
    "012": (F, True, "PRODUCT DOES NOT EXIST"),
    "013": (F, True, "BELOW MINIMUM AMOUNT ALLOWED"),
    "014": (U, False, "REQUEST ID ALREADY EXIST: an earlier send with this id arrived; requery it"),
    "015": (NOT_FOUND, False, "INVALID REQUEST ID: no transaction with this request id"),
    "017": (F, True, "ABOVE MAXIMUM AMOUNT ALLOWED"),
    "018": (F, True, "LOW WALLET BALANCE"),
    "019": (F, False, "LIKELY DUPLICATE TRANSACTION: refused (same product and number within 30 s)"),
    "020": (F, False, "BILLER CONFIRMED (a verification code: VTpass says treat as failed in a purchase)"),
    "021": (F, True, "ACCOUNT LOCKED"),
    "022": (F, True, "ACCOUNT SUSPENDED"),
    "023": (F, True, "API ACCESS NOT ENABLE FOR USER"),
    "024": (F, True, "ACCOUNT INACTIVE"),
    "025": (F, False, "RECIPIENT BANK INVALID"),
    "026": (F, False, "RECIPIENT ACCOUNT COULD NOT BE VERIFIED"),
    "027": (F, True, "IP NOT WHITELISTED, CONTACT SUPPORT"),
    "028": (F, True, "PRODUCT IS NOT WHITELISTED ON YOUR ACCOUNT"),
    "030": (F, True, "BILLER NOT REACHABLE AT THIS POINT"),
    "031": (F, True, "BELOW MINIMUM QUANTITY ALLOWED"),
    "032": (F, True, "ABOVE MAXIMUM QUANTITY ALLOWED"),
    "034": (F, True, "SERVICE SUSPENDED"),
    "035": (F, True, "SERVICE INACTIVE"),
    "040": (F, False, "TRANSACTION REVERSAL (money back to our VTpass wallet)"),
    "044": (U, False, "TRANSACTION RESOLVED: contact VTpass (staff)"),
    "083": (U, False, "SYSTEM ERROR: charged or not is unknown"),
    "085": (F, True, "IMPROPER REQUEST ID (date): refused before processing"),
    "087": (F, True, "INVALID CREDENTIALS"),
    "089": (U, False, "REQUEST IS PROCESSING, PLEASE WAIT: whether this one was taken is unclear; requery"),
    "091": (F, True, "TRANSACTION NOT PROCESSED: not charged"),
}
# On a requery only these codes speak about the transaction itself: its state (000/001, 099),
# failed (016), no such request id (015, after a grace), not processed (091), reversed (040),
# or the UNKNOWN ones. Every other code refuses the requery (credentials 087, IP 027, account
# 021-024, a validation code about the request) and says nothing about the order: UNKNOWN.
QUERY_CODES = frozenset({"000", "001", "099", "014", "015", "016", "040", "044", "083", "089", "091"})
# content.transactions.status under 000/001 [V response-codes page; reversed/resolved in the
# newer table]. "resolved" means "contact VTpass": staff decide.
TRANSACTION_STATUSES: dict[str, tuple[Outcome, bool]] = {
    "initiated": (P, False),
    "pending": (P, False),
    "delivered": (S, False),
    "reversed": (F, True),  # (outcome, reversed)
    "resolved": (U, False),
}


def lagos_request_id(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(LAGOS)
    return moment.strftime("%Y%m%d%H%M") + secrets.token_hex(10)


class VTpassProvider(Provider):
    name = "vtpass"
    supports_query = True
    products = frozenset(
        [(KIND_DATA, network) for network in DATA_SERVICE_IDS] + [(KIND_AIRTIME, network) for network in AIRTIME_SERVICE_IDS]
    )

    def new_request_id(self, *, now: datetime | None = None) -> str:
        return lagos_request_id(now or datetime.fromtimestamp(self.clock(), UTC))

    def _url(self, path: str) -> str:
        return f"{self.config['BASE_URL'].rstrip('/')}{path}"

    def _post(self, operation: str, path: str, body: dict[str, Any], request_id: str) -> Exchange:
        headers = {"api-key": self.config["API_KEY"], "secret-key": self.config["SECRET_KEY"], "Accept": "application/json"}
        return send(self, operation=operation, method="POST", url=self._url(path), request_id=request_id,
                    json_body=body, headers=headers)

    def _get(self, operation: str, path: str, params: dict[str, str] | None = None) -> Exchange:
        headers = {"api-key": self.config["API_KEY"], "public-key": self.config["PUBLIC_KEY"], "Accept": "application/json"}
        return send(self, operation=operation, method="GET", url=self._url(path), params=params, headers=headers)

    def buy_data(self, order: DataOrder) -> ProviderResult:
        self._check_request_id(order.request_id)
        if order.network not in DATA_SERVICE_IDS:
            raise ProductNotSupported(f"VTpass has no data service for {order.network}")
        phone = national(order.phone_e164)
        body = {
            "request_id": order.request_id, "serviceID": DATA_SERVICE_IDS[order.network], "billersCode": phone,
            "variation_code": order.provider_plan_id, "phone": phone,
        }
        return self.classify(self._post("buy_data", "/pay", body, order.request_id))

    def buy_airtime(self, order: AirtimeOrder) -> ProviderResult:
        self._check_request_id(order.request_id)
        if order.network not in AIRTIME_SERVICE_IDS or order.amount_kobo % 100:
            raise ProductNotSupported("VTpass airtime needs a known network and whole naira")
        body = {
            "request_id": order.request_id, "serviceID": AIRTIME_SERVICE_IDS[order.network],
            "amount": order.amount_kobo // 100, "phone": national(order.phone_e164),
        }
        return self.classify(self._post("buy_airtime", "/pay", body, order.request_id))

    def query(self, *, request_id: str, provider_reference: str = "") -> ProviderResult:
        exchange = self._post("query", "/requery", {"request_id": request_id}, request_id)
        return self.classify(exchange, operation=QUERY, request_id=request_id)

    def balance_kobo(self) -> int:
        exchange = self._get("balance", "/balance")
        body = exchange.body
        contents = body.get("contents") if isinstance(body, dict) else None
        if exchange.status_code != 200 or not isinstance(contents, dict) or "balance" not in contents:
            raise ProviderError(f"VTpass balance unreadable (HTTP {exchange.status_code})")
        try:
            return naira_to_kobo(contents["balance"])
        except ValueError as exc:
            raise ProviderError("VTpass balance is not a number") from exc

    def list_plans(self) -> list[ProviderPlan]:
        plans: list[ProviderPlan] = []
        for network, service_id in DATA_SERVICE_IDS.items():
            exchange = self._get("list_plans", "/service-variations", {"serviceID": service_id})
            content = exchange.body.get("content") if isinstance(exchange.body, dict) else None
            if exchange.status_code != 200 or not isinstance(content, dict):
                raise ProviderError(f"VTpass variations for {service_id} unreadable (HTTP {exchange.status_code})")
            variations = content.get("variations", content.get("varations")) or []
            plans.extend(plan for item in variations if (plan := _plan(network, item)) is not None)
        return plans

    def callback_request_id(self, payload: dict[str, Any]) -> str | None:
        """VTpass POSTs `{"type": "transaction-update", "data": {... "requestId": ...}}`; unsigned,
        so it only triggers a requery."""
        data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
        request_id = data.get("requestId") or data.get("request_id")
        return str(request_id) if request_id else None

    def _check_request_id(self, request_id: str) -> None:
        if not REQUEST_ID.match(request_id or ""):
            # A programming error, caught before anything is sent: use new_request_id().
            raise ValueError("VTpass request_id must start with the Lagos date-time YYYYMMDDHHII")

    # --- the mapping ---------------------------------------------------------------------------

    def classify(self, exchange: Exchange, *, operation: str = SEND, request_id: str = "") -> ProviderResult:
        """VTpass's answer to /pay (SEND) or /requery (QUERY, with its `request_id` for 015)."""
        if not exchange.answered:
            if not exchange.sent:
                return refusal(operation=operation, message="VTpass unreachable (not sent)")
            return ProviderResult(U, message=f"No answer from VTpass ({exchange.error})")
        body = exchange.body
        if exchange.server_error or not isinstance(body, dict) or (exchange.refused and "code" not in body):
            if exchange.refused:  # 401/403/429 with nothing clearer: this request was refused
                return refusal(operation=operation, message=f"VTpass refused (HTTP {exchange.status_code})", raw=body)
            return ProviderResult(U, message=f"Unreadable VTpass answer (HTTP {exchange.status_code})", raw=body)
        code = _code(body.get("code"))
        transaction = _transaction(body)
        reference = str(transaction.get("transactionId") or "")
        message = str(body.get("response_description") or "")[:500]
        rule = CODES.get(code)
        if rule is None:
            return ProviderResult(U, reference, message or f"Unmapped VTpass code {code!r}", raw=body)
        if operation != SEND and code not in QUERY_CODES:
            return refusal(operation=operation, message=message or f"VTpass code {code}", reference=reference, raw=body)
        outcome, failover, _meaning = rule
        if outcome == INSPECT:
            return self._inspect(body, transaction, reference, message)
        if outcome == NOT_FOUND:
            return self._not_found(request_id, body, message)
        return ProviderResult(outcome, reference, message, failover_allowed=failover, reversed=code == "040", raw=body)

    def _inspect(self, body: dict, transaction: dict, reference: str, message: str) -> ProviderResult:
        status = str(transaction.get("status") or "").strip().lower()
        if status not in TRANSACTION_STATUSES:
            return ProviderResult(U, reference, message or f"Unmapped VTpass status {status!r}", raw=body)
        outcome, reversed_ = TRANSACTION_STATUSES[status]
        cost = None
        if outcome == S and transaction.get("total_amount") is not None:
            try:
                cost = naira_to_kobo(transaction["total_amount"])
            except ValueError:
                cost = None
        token = str(body.get("purchased_code") or "") if outcome == S else ""
        return ProviderResult(outcome, reference, message, cost_kobo=cost, token=token, reversed=reversed_, raw=body)

    def _not_found(self, request_id: str, body: dict, message: str) -> ProviderResult:
        """015 on a requery: VTpass has no transaction with this id. A /pay still in flight
        (slow network, a queued worker on their side) could land after our requery, so we
        trust it only once the id's own Lagos minute is older than a grace period."""
        grace = float(self.config.get("NOT_FOUND_GRACE_SECONDS", DEFAULT_NOT_FOUND_GRACE_SECONDS))
        sent_at = _request_id_time(request_id)
        if sent_at is not None and self.clock() - sent_at.timestamp() >= grace + 60:
            return ProviderResult(F, message=message or "Never reached VTpass", failover_allowed=True, raw=body)
        return ProviderResult(U, message=message or "VTpass does not know this request yet", raw=body)


def _code(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return f"{value:03d}"
    return str(value).strip()


def _transaction(body: dict[str, Any]) -> dict[str, Any]:
    content = body.get("content")
    transactions = content.get("transactions") if isinstance(content, dict) else None
    return transactions if isinstance(transactions, dict) else {}


def _request_id_time(request_id: str) -> datetime | None:
    if not REQUEST_ID.match(request_id or ""):
        return None
    try:
        return datetime.strptime(request_id[:12], "%Y%m%d%H%M").replace(tzinfo=LAGOS)
    except ValueError:
        return None


def _plan(network: str, item: Any) -> ProviderPlan | None:
    if not isinstance(item, dict) or not item.get("variation_code"):
        return None
    try:
        cost = naira_to_kobo(item.get("variation_amount"))
    except ValueError:
        return None
    name = str(item.get("name") or item["variation_code"])
    return ProviderPlan(
        provider_plan_id=str(item["variation_code"]), network=network, name=name[:200],
        size_mb=size_mb_from_name(name), validity_days=validity_days_from_name(name),
        # VTpass sells operator (gifting) bundles at face value and pays a commission, so
        # the listed amount is an upper bound of our cost; the real charge comes back as
        # content.transactions.total_amount on each purchase.
        plan_type="gifting", cost_kobo=cost, extra={"fixed_price": item.get("fixedPrice")},
    )
