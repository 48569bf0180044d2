"""vtu services: every write of the app. Modules by concern:

- purchases  purchase_create (validation, price, hold; one transaction)
- flow       the worker: purchase_process, purchase_requery, settle_success / settle_failed
- staff      purchase_reverse, purchase_refund, purchase_resolve, purchase_requery_now
- callbacks  provider_callback_receive (inbox row; an unsigned callback only queues a requery)
- sweeper    purchases_sweep, provider_balances_check
- catalogue  network_for_number, plans_sync, plans_sync_all
- routing    candidates, circuit breaker, health score
- ledger     the purchase's money through wallets services
- calls      provider instances whose HTTP exchanges become ProviderCall rows
"""
