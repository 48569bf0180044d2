"""The fixed list of audited actions. `audit_record` refuses anything else.

Kept as a plain registry (not field choices) so adding an action needs no migration.
"""

from __future__ import annotations

ACTIONS: dict[str, str] = {
    # accounts: a user's own security events
    "user.register": "A user registered",
    "user.email_verify": "A user verified their e-mail address",
    "user.password_change": "A user changed their password",
    "user.password_reset": "A user reset a forgotten password",
    "user.pin_set": "A user set or changed their transaction PIN",
    "user.pin_locked": "A transaction PIN was locked after too many wrong attempts",
    "user.google_link": "A Google account was linked or used to create a user",
    "user.profile_update": "A user changed their profile",
    # accounts: staff on users
    "user.suspend": "Staff suspended a user",
    "user.activate": "Staff re-activated a user",
    "user.kyc_tier_change": "Staff changed a user's KYC tier",
    "user.update": "Staff changed a user",
    "user.role_change": "Staff changed a user's role",
    "kyc.submit": "A user submitted KYC",
    "kyc.approve": "Staff approved a KYC submission",
    "kyc.reject": "Staff rejected a KYC submission",
    # API keys and reseller callbacks
    "api_key.create": "An API key was created",
    "api_key.revoke": "An API key was revoked",
    "api_key.rollover": "An API key was rolled over",
    "callback_endpoint.create": "A callback endpoint was created",
    "callback_endpoint.delete": "A callback endpoint was deleted",
    "callback_endpoint.disable": "A callback endpoint was disabled after failing",
    "callback_endpoint.enable": "Staff re-enabled a disabled callback endpoint",
    "callback_delivery.resend": "A callback delivery was re-sent",
    # wallets: money
    "wallet.open": "A wallet was opened",
    "wallet.freeze": "A wallet was frozen",
    "wallet.unfreeze": "A wallet was unfrozen",
    "journal.post": "A journal was posted",
    "journal.reverse": "A journal was reversed",
    "transfer.create": "A wallet transfer was made",
    "adjustment.request": "Staff requested a wallet credit or debit",
    "adjustment.approve": "Staff approved a wallet adjustment",
    "adjustment.reject": "Staff rejected a wallet adjustment",
    "adjustment.post": "A wallet adjustment was posted",
    "ledger.finding": "The ledger check found a problem",
    "hold.place": "Funds were held on a wallet",
    "hold.capture": "A hold was captured",
    "hold.release": "A hold was released",
    "chargeback.post": "A chargeback was posted against a wallet",
    # payments
    "deposit.credit": "A deposit was credited",
    "deposit.reverse": "A deposit was reversed (refund or chargeback)",
    "deposit.review": "A deposit was flagged for review",
    "deposit.resolve": "Staff resolved a deposit",
    "webhook_event.reprocess": "Staff re-processed a webhook event",
    "virtual_account.create": "A virtual account was assigned",
    # vtu
    "purchase.requery": "Staff requeried a purchase",
    "purchase.resolve": "Staff resolved a purchase",
    "purchase.refund": "A purchase was refunded",
    "purchase.reverse": "A provider reversal was posted",
    "dispute.open": "A customer disputed a purchase",
    "dispute.resolve": "Staff resolved a dispute",
    "plan.create": "Staff added a data plan",
    "plan.update": "Staff changed a data plan",
    "network.create": "Staff added a network",
    "network.update": "Staff changed a network",
    "provider.update": "Staff changed a provider setting",
    "provider_plan.create": "Staff added a provider plan mapping",
    "provider_plan.update": "Staff changed a provider plan mapping",
    "routing.create": "Staff added a provider route",
    "routing.update": "Staff changed provider routing",
    "circuit.reset": "Staff reset a provider's circuit breaker",
    "catalogue.sync": "Plans were synced from a provider",
    # pricing
    "pricing_rule.create": "A pricing rule was created",
    "pricing_rule.update": "A pricing rule was changed",
    "pricing_rule.delete": "A pricing rule was deleted",
    "pricing_rule.bulk_update": "Pricing rules were changed in bulk",
    # staff
    "staff.login": "A staff member logged in (console or API)",
    "staff.role_set": "An administrator made a user staff, changed their staff group or removed staff access",
    "staff.export": "Staff exported data",
    "staff.otp_enrol": "A staff member's two-factor device was enrolled",
    "staff.otp_reset": "A staff member's two-factor devices were removed",
    "alert.resolve": "Staff marked an operator alert resolved",
}
