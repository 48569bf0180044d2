"""Who may open which console page, use which admin action and call which staff API
endpoint: the declarative table the permission-matrix test (test_permission_matrix.py)
checks against the admin registry and the URLconf.

Adding an admin page, an admin action, a custom admin URL or a /api/v1/admin/ endpoint
without declaring it here fails that test: declare who may see it. The table states the
intended policy; the permissions behind it are in backoffice/roles.py.

Roles: anonymous, customer (a logged-in non-staff user), and staff in one group each:
support, finance, admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

S, F, A = "support", "finance", "admin"
STAFF = frozenset({S, F, A})
NONE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ModelAccess:
    """Which staff groups may: see the change list and object pages (view), open the add
    page (add), save changes (change), delete (delete), and use each admin action."""

    view: frozenset[str]
    add: frozenset[str] = NONE
    change: frozenset[str] = NONE
    delete: frozenset[str] = NONE
    actions: dict[str, frozenset[str]] = field(default_factory=dict)


def _ro(*groups: str) -> ModelAccess:
    return ModelAccess(view=frozenset(groups))


ADMIN_ONLY = frozenset({A})
SUPPORT_ADMIN = frozenset({S, A})
FINANCE_ADMIN = frozenset({F, A})

MODELS: dict[str, ModelAccess] = {
    # accounts
    "accounts.user": ModelAccess(view=STAFF, actions={"suspend_users": SUPPORT_ADMIN, "activate_users": SUPPORT_ADMIN}),
    "accounts.apikey": ModelAccess(view=SUPPORT_ADMIN, change=ADMIN_ONLY, actions={"revoke": ADMIN_ONLY}),
    "accounts.callbackendpoint": ModelAccess(view=SUPPORT_ADMIN, change=ADMIN_ONLY, actions={"enable": ADMIN_ONLY}),
    "accounts.callbackdelivery": ModelAccess(view=SUPPORT_ADMIN, change=SUPPORT_ADMIN, actions={"resend": SUPPORT_ADMIN}),
    # Deciding KYC goes with changing tiers (backoffice.user_kyc_tier_set).
    "accounts.kycsubmission": ModelAccess(view=STAFF, actions={"approve": ADMIN_ONLY, "reject": ADMIN_ONLY}),
    # audit (read-only for everyone)
    "audit.auditlog": _ro(F, A),
    "audit.requestlog": _ro(S, A),
    # back office
    "platform.alert": ModelAccess(view=STAFF, actions={"resolve_alerts": ADMIN_ONLY}),
    # ledger (read-only: money moves through services)
    "wallets.ledgeraccount": _ro(S, F, A),
    "wallets.hold": _ro(S, F, A),
    "wallets.journal": _ro(F, A),
    "wallets.entry": _ro(F, A),
    "wallets.adjustment": ModelAccess(
        view=FINANCE_ADMIN, actions={"approve_adjustments": FINANCE_ADMIN, "reject_adjustments": FINANCE_ADMIN}),
    "wallets.ledgercheck": _ro(F, A),
    # purchases and catalogue
    "vtu.purchase": ModelAccess(view=STAFF, actions={"requery_now": STAFF}),
    "vtu.providercall": _ro(A),
    "vtu.providercallback": _ro(S, A),  # what a provider told us about a disputed purchase
    "vtu.network": ModelAccess(view=SUPPORT_ADMIN, add=ADMIN_ONLY, change=ADMIN_ONLY),
    "vtu.dataplan": ModelAccess(view=SUPPORT_ADMIN, add=ADMIN_ONLY, change=ADMIN_ONLY),
    "vtu.providerplan": ModelAccess(view=ADMIN_ONLY, add=ADMIN_ONLY, change=ADMIN_ONLY),
    "vtu.route": ModelAccess(view=ADMIN_ONLY, add=ADMIN_ONLY, change=ADMIN_ONLY),  # switched off, never deleted
    "vtu.providerstate": ModelAccess(view=FINANCE_ADMIN, change=ADMIN_ONLY, actions={"reset_circuit": ADMIN_ONLY}),
    "vtu.dispute": ModelAccess(view=STAFF, actions={"requery_disputes": STAFF}),
    # funding
    "payments.deposit": _ro(S, F, A),
    "payments.webhookdelivery": _ro(S, F, A),
    "payments.webhookevent": ModelAccess(view=STAFF, actions={"reprocess_events": FINANCE_ADMIN}),
    "payments.virtualaccount": _ro(S, F, A),
    # pricing
    # deleting is an action with a reason (no bare delete page)
    "pricing.pricingrule": ModelAccess(
        view=FINANCE_ADMIN, add=ADMIN_ONLY, change=ADMIN_ONLY,
        actions={name: ADMIN_ONLY for name in ("delete_rules", "activate", "deactivate", "set_markup")},
    ),
    # plumbing
    "auth.group": _ro(A),
    # read-only (never the key); removing devices is an audited action with a reason
    "otp_totp.totpdevice": ModelAccess(view=ADMIN_ONLY, actions={"reset_devices": ADMIN_ONLY}),
    # every change, switch and run with a reason, audited; never deleted (disable instead)
    "django_celery_beat.periodictask": ModelAccess(
        view=ADMIN_ONLY, add=ADMIN_ONLY, change=ADMIN_ONLY,
        actions={"enable_tasks": ADMIN_ONLY, "disable_tasks": ADMIN_ONLY, "run_tasks": ADMIN_ONLY},
    ),
    # schedules are added, never edited in place (a task is pointed at another one, audited)
    "django_celery_beat.intervalschedule": ModelAccess(view=ADMIN_ONLY, add=ADMIN_ONLY),
    "django_celery_beat.crontabschedule": ModelAccess(view=ADMIN_ONLY, add=ADMIN_ONLY),
    "django_celery_beat.solarschedule": _ro(A),
    "django_celery_beat.clockedschedule": _ro(A),
}

# Custom admin URLs (beyond changelist/add/change/delete/history): url name -> the status
# each staff group gets for a GET with an existing object (anonymous and customers are sent
# to the login page). The object comes from SAMPLES in the test.
CUSTOM_ADMIN_URLS: dict[str, dict[str, int]] = {
    "accounts_user_suspend": {S: 200, F: 403, A: 200},
    "accounts_user_activate": {S: 200, F: 403, A: 200},
    "accounts_user_kyc_tier": {S: 403, F: 403, A: 200},
    "accounts_user_staff_role": {S: 403, F: 403, A: 200},
    # wallets: money pages (the sample is a customer wallet / a pending adjustment)
    "wallets_ledgeraccount_adjust": {S: 403, F: 200, A: 200},
    "wallets_ledgeraccount_freeze": {S: 403, F: 200, A: 200},
    "wallets_ledgeraccount_unfreeze": {S: 403, F: 200, A: 200},
    "wallets_ledgeraccount_statement": {S: 200, F: 200, A: 200},
    "wallets_adjustment_approve": {S: 403, F: 200, A: 200},
    "wallets_adjustment_reject": {S: 403, F: 200, A: 200},
    # purchases and disputes
    "vtu_purchase_requery": {S: 200, F: 200, A: 200},
    "vtu_purchase_resolve": {S: 403, F: 200, A: 200},
    "vtu_purchase_refund": {S: 403, F: 200, A: 200},
    "vtu_dispute_requery": {S: 200, F: 200, A: 200},
    "vtu_dispute_resolve": {S: 200, F: 200, A: 200},  # a refund from it also needs purchase_refund
    # funding
    "payments_deposit_resolve": {S: 403, F: 200, A: 200},
    "payments_webhookevent_reprocess": {S: 403, F: 200, A: 200},
    # pricing
    "pricing_pricingrule_bulk_markup": {S: 403, F: 403, A: 200},
    "accounts_kycsubmission_document": {S: 404, F: 404, A: 404},  # the sample has no document file
}

# Site-wide admin URLs: url name -> status per role for a GET (app_list is derived from
# MODELS: 200 where the role sees a model of the app, else 404).
_LOGIN_REDIRECT = {"anonymous": 302, "customer": 302}
SITE_URLS: dict[str, dict[str, int]] = {
    "index": {**_LOGIN_REDIRECT, S: 200, F: 200, A: 200},
    "login": {"anonymous": 200, "customer": 200, S: 302, F: 302, A: 302},
    "logout": {**_LOGIN_REDIRECT, S: 405, F: 405, A: 405},  # POST only
    "password_change": {**_LOGIN_REDIRECT, S: 200, F: 200, A: 200},
    "password_change_done": {**_LOGIN_REDIRECT, S: 200, F: 200, A: 200},
    "jsi18n": {**_LOGIN_REDIRECT, S: 200, F: 200, A: 200},
    "autocomplete": {**_LOGIN_REDIRECT, S: 403, F: 403, A: 403},  # no field named: refused
    "view_on_site": {**_LOGIN_REDIRECT, S: 404, F: 404, A: 404},  # no model has get_absolute_url
    "otp_enrol": {**_LOGIN_REDIRECT, S: 200, F: 200, A: 200},
    "exports": {**_LOGIN_REDIRECT, S: 403, F: 200, A: 200},  # backoffice.data_export
    "app_list": {},
}

# Staff API: url name -> {method: {role: status}}, exact. The harness sends no body (and ids
# that do not exist) to endpoints it does not know how to feed, so an allowed role sees
# 400/404 there and nothing moves. A refusal is 401 NOT_AUTHENTICATED (anonymous), 403
# STAFF_ONLY (a customer) or 403 PERMISSION_DENIED (staff without the permission): the test
# checks the code too. OK ("gets past the permission check": any status but 401/403) is only
# for KNOWN_GAPS entries.
OK = "ok"
_REFUSED = {"anonymous": 401, "customer": 403}


def _api(*allowed: str, status: int) -> dict[str, int | str]:
    return {**_REFUSED, **{group: (status if group in allowed else 403) for group in (S, F, A)}}


STAFF_API: dict[str, dict[str, dict[str, int | str]]] = {
    "staff-user-suspend": {"POST": _api(S, A, status=200)},
    "staff-user-activate": {"POST": _api(S, A, status=200)},
    "staff-analytics": {"GET": _api(F, A, status=200)},
    # wallets: staff credits, debits, approvals, freezes. The harness sends an empty body and
    # ids that do not exist, so an allowed role gets the input error and nothing moves.
    "admin-fund-wallet": {"POST": _api(F, A, status=400)},
    "admin-debit-wallet": {"POST": _api(F, A, status=400)},
    "admin-adjustment-approve": {"POST": _api(F, A, status=404)},
    "admin-adjustment-reject": {"POST": _api(F, A, status=400)},
    "admin-wallet-freeze": {"POST": _api(F, A, status=400)},
    "admin-wallet-unfreeze": {"POST": _api(F, A, status=400)},
    # pricing: finance reads, admin changes
    "admin-pricing": {"GET": _api(F, A, status=200), "POST": _api(A, status=400)},
    # staff-only endpoints outside /admin/ (found by their permission class)
    "data-sync": {"POST": _api(A, status=200)},  # backoffice.provider_manage; no routes in the test database: syncs none
}

# Where an app's page or endpoint does not (yet) enforce the policy above: cell -> what it
# does today. Each entry must still be true (the test fails once it is fixed, so the entry is
# removed) and each is listed in the back-office report for the engineer who owns the page.
# Cells: "api:<url name>:<METHOD>:<role>", "page:<model>:<page>:<role>", "action:<model>:<role>".
KNOWN_GAPS: dict[str, object] = {}
