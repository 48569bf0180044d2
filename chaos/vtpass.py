"""A local VTpass on 127.0.0.1 with seeded faults (ledger reference §4.1, the fake provider).

Speaks VTpass's wire format (docs/providers.md#vtpass) so the real VTpassProvider drives it
over real sockets: `POST /pay` and `POST /requery` with `api-key` + `secret-key` headers,
answers `{"code", "response_description", "content": {"transactions": {"status",
"transactionId", "total_amount"}}}`, 015 for an unknown request id.

One `random.Random(seed)` picks each new order's fate, so a seed replays the same run. With
`cover=True` the first len(fates) new orders take every fate once (in a seeded order) and only
the rest are drawn by weight, so even a short run exercises every fault:

    delivered        answered 000/delivered at once
    slow             delivered, answered after SLOW seconds (within the client's timeout)
    pending_ok       accepted (099 / pending), delivered later (settle())
    pending_fail     accepted, fails later (the wallet at VTpass refunded)
    failed           016: a definitive failure, nothing delivered
    error_processed  HTTP 502 but the order went through (delivered): the dangerous case
    error_lost       HTTP 502 and nothing was processed (a requery says 015)
    timeout          delivered, but the answer comes after the client gave up
    reversed_later   delivered now, reversed later (reverse_late()): VTpass `reversed`

`deliveries[request_id]` counts bundles that really reached the number per request id and
`deliveries_by_phone` per number, so "no number received data twice for one purchase" is a
count, not a belief; `reversals[request_id]` records each delivery VTpass took back later
(a reversal never lowers `deliveries`: the data did reach the number). `callbacks()` returns the transaction-update callbacks VTpass would
send for settled and reversed orders (unsigned, as VTpass sends them), for the scenario to
post duplicated and out of order.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY, SECRET_KEY, PUBLIC_KEY = "vtp-chaos-api-key", "SK_chaos_secret", "PK_chaos_public"
FATES = {
    "delivered": 40, "slow": 8, "pending_ok": 10, "pending_fail": 6, "failed": 10,
    "error_processed": 6, "error_lost": 6, "timeout": 7, "reversed_later": 7,
}
SLOW = 0.15  # seconds: slow but inside the client's read timeout
HANG = 1.2  # seconds: past the client's read timeout (READ_TIMEOUT below)
READ_TIMEOUT = 0.6


@dataclass
class Order:
    request_id: str
    phone: str
    fate: str
    status: str  # initiated | pending | delivered | failed | reversed
    transaction_id: str
    amount_naira: str = "100.00"


@dataclass
class VTpassFake:
    seed: int
    fates: dict[str, int] = field(default_factory=lambda: dict(FATES))
    orders: dict[str, Order] = field(default_factory=dict)
    deliveries: Counter = field(default_factory=Counter)
    deliveries_by_phone: Counter = field(default_factory=Counter)
    fates_seen: Counter = field(default_factory=Counter)
    reversals: Counter = field(default_factory=Counter)
    cover: bool = False
    pays: int = 0
    requeries: int = 0

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._sequence = 0
        self._coverage = list(self.fates) if self.cover else []
        self.random.shuffle(self._coverage)

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> VTpassFake:
        handler = type("VTpassHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def provider_config(self) -> dict[str, Any]:
        """settings.VTU_PROVIDERS["vtpass"] pointing here, with short client timeouts."""
        return {
            "NAME": "vtpass", "BASE_URL": self.base_url, "API_KEY": API_KEY, "SECRET_KEY": SECRET_KEY,
            "PUBLIC_KEY": PUBLIC_KEY, "CONNECT_TIMEOUT_SECONDS": 0.5, "READ_TIMEOUT_SECONDS": READ_TIMEOUT,
            "NOT_FOUND_GRACE_SECONDS": 60, "SANDBOX": False, "ENABLED": True,
            "REQUIRED": ["API_KEY", "PUBLIC_KEY", "SECRET_KEY"],
        }

    def env(self) -> dict[str, str]:
        """The same, as environment variables for a worker subprocess."""
        return {"VTPASS_BASE_URL": self.base_url, "VTPASS_API_KEY": API_KEY, "VTPASS_SECRET_KEY": SECRET_KEY,
                "VTPASS_PUBLIC_KEY": PUBLIC_KEY, "VTPASS_CONNECT_TIMEOUT_SECONDS": "0.5",
                "VTPASS_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT), "VTPASS_NOT_FOUND_GRACE_SECONDS": "60"}

    # --- the world changes --------------------------------------------------------------------------

    def settle(self) -> None:
        """Pending orders reach their final state (the late result)."""
        with self.lock:
            for order in self.orders.values():
                if order.status in ("initiated", "pending"):
                    self._finish(order, "delivered" if order.fate == "pending_ok" else "failed")

    def reverse_late(self) -> list[str]:
        """Delivered orders fated to be reversed are reversed now (VTpass refunds us)."""
        with self.lock:
            reversed_ids = []
            for order in self.orders.values():
                if order.fate == "reversed_later" and order.status == "delivered":
                    order.status = "reversed"
                    self.reversals[order.request_id] += 1
                    reversed_ids.append(order.request_id)
            return reversed_ids

    def callbacks(self) -> list[dict[str, Any]]:
        """Transaction-update callbacks for every order in a final state (VTpass sends them
        for resolved and reversed transactions; sending them for all is harsher)."""
        with self.lock:
            return [
                {"type": "transaction-update", "data": {
                    "requestId": order.request_id, "status": order.status, "transactionId": order.transaction_id,
                    "content": {"transactions": {"status": order.status}}}}
                for order in self.orders.values() if order.status in ("delivered", "failed", "reversed")
            ]

    # --- orders -------------------------------------------------------------------------------------------

    def _finish(self, order: Order, status: str) -> None:
        if status == "delivered" and order.status != "delivered":
            self.deliveries[order.request_id] += 1
            self.deliveries_by_phone[order.phone] += 1
        order.status = status

    def _pay(self, body: dict[str, Any]) -> tuple[str, Order | None]:
        with self.lock:
            self.pays += 1
            request_id = str(body.get("request_id") or "")
            if request_id in self.orders:
                return "duplicate", self.orders[request_id]
            fate = self._next_fate()
            self.fates_seen[fate] += 1
            if fate == "error_lost":
                return fate, None
            self._sequence += 1
            order = Order(request_id=request_id, phone=str(body.get("phone") or ""), fate=fate,
                          status="initiated", transaction_id=f"17{self._sequence:010d}")
            self.orders[request_id] = order
            if fate in ("delivered", "slow", "error_processed", "timeout", "reversed_later"):
                self._finish(order, "delivered")
            elif fate == "failed":
                self._finish(order, "failed")
            else:
                order.status = "pending"
            return fate, order

    def _next_fate(self) -> str:
        if self._coverage:
            return self._coverage.pop()
        return self.random.choices(list(self.fates), weights=list(self.fates.values()))[0]

    @staticmethod
    def answer(order: Order, code: str = "000") -> dict[str, Any]:
        if order.status == "failed" and order.fate == "failed":
            return {"code": "016", "response_description": "TRANSACTION FAILED",
                    "content": {"transactions": {"status": "failed", "transactionId": order.transaction_id}}}
        status = {"initiated": "pending", "failed": "reversed"}.get(order.status, order.status)
        # A pending order that failed later is reported by VTpass as reversed (money back).
        return {"code": code, "response_description": "TRANSACTION " + status.upper(), "requestId": order.request_id,
                "content": {"transactions": {"status": status, "transactionId": order.transaction_id,
                                             "total_amount": order.amount_naira, "product_name": "MTN Data"}}}


class _Handler(BaseHTTPRequestHandler):
    fake: VTpassFake
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timed out)
            pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        if self.headers.get("api-key") != API_KEY or self.headers.get("secret-key") != SECRET_KEY:
            return self._send(200, {"code": "087", "response_description": "INVALID CREDENTIALS"})
        if self.path.rstrip("/").endswith("/requery"):
            return self._requery(body)
        if not self.path.rstrip("/").endswith("/pay"):
            return self._send(404, {"code": "404"})
        fate, order = self.fake._pay(body)
        if fate == "duplicate":
            return self._send(200, {"code": "014", "response_description": "REQUEST ID ALREADY EXIST"})
        if fate in ("error_processed", "error_lost"):
            return self._send(502, b"<html>502 Bad Gateway</html>")
        if fate == "slow":
            time.sleep(SLOW)  # the provider's latency, not a test waiting
        if fate == "timeout":
            time.sleep(HANG)  # answers after the client's read timeout: the answer is lost
        assert order is not None
        with self.fake.lock:
            answer = self.fake.answer(order, "099" if order.status == "pending" else "000")
        self._send(200, answer)

    def _requery(self, body: dict[str, Any]) -> None:
        with self.fake.lock:
            self.fake.requeries += 1
            order = self.fake.orders.get(str(body.get("request_id") or ""))
            if order is None:
                return self._send(200, {"code": "015", "response_description": "INVALID REQUEST ID"})
            self._send(200, self.fake.answer(order, "000"))
