"""ClubKonnect / Nellobytesystems. docs/providers.md#clubkonnect has the sources.

Every call is an HTTP GET with `UserID` and `APIKey` in the query string. They are added at
send time (transport.QueryCredentials), so they are in no logged URL or params, show as
[REDACTED] in every CallLog, and no exception carrying the URL escapes (transport.py). The server's
outbound IP must be whitelisted with ClubKonnect; unwhitelisted calls answer as bad
credentials, which we treat as a refusal before acceptance (failover allowed).

Purchases are asynchronous: the first answer is normally `statuscode 100 ORDER_RECEIVED`
(PENDING); the outcome comes by an unsigned GET callback to CallBackURL (which only triggers a
requery: `callback_request_id`) and from `APIQueryV1.asp?RequestID=<our request id>`.
Network codes 01 MTN, 02 Glo, 03 9mobile, 04 Airtel; data plan codes are decimal strings
("1000.0", "500.01") used verbatim.

The ClubKonnect docs sit behind a login, so everything here is reported by integrators [R]
(philmorehost/v6.4-update code, DoudGaya/thepos-apis). Where integrators disagree (statuscode
300 is "pending" to one and "failed" to another; 201/299 are unnamed "successes" to one),
the code stays UNKNOWN: staff settle it, nothing is refunded or captured on a guess.
"""

from __future__ import annotations

from typing import Any

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

NETWORK_CODES = {"MTN": "01", "GLO": "02", "9MOBILE": "03", "AIRTEL": "04"}
NETWORK_BY_CODE = {code: network for network, code in NETWORK_CODES.items()}

# Order states: statuscode and/or status string -> (outcome, reversed).
ORDER_STATES: dict[str, tuple[Outcome, bool]] = {
    "ORDER_RECEIVED": (Outcome.PENDING, False),  # statuscode 100
    "ORDER_ONHOLD": (Outcome.PENDING, False),  # not final: it can still be cancelled or completed
    "ORDER_COMPLETED": (Outcome.SUCCESS, False),  # statuscode 200
    "ORDER_CANCELLED": (Outcome.FAILED, True),  # cancelled = money back to our ClubKonnect wallet
}
STATUS_CODES = {"100": "ORDER_RECEIVED", "200": "ORDER_COMPLETED"}
# Error status strings -> (outcome, failover allowed). All are refusals before acceptance.
ERRORS: dict[str, tuple[Outcome, bool]] = {
    "INVALID_CREDENTIALS": (Outcome.FAILED, True),  # also what an unwhitelisted IP gets
    "MISSING_CREDENTIALS": (Outcome.FAILED, True),
    "MISSING_USERID": (Outcome.FAILED, True),
    "MISSING_APIKEY": (Outcome.FAILED, True),
    "INVALID_AMOUNT": (Outcome.FAILED, True),
    "MINIMUM_50": (Outcome.FAILED, True),
    "MAXIMUM_200000": (Outcome.FAILED, True),
    "INVALID_RECIPIENT": (Outcome.FAILED, False),  # the customer's number: no other provider helps
}
# On APIQueryV1 only an order state (ORDER_*) describes our order. An error string there is a
# refusal of the query itself (credentials, IP whitelist) or says nothing about the order
# (no documented "no such order" answer exists): UNKNOWN, settled later or by staff.


class ClubKonnectProvider(Provider):
    name = "clubkonnect"
    supports_query = True
    products = frozenset(
        [(KIND_DATA, network) for network in NETWORK_CODES] + [(KIND_AIRTIME, network) for network in NETWORK_CODES]
    )

    def _get(self, operation: str, path: str, params: dict[str, Any], request_id: str = "") -> Exchange:
        credentials = {"UserID": self.config["USER_ID"], "APIKey": self.config["API_KEY"]}
        return send(
            self, operation=operation, method="GET", url=f"{self.config['BASE_URL'].rstrip('/')}{path}",
            request_id=request_id, params=params, headers={"Accept": "application/json"},
            query_credentials=credentials,
        )

    def _order_params(self, network: str, phone_e164: str, request_id: str) -> dict[str, str]:
        params = {"MobileNetwork": NETWORK_CODES[network], "MobileNumber": national(phone_e164), "RequestID": request_id}
        if self.config.get("CALLBACK_URL"):
            params["CallBackURL"] = self.config["CALLBACK_URL"]
        return params

    def buy_data(self, order: DataOrder) -> ProviderResult:
        if order.network not in NETWORK_CODES or not order.provider_plan_id:
            raise ProductNotSupported(f"ClubKonnect does not sell {order.provider_plan_id!r} on {order.network}")
        params = {**self._order_params(order.network, order.phone_e164, order.request_id), "DataPlan": order.provider_plan_id}
        return classify(self._get("buy_data", "/APIDatabundleV1.asp", params, order.request_id))

    def buy_airtime(self, order: AirtimeOrder) -> ProviderResult:
        if order.network not in NETWORK_CODES or order.amount_kobo % 100:
            raise ProductNotSupported("ClubKonnect airtime needs a known network and whole naira")
        params = {**self._order_params(order.network, order.phone_e164, order.request_id), "Amount": order.amount_kobo // 100}
        return classify(self._get("buy_airtime", "/APIAirtimeV1.asp", params, order.request_id))

    def query(self, *, request_id: str, provider_reference: str = "") -> ProviderResult:
        return classify(self._get("query", "/APIQueryV1.asp", {"RequestID": request_id}, request_id), operation=QUERY)

    def balance_kobo(self) -> int:
        exchange = self._get("balance", "/APIWalletBalanceV1.asp", {})
        body = exchange.body if isinstance(exchange.body, dict) else {}
        value = _field(body, "balance", "walletbalance")
        if exchange.status_code != 200 or value is None:
            raise ProviderError(f"ClubKonnect balance unreadable (HTTP {exchange.status_code})")
        try:
            return naira_to_kobo(value)
        except ValueError as exc:
            raise ProviderError("ClubKonnect balance is not a number") from exc

    def list_plans(self) -> list[ProviderPlan]:
        exchange = self._get("list_plans", "/APIDatabundlePlansV2.asp", {})
        body = exchange.body
        root = body.get("MOBILE_NETWORK") if isinstance(body, dict) else None
        if exchange.status_code != 200 or not isinstance(root, dict):
            raise ProviderError(f"ClubKonnect plan list unreadable (HTTP {exchange.status_code})")
        plans: list[ProviderPlan] = []
        for key, wrappers in root.items():
            for wrapper in wrappers if isinstance(wrappers, list) else [wrappers]:
                if not isinstance(wrapper, dict):
                    continue
                network = NETWORK_BY_CODE.get(str(wrapper.get("ID", ""))) or _network_from_key(key)
                for item in wrapper.get("PRODUCT") or []:
                    plan = _plan(network, item)
                    if plan is not None:
                        plans.append(plan)
        return plans

    def callback_request_id(self, payload: dict[str, Any]) -> str | None:
        """The callback is a GET with orderdate, orderid, requestid, statuscode, orderstatus,
        orderremark; unsigned, so it only triggers a requery by our RequestID."""
        value = _field(payload, "requestid")
        return str(value) if value else None


def classify(exchange: Exchange, *, operation: str = SEND) -> ProviderResult:
    """ClubKonnect's answer to a purchase (SEND) or to APIQueryV1 (QUERY) -> one outcome."""
    if not exchange.answered:
        if not exchange.sent:
            return refusal(operation=operation, message="ClubKonnect unreachable (not sent)")
        return ProviderResult(Outcome.UNKNOWN, message=f"No answer from ClubKonnect ({exchange.error})")
    body = exchange.body
    if exchange.server_error or not isinstance(body, dict):
        if exchange.refused:  # 401/403/429 with no readable body: this request was refused
            return refusal(operation=operation, message=f"ClubKonnect refused (HTTP {exchange.status_code})")
        return ProviderResult(Outcome.UNKNOWN, message=f"Unreadable ClubKonnect answer (HTTP {exchange.status_code})")
    reference = str(_field(body, "orderid") or "")
    status = str(_field(body, "orderstatus", "status") or "").strip().upper()
    code = str(_field(body, "statuscode") or "").strip()
    message = str(_field(body, "orderremark", "remark") or status)[:500]
    if status in ERRORS and not code:
        if operation != SEND:
            return refusal(operation=operation, message=message, reference=reference, raw=body)
        outcome, failover = ERRORS[status]
        return ProviderResult(outcome, reference, message, failover_allowed=failover, raw=body)
    state = _state(status, code)
    if state is None and exchange.refused:
        return refusal(operation=operation, message=message or "ClubKonnect refused", reference=reference, raw=body)
    if state is None:
        return ProviderResult(Outcome.UNKNOWN, reference, message or "Unmapped ClubKonnect answer", raw=body)
    outcome, reversed_ = ORDER_STATES[state]
    return ProviderResult(outcome, reference, message, cost_kobo=_charged(body, outcome), reversed=reversed_, raw=body)


def _charged(body: dict[str, Any], outcome: Outcome) -> int | None:
    if outcome != Outcome.SUCCESS or _field(body, "amountcharged") is None:
        return None
    try:
        return naira_to_kobo(_field(body, "amountcharged"))
    except ValueError:
        return None


def _state(status: str, code: str) -> str | None:
    """The order state named by the status string and/or statuscode; None when missing,
    unknown, or when the two contradict each other."""
    by_code = STATUS_CODES.get(code) if code else None
    if code and by_code is None:
        return None  # 201, 299, 300 ...: integrators disagree on what these mean
    if status and status not in ORDER_STATES:
        return None
    if by_code and status and by_code != status:
        return None
    return status or by_code


def _field(body: dict[str, Any], *names: str) -> Any:
    lowered = {str(key).lower(): value for key, value in body.items()}
    for name in names:
        if lowered.get(name) not in (None, ""):
            return lowered[name]
    return None


def _network_from_key(key: str) -> str:
    cleaned = str(key).upper().replace("M_", "").replace("_", "")
    return {"MTN": "MTN", "GLO": "GLO", "AIRTEL": "AIRTEL", "9MOBILE": "9MOBILE", "ETISALAT": "9MOBILE"}.get(cleaned, "")


def _plan(network: str, item: Any) -> ProviderPlan | None:
    if not network or not isinstance(item, dict) or not item.get("PRODUCT_ID"):
        return None
    try:
        cost = naira_to_kobo(item.get("PRODUCT_AMOUNT"))
    except ValueError:
        return None
    name = str(item.get("PRODUCT_NAME") or item["PRODUCT_ID"])
    lowered = name.lower()
    plan_type = "sme" if "sme" in lowered else "corporate" if ("corporate" in lowered or "(cg" in lowered) else "gifting"
    return ProviderPlan(
        provider_plan_id=str(item["PRODUCT_ID"]), network=network, name=name[:200],
        size_mb=size_mb_from_name(name), validity_days=validity_days_from_name(name),
        plan_type=plan_type, cost_kobo=cost, extra={"product_code": item.get("PRODUCT_CODE")},
    )
