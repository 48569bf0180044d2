"""The periodic tasks beat runs (django-celery-beat; editable in the admin afterwards).

`manage.py schedule_install` creates the missing entries and never overwrites an entry a
staff member edited. Tasks are named, not imported, so this module stays at the bottom layer.
"""

from __future__ import annotations

# name -> (task, every N seconds)
PERIODIC_TASKS: dict[str, tuple[str, int]] = {
    "Prune expired Idempotency-Keys": ("config.tasks.idempotency_prune", 3600),
    "Ledger invariant check": ("wallets.tasks.ledger_check", 900),
    "Purchases: requery due, re-dispatch stuck pending, flag past SLA": ("vtu.tasks.purchases_sweep", 30),
    "Plans: sync from providers": ("vtu.tasks.plans_sync", 6 * 3600),
    "Providers: balance check and low-float alert": ("vtu.tasks.provider_balances_check", 900),
    "Deposits: verify stale, abandon old, re-process unprocessed events": ("payments.tasks.deposits_sweep", 120),
    "Reseller callbacks: send due deliveries": ("accounts.tasks.callbacks_sweep", 30),
    "API keys: flush last-used times": ("accounts.tasks.api_key_usage_flush", 60),
    "Audit: prune the API request log": ("audit.tasks.request_log_prune", 24 * 3600),
}
