"""Prometheus metrics the code increments. Exposition (/metrics, multiprocess mode, DB-derived
gauges such as queue ages and the ledger check) is wired by the observability issue.

Label values are bounded sets (network, provider, gateway, status, reason), never ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PURCHASES = Counter(
    "vtu_purchases_total", "Purchases reaching a state", ["status", "network", "provider", "product"]
)
PROVIDER_CALL_SECONDS = Histogram(
    "vtu_provider_call_seconds", "Provider HTTP call latency", ["provider", "operation", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
PROVIDER_ERRORS = Counter("vtu_provider_errors_total", "Provider calls without a clean answer", ["provider", "kind"])
DEPOSITS = Counter("payments_deposits_total", "Deposits reaching a state", ["gateway", "status"])
WEBHOOK_DELIVERIES = Counter(
    "payments_webhook_deliveries_total", "Inbound gateway webhook POSTs by verdict", ["gateway", "verdict"]
)
LEDGER_POSTINGS = Counter("wallets_journals_total", "Journals posted", ["kind"])
TASK_FAILURES = Counter("celery_task_failures_total", "Celery task failures", ["task"])
CALLBACK_DELIVERIES = Counter("accounts_callback_attempts_total", "Reseller callback attempts", ["outcome"])
