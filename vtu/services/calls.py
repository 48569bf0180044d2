"""Provider instances with a call recorder: every HTTP exchange becomes a ProviderCall row.

Adapters report each exchange to `on_call` (a `CallLog`); the recorder keeps them in memory
while the call runs (no transaction is open then) and `flush()` inserts them afterwards in
autocommit, before the answer is recorded, so the evidence survives even if recording the
answer fails. Bodies are redacted again here (defence in depth: adapters redact already).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from config import metrics
from config.logs import mask_string, redact_value
from vtu import clock
from vtu.models import ProviderCall
from vtu.providers.base import CallLog, Provider

MAX_TEXT = 4096


class CallRecorder:
    def __init__(self, *, purchase_id: int | None = None, attempt_id: int | None = None) -> None:
        self.purchase_id = purchase_id
        self.attempt_id = attempt_id
        self.logs: list[CallLog] = []

    def __call__(self, log: CallLog) -> None:
        self.logs.append(log)

    def flush(self) -> None:
        logs, self.logs = self.logs, []
        if not logs:
            return
        rows = [self._row(log) for log in logs]
        if len(rows) == 1:
            rows[0].save(force_insert=True)  # one INSERT, no BEGIN/COMMIT around it
        else:
            ProviderCall.objects.bulk_create(rows)
        for log in logs:
            outcome = _call_outcome(log)
            metrics.PROVIDER_CALL_SECONDS.labels(
                provider=log.provider, operation=log.operation, outcome=outcome
            ).observe(max(log.latency_ms, 0) / 1000)
            if outcome != "ok":
                metrics.PROVIDER_ERRORS.labels(provider=log.provider, kind=outcome).inc()

    def _row(self, log: CallLog) -> ProviderCall:
        return ProviderCall(
            provider=log.provider[:32],
            operation=log.operation[:32],
            attempt_id=self.attempt_id,
            purchase_id=self.purchase_id,
            method=log.method[:8],
            url=mask_string(log.url)[:500],
            request_body=_jsonable(log.request_body),
            status_code=log.status_code,
            response_body=_jsonable(log.response_body),
            latency_ms=max(int(log.latency_ms), 0),
            error=log.error[:64],
            request_id=log.request_id[:64],
        )


def _call_outcome(log: CallLog) -> str:
    """A bounded label: ok, http_4xx, http_5xx, or the adapter's error kind."""
    if log.error:
        return log.error[:32]
    if log.status_code is None:
        return "no_response"
    if log.status_code >= 500:
        return "http_5xx"
    if log.status_code >= 400:
        return "http_4xx"
    return "ok"


def _jsonable(value: Any) -> Any:
    value = redact_value(value)
    if isinstance(value, str):
        return mask_string(value)[:MAX_TEXT]
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return mask_string(repr(value))[:MAX_TEXT]


def provider_config(name: str) -> dict[str, Any]:
    return settings.VTU_PROVIDERS.get(name, {})


def provider_configured(name: str) -> bool:
    """Enabled in settings (credentials present, or a sandbox switched on) and known to the
    registry: a route to anything else is skipped."""
    from vtu.providers import registry

    return bool(provider_config(name).get("ENABLED")) and registry.is_registered(name)


def provider_supports(name: str, *, kind: str, network: str) -> bool:
    """Whether the adapter sells this product on this network (read from the class, so an
    unsupported product never costs an attempt)."""
    from vtu.providers import registry

    products = registry.adapter_class(name).products
    return not products or (kind, network) in products


def provider_get(name: str, recorder: CallRecorder) -> Provider:
    """The adapter, reporting its exchanges to `recorder` and reading time from vtu.clock
    (so tests that move the clock move the sandbox's "pending for N seconds" too)."""
    from vtu.providers import registry

    return registry.get_provider(name, on_call=recorder, clock=lambda: clock.now().timestamp())
