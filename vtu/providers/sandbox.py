"""The sandbox provider: no HTTP; the outcome is chosen by the number (docs/sandbox.md).

Last four digits of the number (national form 0XXXXXXXXXX):

    0001  definitive failure (invalid recipient; no failover)
    0002  pending, then success once PENDING_SECONDS have passed
    0003  pending, then failure once PENDING_SECONDS have passed
    0004  timeout: the answer is lost (UNKNOWN, no reference); a later query says delivered
    0005  slow: answers success after SLOW_SECONDS (UNKNOWN like 0004 if that exceeds the
          read timeout)
    0006  provider unavailable before acceptance (FAILED, failover allowed)
    other success

It keeps no state and touches no database: the scenario and the creation time travel in the
provider reference (`SBX-<scenario>-<created ms>-<digest of the request id>`), so a query in
any process settles "pending then ..." by itself once enough time has passed. An attempt with
no reference (the lost answer of 0004/slow, or a worker killed mid-call) is settled through
`recheck(order)`, which answers by the number's scenario, timed from the creation time in our
request id (`sbx<created ms><hex>`); a bare `query()` without a reference cannot know the
number and is UNKNOWN. Like every sandbox it refuses to run outside DEBUG or the test suite
(config/startup.py also refuses to start with it enabled and DEBUG off).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import datetime
from typing import Any

from django.conf import settings

from accounts.phones import national
from vtu.providers.base import (
    NETWORKS,
    AirtimeOrder,
    CallLog,
    DataOrder,
    Outcome,
    Provider,
    ProviderNotConfigured,
    ProviderPlan,
    ProviderResult,
)

SUCCESS, FAILURE, PENDING_SUCCESS, PENDING_FAILURE, TIMEOUT, SLOW, UNAVAILABLE = (
    "OK", "FAIL", "PWIN", "PFAIL", "LOST", "SLOW", "DOWN",
)
SCENARIOS_BY_SUFFIX = {
    "0001": FAILURE,
    "0002": PENDING_SUCCESS,
    "0003": PENDING_FAILURE,
    "0004": TIMEOUT,
    "0005": SLOW,
    "0006": UNAVAILABLE,
}
BALANCE_KOBO = 100_000_000  # ₦1,000,000 of play money
AIRTIME_DISCOUNT_PERCENT = 2  # the sandbox charges 98% of face value for airtime

# provider_plan_id is our own stable plan code, so the sandbox maps onto the catalogue 1:1.
# (code, network, name, size MB, validity days, plan type, cost kobo)
PLANS: tuple[tuple[str, str, str, int, int, str, int], ...] = (
    ("MTN_500MB_30D", "MTN", "MTN 500MB SME (30 days)", 500, 30, "sme", 14_000),
    ("MTN_1GB_30D", "MTN", "MTN 1GB SME (30 days)", 1024, 30, "sme", 26_000),
    ("MTN_2GB_30D", "MTN", "MTN 2GB SME (30 days)", 2048, 30, "sme", 52_000),
    ("MTN_1GB_1D_GIFT", "MTN", "MTN 1GB Gifting (1 day)", 1024, 1, "gifting", 34_000),
    ("MTN_1GB_30D_CG", "MTN", "MTN 1GB Corporate gifting (30 days)", 1024, 30, "corporate", 28_000),
    ("AIRTEL_1GB_30D_CG", "AIRTEL", "Airtel 1GB Corporate gifting (30 days)", 1024, 30, "corporate", 29_000),
    ("AIRTEL_2GB_30D_CG", "AIRTEL", "Airtel 2GB Corporate gifting (30 days)", 2048, 30, "corporate", 58_000),
    ("GLO_1GB_30D_CG", "GLO", "Glo 1GB Corporate gifting (30 days)", 1024, 30, "corporate", 27_000),
    ("GLO_2GB_30D_CG", "GLO", "Glo 2GB Corporate gifting (30 days)", 2048, 30, "corporate", 54_000),
    ("9MOBILE_1GB_30D_CG", "9MOBILE", "9mobile 1GB Corporate gifting (30 days)", 1024, 30, "corporate", 30_000),
    ("9MOBILE_1_5GB_30D_GIFT", "9MOBILE", "9mobile 1.5GB Gifting (30 days)", 1536, 30, "gifting", 90_000),
)
_PLAN_BY_ID = {plan[0]: plan for plan in PLANS}
REQUEST_ID = re.compile(r"^sbx(\d{13})[0-9a-f]+$")


def scenario_for(phone_e164: str) -> str:
    return SCENARIOS_BY_SUFFIX.get(national(phone_e164)[-4:], SUCCESS)


def _digest(request_id: str) -> str:
    return hashlib.sha256(request_id.encode()).hexdigest()[:10]


class SandboxProvider(Provider):
    name = "sandbox"
    supports_query = True
    # A resend would be answered from the reference-less "lost" rule, not a real replay.
    resend_same_request_id_is_safe = False

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        if not (settings.DEBUG or settings.TESTING):
            raise ProviderNotConfigured("the sandbox provider only runs with DEBUG on (or in the test suite)")
        super().__init__(config, **kwargs)
        self.sleep = time.sleep

    # --- the interface -------------------------------------------------------------------

    def list_plans(self) -> list[ProviderPlan]:
        self._report("list_plans", {}, {"count": len(PLANS)})
        return [
            ProviderPlan(
                provider_plan_id=code, network=network, name=name, size_mb=size_mb,
                validity_days=days, plan_type=plan_type, cost_kobo=cost, extra={"code": code},
            )
            for code, network, name, size_mb, days, plan_type, cost in PLANS
        ]

    def buy_data(self, order: DataOrder) -> ProviderResult:
        plan = _PLAN_BY_ID.get(order.provider_plan_id)
        request = {"request_id": order.request_id, "phone": national(order.phone_e164), "plan": order.provider_plan_id}
        if plan is None or plan[1] != order.network:
            result = ProviderResult(Outcome.FAILED, message="Plan not available on the sandbox", failover_allowed=True)
            return self._answer("buy_data", request, result)
        return self._buy("buy_data", request, order.request_id, order.phone_e164, cost_kobo=plan[6])

    def buy_airtime(self, order: AirtimeOrder) -> ProviderResult:
        request = {"request_id": order.request_id, "phone": national(order.phone_e164), "amount_kobo": order.amount_kobo}
        if order.network not in NETWORKS or order.amount_kobo <= 0:
            result = ProviderResult(Outcome.FAILED, message="Invalid network or amount", failover_allowed=False)
            return self._answer("buy_airtime", request, result)
        cost = order.amount_kobo * (100 - AIRTIME_DISCOUNT_PERCENT) // 100
        return self._buy("buy_airtime", request, order.request_id, order.phone_e164, cost_kobo=cost)

    def new_request_id(self, *, now: datetime | None = None) -> str:
        """Carries its creation time, so an attempt without a reference can still be timed."""
        moment = now.timestamp() if now is not None else self.clock()
        return f"sbx{int(moment * 1000):013d}{secrets.token_hex(8)}"

    def recheck(self, order: DataOrder | AirtimeOrder, *, provider_reference: str = "") -> ProviderResult:
        if provider_reference:
            return self.query(request_id=order.request_id, provider_reference=provider_reference)
        # No reference: the answer was lost (0004, slow 0005) or the worker died mid-call.
        # Answer what this number's scenario comes to, never a blanket "delivered".
        request = {"request_id": order.request_id, "reference": "", "phone": national(order.phone_e164)}
        return self._answer("query", request, self._without_reference(scenario_for(order.phone_e164), order.request_id))

    def query(self, *, request_id: str, provider_reference: str = "") -> ProviderResult:
        request = {"request_id": request_id, "reference": provider_reference}
        if not provider_reference:
            result = ProviderResult(Outcome.UNKNOWN, message="Sandbox query without a reference: recheck(order) knows the number")
            return self._answer("query", request, result)
        parsed = self._parse_reference(provider_reference, request_id)
        if parsed is None:
            result = ProviderResult(Outcome.UNKNOWN, provider_reference, "Reference does not belong to this request")
            return self._answer("query", request, result)
        scenario, created = parsed
        return self._answer("query", request, self._state(scenario, created, provider_reference))

    def balance_kobo(self) -> int:
        self._report("balance", {}, {"balance_kobo": BALANCE_KOBO})
        return BALANCE_KOBO

    # --- scenarios -------------------------------------------------------------------------

    def _buy(self, operation: str, request: dict, request_id: str, phone_e164: str, *, cost_kobo: int) -> ProviderResult:
        scenario = scenario_for(phone_e164)
        if scenario == TIMEOUT:
            return self._lost(operation, request)
        if scenario == SLOW:
            slow = float(self.config.get("SLOW_SECONDS", 0))
            read_timeout = float(self.config.get("READ_TIMEOUT_SECONDS", 5))
            self.sleep(min(slow, read_timeout))
            if slow > read_timeout:
                return self._lost(operation, request)
        if scenario == UNAVAILABLE:
            result = ProviderResult(Outcome.FAILED, message="Sandbox provider unavailable", failover_allowed=True)
            return self._answer(operation, request, result)
        reference = f"SBX-{scenario}-{int(self.clock() * 1000)}-{_digest(request_id)}"
        result = self._state(scenario, self.clock(), reference)
        if result.outcome != Outcome.FAILED:
            result = ProviderResult(result.outcome, reference, result.message, cost_kobo=cost_kobo)
        return self._answer(operation, request, result)

    def _state(self, scenario: str, created: float, reference: str) -> ProviderResult:
        """The outcome of a purchase with this scenario, as seen now."""
        if scenario == FAILURE:
            return ProviderResult(Outcome.FAILED, reference, "Invalid recipient (sandbox)")
        if scenario in (PENDING_SUCCESS, PENDING_FAILURE):
            settled = self.clock() - created >= float(self.config.get("PENDING_SECONDS", 20))
            if not settled:
                return ProviderResult(Outcome.PENDING, reference, "Processing (sandbox)")
            if scenario == PENDING_FAILURE:
                return ProviderResult(Outcome.FAILED, reference, "Failed after processing (sandbox)")
        return ProviderResult(Outcome.SUCCESS, reference, "Delivered (sandbox)")

    def _without_reference(self, scenario: str, request_id: str) -> ProviderResult:
        if scenario == UNAVAILABLE:  # refused before acceptance: the provider has no such order
            return ProviderResult(Outcome.FAILED, message="No such request (sandbox: provider was unavailable)",
                                  failover_allowed=True)
        if scenario in (TIMEOUT, SLOW):
            return ProviderResult(Outcome.SUCCESS, message="Delivered (late, sandbox)")
        created = _request_id_time(request_id)
        # An id we did not mint has no creation time: "pending then ..." stays pending (staff).
        return self._state(scenario, created if created is not None else self.clock(), "")

    def _parse_reference(self, reference: str, request_id: str) -> tuple[str, float] | None:
        parts = reference.split("-")
        if len(parts) != 4 or parts[0] != "SBX" or parts[3] != _digest(request_id) or not parts[2].isdigit():
            return None
        return parts[1], int(parts[2]) / 1000

    def _lost(self, operation: str, request: dict) -> ProviderResult:
        self._report(operation, request, None, error="timeout")
        return ProviderResult(Outcome.UNKNOWN, message="No answer from the provider (sandbox timeout)")

    def _answer(self, operation: str, request: dict, result: ProviderResult) -> ProviderResult:
        response = {"outcome": str(result.outcome), "reference": result.provider_reference, "message": result.message}
        self._report(operation, request, response)
        return ProviderResult(
            result.outcome, result.provider_reference, result.message, failover_allowed=result.failover_allowed,
            cost_kobo=result.cost_kobo, raw=response,
        )

    def _report(self, operation: str, request: dict, response: Any, *, error: str = "") -> None:
        self.on_call(
            CallLog(
                provider=self.name, operation=operation, method="SANDBOX", url=f"sandbox://{operation}",
                request_body=request, status_code=None if error else 200, response_body=response,
                latency_ms=0.0, error=error, request_id=str(request.get("request_id", "")),
            )
        )


def _request_id_time(request_id: str) -> float | None:
    match = REQUEST_ID.match(request_id or "")
    return int(match.group(1)) / 1000 if match else None
