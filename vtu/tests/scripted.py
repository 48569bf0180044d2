"""A scripted in-process provider for purchase-flow tests (no HTTP).

Each provider name ("alpha", "beta", ...) has a queue of behaviours for its next buys and a
record of the truth per request id, so a query answers what really happened and the test can
count deliveries per number (the "receives data once" assertions).

Buy behaviours:
    success           delivered, answered SUCCESS
    failed            definitive failure about the order (no failover)
    down              definitive failure before acceptance (failover allowed)
    pending           accepted, not final; `world.settle(...)` decides later
    lost              delivered, but the answer is lost (UNKNOWN)
    lost_undelivered  never arrived, answer lost (UNKNOWN); a query says "not found" (FAILED)
    raise             the adapter raises (a bug or a transport error it did not map)
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from typing import Any

from vtu.providers.base import (
    AirtimeOrder,
    CallLog,
    DataOrder,
    Outcome,
    Provider,
    ProviderPlan,
    ProviderResult,
)


class World:
    def __init__(self) -> None:
        self.buy_script: dict[str, deque[str]] = defaultdict(deque)
        self.query_script: dict[str, deque[ProviderResult]] = defaultdict(deque)
        self.truth: dict[str, str] = {}  # request id -> delivered | failed | pending | reversed
        self.phone_of: dict[str, str] = {}
        self.deliveries: Counter[str] = Counter()  # phone -> times the network delivered
        self.buys: Counter[str] = Counter()  # provider -> buy calls
        self.buys_by_request: Counter[str] = Counter()
        self.queries: Counter[str] = Counter()
        self.plans: dict[str, list[ProviderPlan]] = defaultdict(list)
        self.balances: dict[str, int] = {}
        self.lock = threading.Lock()  # concurrency tests call the provider from many threads

    def script(self, provider: str, *behaviours: str) -> None:
        self.buy_script[provider].extend(behaviours)

    def settle(self, request_id: str, truth: str) -> None:
        """A pending order resolves at the network: delivered or failed."""
        if truth == "delivered" and self.truth.get(request_id) != "delivered":
            self.deliveries[self.phone_of[request_id]] += 1
        self.truth[request_id] = truth

    def deliver(self, request_id: str, phone: str) -> None:
        if self.truth.get(request_id) != "delivered":
            self.deliveries[phone] += 1
        self.truth[request_id] = "delivered"


WORLD = World()


class ScriptedProvider(Provider):
    name = "scripted"
    supports_query = True
    resend_same_request_id_is_safe = False

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.name = config["NAME"]
        self.supports_query = config.get("SUPPORTS_QUERY", True)
        self.resend_same_request_id_is_safe = config.get("RESEND_SAFE", False)

    def _log(self, operation: str, request_id: str, response: Any, error: str = "") -> None:
        self.on_call(CallLog(
            provider=self.name, operation=operation, method="POST", url=f"scripted://{self.name}/{operation}",
            request_body={"request_id": request_id, "api_key": "secret-key-value"}, status_code=None if error else 200,
            response_body=response, latency_ms=1.0, error=error, request_id=request_id,
        ))

    def list_plans(self) -> list[ProviderPlan]:
        return list(WORLD.plans[self.name])

    def buy_data(self, order: DataOrder) -> ProviderResult:
        return self._buy(order.request_id, order.phone_e164)

    def buy_airtime(self, order: AirtimeOrder) -> ProviderResult:
        return self._buy(order.request_id, order.phone_e164)

    def resend(self, order: DataOrder | AirtimeOrder) -> ProviderResult:
        return self._buy(order.request_id, order.phone_e164)  # a known id replays its truth

    def _buy(self, request_id: str, phone: str) -> ProviderResult:
        with WORLD.lock:
            return self._buy_locked(request_id, phone)

    def _buy_locked(self, request_id: str, phone: str) -> ProviderResult:
        WORLD.buys[self.name] += 1
        WORLD.buys_by_request[request_id] += 1
        WORLD.phone_of[request_id] = phone
        reference = f"{self.name.upper()}-{request_id[-8:]}"
        if request_id in WORLD.truth:  # a resend of the same id: the vendor replays its answer
            return self._answer_truth(request_id, reference, "buy")
        queue = WORLD.buy_script[self.name]
        behaviour = queue.popleft() if queue else "success"
        if behaviour == "raise":
            WORLD.truth[request_id] = "failed"
            raise ConnectionError("scripted adapter blew up")
        if behaviour in ("success", "lost"):
            WORLD.deliver(request_id, phone)
        else:
            WORLD.truth[request_id] = {"pending": "pending"}.get(behaviour, "failed")
        result = {
            "success": ProviderResult(Outcome.SUCCESS, reference, "Delivered", cost_kobo=None),
            "failed": ProviderResult(Outcome.FAILED, reference, "Invalid recipient"),
            "down": ProviderResult(Outcome.FAILED, "", "Provider unavailable", failover_allowed=True),
            "pending": ProviderResult(Outcome.PENDING, reference, "Processing"),
            "lost": ProviderResult(Outcome.UNKNOWN, "", "timeout"),
            "lost_undelivered": ProviderResult(Outcome.UNKNOWN, "", "timeout"),
        }[behaviour]
        self._log("buy", request_id, {"outcome": result.outcome.value}, error="timeout" if behaviour.startswith("lost") else "")
        return result

    def query(self, *, request_id: str, provider_reference: str = "") -> ProviderResult:
        with WORLD.lock:
            return self._query_locked(request_id, provider_reference)

    def _query_locked(self, request_id: str, provider_reference: str) -> ProviderResult:
        WORLD.queries[self.name] += 1
        queue = WORLD.query_script[self.name]
        if queue:
            result = queue.popleft()
            self._log("query", request_id, {"outcome": result.outcome.value})
            return result
        return self._answer_truth(request_id, provider_reference, "query")

    def _answer_truth(self, request_id: str, reference: str, operation: str) -> ProviderResult:
        truth = WORLD.truth.get(request_id)
        result = {
            "delivered": ProviderResult(Outcome.SUCCESS, reference, "Delivered"),
            "pending": ProviderResult(Outcome.PENDING, reference, "Processing"),
            "failed": ProviderResult(Outcome.FAILED, reference, "Not delivered", failover_allowed=truth is None),
            "reversed": ProviderResult(Outcome.FAILED, reference, "Reversed", reversed=True),
            None: ProviderResult(Outcome.FAILED, "", "No such request", failover_allowed=True),
        }[truth]
        self._log(operation, request_id, {"outcome": result.outcome.value})
        return result

    def callback_request_id(self, payload: dict[str, Any]) -> str | None:
        value = payload.get("request_id")
        return value if isinstance(value, str) else None

    def balance_kobo(self) -> int:
        return WORLD.balances.get(self.name, 100_000_000)
