"""Amigo (amigo.ng), the seed's data provider. docs/providers.md#amigo has the sources.

Wire format: `X-API-Key: <token>`; `POST {BASE_URL}/data/` with
`{"network": int, "mobile_number": "0803...", "plan": int, "Ported_number": bool}` and an
`Idempotency-Key` header carrying our request id (Amigo documents retries with the same key
as safe [V amigo.ng/developers.html]); `GET {BASE_URL}/plans/efficiency` for plans and prices
[R]; `GET {BASE_URL}/wallet/` for the balance [V].

Amigo documents no status endpoint. Decision: `supports_query = False`, `query()` raises
QueryNotSupported, and `recheck(order)` resends the same order with the same Idempotency-Key,
which returns the stored outcome instead of buying again. That settles a lost answer; an
order whose stored answer was "pending" may keep answering "pending" (idempotent replays
return the first response), and is then settled by staff from Amigo's dashboard.

A resend's answer is mapped as a RESEND: an order status (delivered / pending / failed) is
the stored outcome of our order and counts; a refusal (401/403/429, `invalid_token`,
`rate_limited`, connection refused) or an error code that may be a fresh check of the request
rather than the stored answer (`plan_not_found`, `coming_soon`: the plan may have gone since
the first send delivered) says nothing about the order and is UNKNOWN.

Amigo sells data only: `buy_airtime` raises ProductNotSupported before any HTTP.
"""

from __future__ import annotations

from typing import Any

from accounts.phones import national
from vtu.providers.base import (
    KIND_DATA,
    RESEND,
    SEND,
    AirtimeOrder,
    DataOrder,
    Outcome,
    ProductNotSupported,
    Provider,
    ProviderError,
    ProviderPlan,
    ProviderResult,
    QueryNotSupported,
    refusal,
)
from vtu.providers.parsing import gb_to_mb, naira_to_kobo
from vtu.providers.transport import Exchange, send

NETWORK_IDS = {"MTN": 1, "GLO": 2, "AIRTEL": 4, "9MOBILE": 9}
PLAN_LIST_KEYS = {"mtn": "MTN", "glo": "GLO", "airtel": "AIRTEL", "9mobile": "9MOBILE"}

# Documented order statuses [R DoudGaya/thepos-apis lib/vendors/amigo.adapter.ts].
STATUSES: dict[str, Outcome] = {"delivered": Outcome.SUCCESS, "pending": Outcome.PENDING, "failed": Outcome.FAILED}
# Documented error codes -> (outcome, failover allowed). All are refusals before the order is
# accepted: auth [R], over the per-minute limit [V amigo.ng/terms.html], plan not sold [R],
# network not enabled yet [R]. Anything else (phone-format errors have no documented code)
# is not guessed at: with a `status: "failed"` it is a plain failure, otherwise UNKNOWN.
# On a RESEND every one of them is UNKNOWN (module doc).
ERRORS: dict[str, tuple[Outcome, bool]] = {
    "invalid_token": (Outcome.FAILED, True),
    "rate_limited": (Outcome.FAILED, True),
    "plan_not_found": (Outcome.FAILED, True),
    "coming_soon": (Outcome.FAILED, True),
}


class AmigoProvider(Provider):
    name = "amigo"
    resend_same_request_id_is_safe = True
    supports_query = False
    products = frozenset((KIND_DATA, network) for network in NETWORK_IDS)

    def _headers(self, idempotency_key: str = "") -> dict[str, str]:
        headers = {"X-API-Key": self.config["API_KEY"], "Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _url(self, path: str) -> str:
        return f"{self.config['BASE_URL'].rstrip('/')}{path}"

    def buy_data(self, order: DataOrder) -> ProviderResult:
        return self._post_order(order, operation=SEND)

    def resend(self, order: DataOrder | AirtimeOrder) -> ProviderResult:
        if not isinstance(order, DataOrder):
            raise ProductNotSupported("Amigo sells data only")
        return self._post_order(order, operation=RESEND)

    def _post_order(self, order: DataOrder, *, operation: str) -> ProviderResult:
        if order.network not in NETWORK_IDS or not order.provider_plan_id.isdigit():
            raise ProductNotSupported(f"Amigo does not sell plan {order.provider_plan_id!r} on {order.network}")
        body = {
            "network": NETWORK_IDS[order.network],
            "mobile_number": national(order.phone_e164),
            "plan": int(order.provider_plan_id),
            # Always true: our own check already matched number and network (a mismatch
            # needs `ported: true` from the customer), and Amigo's prefix table may lag
            # new ranges; every integration seen sends true (vtu-providers §2.4).
            "Ported_number": True,
        }
        exchange = send(
            self, operation="buy_data" if operation == SEND else RESEND, method="POST", url=self._url("/data/"),
            request_id=order.request_id, json_body=body, headers=self._headers(order.request_id),
        )
        return classify(exchange, operation=operation)

    def buy_airtime(self, order: AirtimeOrder) -> ProviderResult:
        raise ProductNotSupported("Amigo sells data only")

    def query(self, *, request_id: str, provider_reference: str = "") -> ProviderResult:
        raise QueryNotSupported("Amigo has no status endpoint: recheck(order) resends with the same Idempotency-Key")

    def balance_kobo(self) -> int:
        exchange = send(self, operation="balance", method="GET", url=self._url("/wallet/"), headers=self._headers())
        body = exchange.body
        if exchange.status_code != 200 or not isinstance(body, dict):
            raise ProviderError(f"Amigo balance unreadable (HTTP {exchange.status_code}, {exchange.error or 'no error'})")
        for container in (body, body.get("data"), body.get("wallet")):
            if isinstance(container, dict) and "balance" in container:
                try:
                    return naira_to_kobo(container["balance"])
                except ValueError as exc:
                    raise ProviderError("Amigo balance is not a number") from exc
        raise ProviderError("Amigo balance missing from the answer")

    def list_plans(self) -> list[ProviderPlan]:
        exchange = send(self, operation="list_plans", method="GET", url=self._url("/plans/efficiency"), headers=self._headers())
        body = exchange.body
        if exchange.status_code != 200 or not isinstance(body, dict) or body.get("ok") is False:
            raise ProviderError(f"Amigo plan list unreadable (HTTP {exchange.status_code})")
        plans: list[ProviderPlan] = []
        for key, items in body.items():
            network = PLAN_LIST_KEYS.get(str(key).lower())
            if network is None or not isinstance(items, list):
                continue
            plans.extend(plan for item in items if (plan := self._plan(network, item)) is not None)
        return plans

    def _plan(self, network: str, item: Any) -> ProviderPlan | None:
        if not isinstance(item, dict) or item.get("plan_id") is None:
            return None
        try:
            cost = naira_to_kobo(item.get("price"))
        except ValueError:
            return None
        size_mb = gb_to_mb(item.get("data_capacity"))
        days = int(item["validity"]) if str(item.get("validity", "")).isdigit() else 0
        return ProviderPlan(
            provider_plan_id=str(item["plan_id"]), network=network,
            name=f"{network} {size_mb}MB {days} days", size_mb=size_mb, validity_days=days,
            # Amigo does not label plan types; its orders say "gifted" [R]. Configurable.
            plan_type=self.config.get("PLAN_TYPE", "corporate"), cost_kobo=cost,
            extra={k: item.get(k) for k in ("efficiency_percent", "efficiency_label") if k in item},
        )


def classify(exchange: Exchange, *, operation: str = SEND) -> ProviderResult:
    """Amigo's answer to POST /data/ (a first send, or a RESEND under the same key) -> one
    outcome (docs/providers.md#amigo)."""
    if not exchange.answered:
        if not exchange.sent:  # refused / connect timeout: Amigo never saw this request
            return refusal(operation=operation, message="Amigo unreachable (not sent)")
        return ProviderResult(Outcome.UNKNOWN, message=f"No answer from Amigo ({exchange.error})")
    status_code, body = exchange.status_code or 0, exchange.body
    if status_code >= 500:
        return ProviderResult(Outcome.UNKNOWN, message=f"Amigo HTTP {status_code}", raw=body)
    if not isinstance(body, dict):
        if exchange.refused:  # 401 token, 403 IP not whitelisted, 429 rate_limited (terms.html)
            return refusal(operation=operation, message=f"Amigo refused (HTTP {status_code})")
        return ProviderResult(Outcome.UNKNOWN, message=f"Unreadable Amigo answer (HTTP {status_code})")
    return _classify_body(body, status_code, refused=exchange.refused, operation=operation)


def _classify_body(body: dict[str, Any], status_code: int, *, refused: bool, operation: str) -> ProviderResult:
    reference = str(body.get("reference") or "")
    message = str(body.get("message") or body.get("error") or "")[:500]
    cost = _cost(body)
    error = str(body.get("error") or "").strip().lower()
    if error in ERRORS:
        outcome, failover = ERRORS[error]
        if operation != SEND:  # refusals of the resend itself, or a fresh check: not the stored outcome
            return refusal(operation=operation, message=message or error, reference=reference, raw=body)
        return ProviderResult(outcome, reference, message, failover_allowed=failover, raw=body)
    if refused:  # e.g. DRF's 401 {"detail": "Invalid token."}: refused before any order
        return refusal(operation=operation, message=message or f"Amigo refused (HTTP {status_code})",
                       reference=reference, raw=body)
    status = str(body.get("status") or "").strip().lower()
    success = body.get("success")
    outcome = STATUSES.get(status)
    # The success flag must agree with the status; a contradiction is not an answer.
    if outcome == Outcome.SUCCESS and success is True and 200 <= status_code < 300:
        return ProviderResult(Outcome.SUCCESS, reference, message, cost_kobo=cost, raw=body)
    if outcome == Outcome.PENDING and success is not False:
        return ProviderResult(Outcome.PENDING, reference, message, cost_kobo=cost, raw=body)
    if outcome == Outcome.FAILED and success is not True:
        return ProviderResult(Outcome.FAILED, reference, message, raw=body)
    return ProviderResult(Outcome.UNKNOWN, reference, message or "Unmapped Amigo answer", raw=body)


def _cost(body: dict[str, Any]) -> int | None:
    try:
        return naira_to_kobo(body["amount_charged"]) if body.get("amount_charged") is not None else None
    except ValueError:
        return None
