"""A local Amigo: a threaded HTTP server on 127.0.0.1 speaking Amigo's wire format.

It drives the real AmigoProvider end to end (over real sockets, timeouts and all) and is
meant to be reused: the purchase crash test and the chaos scenarios script it.

    with AmigoFake(seed=7) as amigo:
        settings.VTU_PROVIDERS["amigo"] = amigo.provider_config()   # or override_settings
        amigo.script("08031234567", Behaviour(hang=True))        # this number's next order
        ...
        assert amigo.deliveries_by_number["08031234567"] == 1

Wire format (docs/providers.md#amigo): `POST /api/data/` with X-API-Key (or Authorization
Token/Bearer) and an optional Idempotency-Key, JSON `{network, mobile_number, plan,
Ported_number}`; answers `{success, reference, message, network, plan, amount_charged, status}`
or `{success: false, error, message}`; `GET /api/plans/efficiency`; `GET /api/wallet/`.

Behaviours (per number via `script`, else seeded random from `outcome_weights` and
`latency`, else `default`): final status delivered / pending / failed; a documented error
code; a delay; a 5xx; a hang (no answer until `release()`, so the client times out); a dropped
connection; and whether the order was processed anyway (the dangerous "timeout but
delivered" case). Pending orders settle to `settle_to` after `settle_after` seconds of the
fake's clock (or on `settle()`).

Idempotency: requests with the same Idempotency-Key and body are one order. A replay while
the first is still being answered gets 409; another body with the same key gets 422; a
replay afterwards returns the first answer unchanged (`replay="stored"`, the usual
idempotency-store behaviour and our reading of Amigo's docs) or the order's current state
(`replay="current"`). Requests without a key are never deduplicated. The counters say how
many bundles really reached each number and each key.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "amg_test_fake0000000000000001"
NETWORKS = {1: "MTN", 2: "Glo", 4: "Airtel", 9: "9mobile"}
DEFAULT_PLANS: dict[int, list[dict[str, Any]]] = {
    1: [
        {"plan_id": 5000, "data_capacity": 0.5, "validity": 30, "price": 299},
        {"plan_id": 1001, "data_capacity": 1, "validity": 30, "price": 449},
        {"plan_id": 6666, "data_capacity": 2, "validity": 30, "price": 849},
    ],
    2: [{"plan_id": 261, "data_capacity": 1, "validity": 30, "price": 439}],
    4: [{"plan_id": 4001, "data_capacity": 1, "validity": 30, "price": 459}],
    9: [{"plan_id": 9001, "data_capacity": 1, "validity": 30, "price": 429}],
}
ERROR_STATUS = {"invalid_token": 401, "plan_not_found": 400, "coming_soon": 400, "rate_limited": 429}


@dataclass(frozen=True)
class Behaviour:
    status: str = "delivered"  # delivered | pending | failed
    error: str = ""  # answer this documented error code instead (no order is created)
    delay: float = 0.0  # seconds the server waits before answering
    http_status: int = 0  # e.g. 502: answer this error status instead of the order
    hang: bool = False  # do not answer until release() (or stop()): the client times out
    drop: bool = False  # close the connection without an answer
    processed: bool = True  # with http_status/hang/drop: was the order placed anyway?
    settle_to: str = "delivered"  # for status pending: the final status
    settle_after: float = 0.0  # for status pending: seconds (fake clock) until it settles; 0: only settle()


@dataclass
class Order:
    key: str | None
    number: str
    network: int
    plan: int
    price: int
    reference: str
    status: str
    created: float
    settle_to: str
    settle_after: float
    body: dict[str, Any]
    stored: tuple[int, dict[str, Any]] | None = None  # the first answer, for replays
    in_flight: bool = True


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class AmigoFake:
    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        seed: int = 0,
        default: Behaviour | None = None,
        outcome_weights: dict[str, float] | None = None,
        latency: tuple[float, float] = (0.0, 0.0),
        replay: str = "stored",
        clock: Callable[[], float] = time.monotonic,
        plans: dict[int, list[dict[str, Any]]] | None = None,
        balance_naira: int = 1_000_000,
    ) -> None:
        if replay not in ("stored", "current"):
            raise ValueError("replay is 'stored' or 'current'")
        self.api_key = api_key
        self.random = random.Random(seed)
        self.default = default or Behaviour()
        self.outcome_weights = outcome_weights
        self.latency = latency
        self.replay = replay
        self.clock = clock
        self.plans = plans or DEFAULT_PLANS
        self.balance_naira = balance_naira
        self.orders: dict[str, Order] = {}  # by reference
        self.by_key: dict[str, Order] = {}
        self.scripts: dict[str, deque[Behaviour]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.replays = 0
        self._deliveries_by_number: Counter[str] = Counter()
        self._deliveries_by_key: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._released = threading.Event()
        self._stopping = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sequence = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> AmigoFake:
        handler = type("AmigoHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="amigo-fake", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._released.set()  # let hung handlers finish
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> AmigoFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def provider_config(self, **overrides: Any) -> dict[str, Any]:
        """A settings.VTU_PROVIDERS["amigo"] entry pointing at this fake."""
        return {
            "NAME": "amigo", "BASE_URL": self.base_url, "API_KEY": self.api_key, "CONNECT_TIMEOUT_SECONDS": 1.0,
            "READ_TIMEOUT_SECONDS": 2.0, "SANDBOX": False, "REQUIRED": ["API_KEY"], "ENABLED": True, **overrides,
        }

    # --- scripting and inspection ----------------------------------------------------------------

    def script(self, number: str, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next new orders to `number` (national form 0XXXXXXXXXX)."""
        with self._lock:
            self.scripts[number].extend(behaviours)

    def release(self) -> None:
        """Let every request hung so far answer now (long past the client's timeout, usually).
        Later hangs hang again until the next release()."""
        with self._lock:
            released, self._released = self._released, threading.Event()
            if self._stopping:
                self._released.set()
        released.set()

    def settle(self) -> None:
        """Settle every pending order now, whatever its settle_after."""
        with self._lock:
            for order in self.orders.values():
                if order.status == "pending":
                    self._finish(order, order.settle_to)

    @property
    def deliveries_by_number(self) -> Counter[str]:
        with self._lock:
            self._refresh_all()
            return Counter(self._deliveries_by_number)

    @property
    def deliveries_by_key(self) -> Counter[str]:
        with self._lock:
            self._refresh_all()
            return Counter(self._deliveries_by_key)

    def order_for_key(self, key: str) -> Order | None:
        with self._lock:
            order = self.by_key.get(key)
            if order is not None:
                self._refresh(order)
            return order

    # --- order processing (called by the handler) -------------------------------------------------

    def _behaviour_for(self, number: str) -> Behaviour:
        with self._lock:
            if self.scripts[number]:
                return self.scripts[number].popleft()
            if self.outcome_weights:
                statuses, weights = zip(*self.outcome_weights.items(), strict=True)
                status = self.random.choices(statuses, weights=weights)[0]
                return Behaviour(status=status, delay=self.random.uniform(*self.latency))
            if self.latency != (0.0, 0.0):
                return Behaviour(status=self.default.status, delay=self.random.uniform(*self.latency))
            return self.default

    def _place(self, key: str | None, body: dict[str, Any], behaviour: Behaviour) -> Order:
        with self._lock:
            self._sequence += 1
            plan = self._plan(body["network"], body["plan"])
            order = Order(
                key=key, number=body["mobile_number"], network=body["network"], plan=body["plan"], price=plan["price"],
                reference=f"AMG-{time.strftime('%Y%m%d%H%M%S')}-{self._sequence:06x}", status="pending",
                created=self.clock(), settle_to=behaviour.settle_to, settle_after=behaviour.settle_after, body=body,
            )
            self.orders[order.reference] = order
            if key is not None:
                self.by_key[key] = order
            self.balance_naira -= order.price
            if behaviour.status != "pending":
                self._finish(order, behaviour.status)
            return order

    def _finish(self, order: Order, status: str) -> None:
        order.status = status
        if status == "delivered":
            self._deliveries_by_number[order.number] += 1
            if order.key is not None:
                self._deliveries_by_key[order.key] += 1
        elif status == "failed":
            self.balance_naira += order.price  # refunded to our Amigo wallet

    def _refresh(self, order: Order) -> None:
        if order.status == "pending" and self.clock() - order.created >= order.settle_after and order.settle_after > 0:
            self._finish(order, order.settle_to)

    def _refresh_all(self) -> None:
        for order in self.orders.values():
            self._refresh(order)

    def _plan(self, network: int, plan_id: int) -> dict[str, Any]:
        return next(plan for plan in self.plans.get(network, []) if plan["plan_id"] == plan_id)

    def answer_for(self, order: Order) -> tuple[int, dict[str, Any]]:
        self._refresh(order)
        message = {
            "delivered": f"Dear Customer, You have successfully gifted data to {order.number}.",
            "pending": "Your order is being processed.",
            "failed": "Delivery failed; your wallet has been refunded.",
        }[order.status]
        body = {
            "success": order.status != "failed", "reference": order.reference, "message": message,
            "network": order.network, "plan": order.plan, "amount_charged": order.price, "status": order.status,
        }
        return 200, body


def _error(code: str, message: str, status: int) -> tuple[int, dict[str, Any]]:
    return status, {"success": False, "error": code, "message": message}


class _Handler(BaseHTTPRequestHandler):
    fake: AmigoFake
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        token = self.headers.get("X-API-Key") or ""
        auth = self.headers.get("Authorization") or ""
        if auth.split(" ", 1)[0] in ("Token", "Bearer") and " " in auth:
            token = token or auth.split(" ", 1)[1]
        return token == self.fake.api_key

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def do_GET(self) -> None:
        self.fake.seen.append(Seen("GET", self.path, dict(self.headers), None))
        if not self._authorised():
            return self._send(*_error("invalid_token", "Invalid or missing API token.", 401))
        if self.path.rstrip("/") == "/api/plans/efficiency":
            body: dict[str, Any] = {"ok": True}
            for network_id, name in NETWORKS.items():
                body[name] = [
                    {**plan, "efficiency_percent": 100, "efficiency_label": "Excellent"}
                    for plan in self.fake.plans.get(network_id, [])
                ]
            return self._send(200, body)
        if self.path.rstrip("/") == "/api/wallet":
            with self.fake._lock:
                balance = self.fake.balance_naira
            return self._send(200, {"success": True, "balance": balance, "display": f"₦{balance:,}"})
        return self._send(404, {"success": False, "error": "not_found"})

    def do_POST(self) -> None:
        body = self._body()
        key = self.headers.get("Idempotency-Key")
        self.fake.seen.append(Seen("POST", self.path, dict(self.headers), body))
        if self.path.rstrip("/") != "/api/data":
            return self._send(404, {"success": False, "error": "not_found"})
        if not self._authorised():
            return self._send(*_error("invalid_token", "Invalid or missing API token.", 401))
        problem = self._validate(body)
        if problem is not None:
            return self._send(*problem)
        if key:
            replay = self._replay(key, body)
            if replay is not None:
                return self._send(*replay)
        self._new_order(key, body)

    def _validate(self, body: Any) -> tuple[int, dict[str, Any]] | None:
        if not isinstance(body, dict) or not isinstance(body.get("network"), int) or not isinstance(body.get("plan"), int):
            return _error("invalid_request", "network and plan must be integers.", 400)
        if body["network"] not in NETWORKS:
            return _error("coming_soon", "This network is coming soon.", 400)
        if not any(plan["plan_id"] == body["plan"] for plan in self.fake.plans.get(body["network"], [])):
            return _error("plan_not_found", f"Plan {body['plan']} is not available on network {body['network']}.", 400)
        number = body.get("mobile_number")
        if not (isinstance(number, str) and len(number) == 11 and number.isdigit() and number.startswith("0")):
            return 400, {"success": False, "status": "failed", "error": "invalid_mobile_number", "message": "Bad number."}
        return None

    def _replay(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        with self.fake._lock:
            order = self.fake.by_key.get(key)
            if order is None:
                return None
            self.fake.replays += 1
            if order.body != body:
                return _error("idempotency_key_reused", "This Idempotency-Key was used with another body.", 422)
            if order.in_flight:
                return _error("idempotency_in_progress", "The first request with this key is still processing.", 409)
            if self.fake.replay == "stored" and order.stored is not None:
                return order.stored
            return self.fake.answer_for(order)

    def _new_order(self, key: str | None, body: dict[str, Any]) -> None:
        fake = self.fake
        behaviour = fake._behaviour_for(body["mobile_number"])
        if behaviour.error:
            return self._send(*_error(behaviour.error, "Refused.", ERROR_STATUS.get(behaviour.error, 400)))
        failing = behaviour.http_status or behaviour.hang or behaviour.drop
        order = fake._place(key, body, behaviour) if (behaviour.processed or not failing) else None
        if order is not None:
            with fake._lock:
                order.stored = fake.answer_for(order)
        try:
            if behaviour.delay:
                time.sleep(behaviour.delay)  # the fake's latency, not a test waiting for something
            if behaviour.hang:
                with fake._lock:
                    gate = fake._released
                gate.wait(timeout=60)
            # The order stops being in flight before the client can see any answer: a client
            # that replays the moment it reads this one must not get 409 from our bookkeeping.
            self._finish(order)
            if behaviour.drop:
                self.close_connection = True
                self.connection.close()
                return None
            if behaviour.http_status:
                return self._send(behaviour.http_status, "<html><body>502 Bad Gateway</body></html>")
            assert order is not None
            with fake._lock:
                answer = order.stored
            return self._send(*answer)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timed out)
            return None
        finally:
            self._finish(order)

    def _finish(self, order: Order | None) -> None:
        if order is not None:
            with self.fake._lock:
                order.in_flight = False
